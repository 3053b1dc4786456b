package store

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseDSN(t *testing.T) {
	tests := []struct {
		give        string
		wantDialect dialect
		wantPrefix  string
		wantErr     error
	}{
		{give: "sqlite:///var/lib/setbridge/rooms.db", wantDialect: dialectSQLite, wantPrefix: "file:/var/lib/setbridge/rooms.db?"},
		{give: "sqlite:rooms.db", wantDialect: dialectSQLite, wantPrefix: "file:rooms.db?"},
		{give: "/tmp/a b.db", wantDialect: dialectSQLite, wantPrefix: "file:/tmp/a%20b.db?"},
		{give: "postgres://u@db/setbridge?sslmode=disable", wantDialect: dialectPostgres, wantPrefix: "postgres://u@db/setbridge?sslmode=disable"},
		{give: "postgresql://db/setbridge", wantDialect: dialectPostgres, wantPrefix: "postgresql://db/setbridge"},
		{give: "", wantErr: ErrDSN},
		{give: "sqlite://", wantErr: ErrDSN},
		{give: "mysql://db/x", wantErr: ErrDSN},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			d, dsn, err := parseDSN(tt.give)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && (d != tt.wantDialect || !strings.HasPrefix(dsn, tt.wantPrefix)) {
				t.Errorf("got %v %q, want %v %q…", d, dsn, tt.wantDialect, tt.wantPrefix)
			}
		})
	}
}

func TestRebindDollar(t *testing.T) {
	give := `UPDATE t SET a = ?, b = '?', "c?" = ? WHERE id = ?`
	want := `UPDATE t SET a = $1, b = '?', "c?" = $2 WHERE id = $3`
	if got := rebindDollar(give); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestSplitStatements(t *testing.T) {
	give := `-- a comment; with a semicolon
CREATE TABLE a (x TEXT DEFAULT 'a;b', y TEXT DEFAULT 'it''s'); /* block; */
CREATE INDEX i ON a (x) -- trailing
;
-- only a comment at the end;`
	want := []string{
		"CREATE TABLE a (x TEXT DEFAULT 'a;b', y TEXT DEFAULT 'it''s')",
		"CREATE INDEX i ON a (x)",
	}
	if got := splitStatements(give); !slices.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestEmbeddedMigrations(t *testing.T) {
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || ms[0].version != 1 || ms[0].name != "0001_rooms" {
		t.Errorf("migrations = %+v", ms)
	}
}
