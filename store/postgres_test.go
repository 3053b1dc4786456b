package store

import (
	"context"
	"database/sql"
	"fmt"
	"github.com/setbridge/setbridge/internal/peers"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
)

// The PostgreSQL half of the suite runs against, in order of preference:
//
//   - the server at SETBRIDGE_PG_DSN (a postgres:// URL whose user may
//     create schemas);
//   - a throwaway server the tests start from Debian's binaries
//     (/usr/lib/postgresql/<v>/bin): initdb into a temporary directory and
//     postgres on a free loopback port, as an unprivileged user (via
//     runuser when the tests run as root, since initdb refuses root);
//   - nothing: the PostgreSQL subtests skip with the reason, or fail when
//     SETBRIDGE_REQUIRE_PG=1.
//
// Each test gets its own schema (search_path), dropped at its end.

// pgServer is the shared server, started on first use by pgAdminDSN and
// stopped by TestMain.
var pgServer struct {
	once   sync.Once
	dsn    string // admin DSN, "" if unavailable
	reason string // why it is unavailable
	stop   func()
	n      atomic.Int64 // schemas made
}

func TestMain(m *testing.M) {
	code := m.Run()
	if pgServer.stop != nil {
		pgServer.stop()
	}
	os.Exit(code)
}

// pgAdminDSN returns the DSN of the test server, starting it if need be,
// or skips (fails under SETBRIDGE_REQUIRE_PG=1) when there is none.
func pgAdminDSN(t *testing.T) string {
	t.Helper()
	pgServer.once.Do(func() {
		if dsn := os.Getenv("SETBRIDGE_PG_DSN"); dsn != "" {
			pgServer.dsn = dsn
			return
		}
		dsn, stop, err := peers.StartPostgres()
		if err != nil {
			pgServer.reason = err.Error()
			return
		}
		pgServer.dsn, pgServer.stop = dsn, stop
	})
	if pgServer.dsn == "" {
		if os.Getenv("SETBRIDGE_REQUIRE_PG") == "1" {
			t.Fatalf("PostgreSQL required (SETBRIDGE_REQUIRE_PG=1) but unavailable: %s", pgServer.reason)
		}
		t.Skipf("no PostgreSQL: %s (set SETBRIDGE_PG_DSN, or install Debian's postgresql package)", pgServer.reason)
	}
	return pgServer.dsn
}

// pgDSN returns a DSN whose search_path is a fresh schema, dropped when
// the test ends.
func pgDSN(t *testing.T) string {
	t.Helper()
	admin := pgAdminDSN(t)
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("SETBRIDGE_PG_DSN must be a postgres:// URL, got %q", admin)
	}
	schema := fmt.Sprintf("setbridge_test_%d_%d", os.Getpid(), pgServer.n.Add(1))
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		_ = db.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := db.ExecContext(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema: %v", err)
		}
		_ = db.Close()
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
