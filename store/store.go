package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/setbridge/setbridge/media"
)

// dialect is the SQL engine behind a Store.
type dialect int

const (
	dialectSQLite dialect = iota
	dialectPostgres
)

func (d dialect) String() string {
	if d == dialectPostgres {
		return "postgres"
	}
	return "sqlite"
}

// driverName is the database/sql driver for d.
func (d dialect) driverName() string {
	if d == dialectPostgres {
		return "pgx"
	}
	return "sqlite"
}

// Store is the room configuration database. It is safe for concurrent use.
type Store struct {
	db      *sql.DB
	dialect dialect
	clock   media.Clock
	log     *slog.Logger
	closed  atomic.Bool
	// applied lists the migrations that Open applied (none when the
	// schema was up to date).
	applied []int
}

// Option configures Open.
type Option func(*options)

type options struct {
	clock media.Clock
	log   *slog.Logger
}

// WithClock sets the clock that stamps created_at and updated_at
// (default the system clock).
func WithClock(c media.Clock) Option { return func(o *options) { o.clock = c } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// Open opens the database named by dsn and brings its schema up to date.
//
// A dsn of the form sqlite:///path/to/file.db, sqlite:path or a plain path
// opens (creating it if needed) a SQLite file; postgres://… or
// postgresql://… connects to PostgreSQL with pgx (any parameter pgx
// accepts, such as sslmode or search_path, may be given).
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	o := options{clock: media.SystemClock{}, log: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	d, driverDSN, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open(d.driverName(), driverDSN)
	if err != nil {
		return nil, fmt.Errorf("open %s store: %w", d, err)
	}
	s := &Store{db: db, dialect: d, clock: o.clock, log: o.log.With("component", "store", "engine", d.String())}
	// Two processes creating the same SQLite file at once can find it
	// locked while the other switches it to WAL, which SQLite reports at
	// once rather than through the busy timeout: take turns.
	for try := 0; ; try++ {
		s.applied, err = s.migrate(ctx)
		if err == nil || d != dialectSQLite || try == 50 || !strings.Contains(err.Error(), "SQLITE_BUSY") {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(10+try*10) * time.Millisecond):
			continue
		}
		break
	}
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open %s store: %w", d, err)
	}
	if len(s.applied) > 0 {
		s.log.Info("store schema migrated", "versions", s.applied)
	}
	return s, nil
}

// parseDSN returns the dialect and the driver's data source name for dsn.
func parseDSN(dsn string) (dialect, string, error) {
	switch {
	case dsn == "":
		return 0, "", fmt.Errorf("%w: empty", ErrDSN)
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return dialectPostgres, dsn, nil
	case strings.HasPrefix(dsn, "sqlite://"):
		return sqliteDSN(strings.TrimPrefix(dsn, "sqlite://"))
	case strings.HasPrefix(dsn, "sqlite:"):
		return sqliteDSN(strings.TrimPrefix(dsn, "sqlite:"))
	case strings.Contains(dsn, "://"):
		scheme, _, _ := strings.Cut(dsn, "://")
		return 0, "", fmt.Errorf("%w: unknown scheme %q (want sqlite or postgres)", ErrDSN, scheme)
	default:
		return sqliteDSN(dsn)
	}
}

// sqliteDSN is modernc's name for the file at path: WAL, a busy timeout
// so that writers wait for each other, and BEGIN IMMEDIATE so that two
// processes migrating the same file take turns instead of failing.
func sqliteDSN(path string) (dialect, string, error) {
	if path == "" {
		return 0, "", fmt.Errorf("%w: no sqlite file", ErrDSN)
	}
	return dialectSQLite, "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate", nil
}

// Close closes the database. Every later call returns ErrClosed.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return s.db.Close()
}

// Engine reports "sqlite" or "postgres".
func (s *Store) Engine() string { return s.dialect.String() }

// q rewrites a query written with ? placeholders for the store's engine.
func (s *Store) q(query string) string {
	if s.dialect == dialectPostgres {
		return rebindDollar(query)
	}
	return query
}

// check returns ErrClosed once the store is closed.
func (s *Store) check() error {
	if s.closed.Load() {
		return ErrClosed
	}
	return nil
}

// fail turns a database error into the store's: ErrClosed if the store
// was closed meanwhile, else err unchanged.
func (s *Store) fail(err error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return err
}

// rebindDollar replaces each ? outside quotes and comments by $1, $2, …
func rebindDollar(query string) string {
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	var quote byte // the open quote, 0 outside
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
