package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// migrationFiles are the schema's migrations: NNNN_name.sql, numbered from
// 1 without gaps, in the SQL both engines accept. Never edit one that has
// shipped: add the next.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// advisoryLockKey is the PostgreSQL advisory lock that serialises
// migrations between processes ("setbridg" in ASCII).
const advisoryLockKey int64 = 0x7365746272696467

// migration is one file of migrations/.
type migration struct {
	version    int
	name       string
	statements []string
}

// Migration is a migration applied to a database.
type Migration struct {
	Version   int
	Name      string
	AppliedAt time.Time
}

// loadMigrations reads and checks the embedded migrations.
func loadMigrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("migration %s: name is not NNNN_name.sql", e.Name())
		}
		body, err := fs.ReadFile(migrationFiles, path.Join("migrations", e.Name()))
		if err != nil {
			return nil, err
		}
		stmts := splitStatements(string(body))
		if len(stmts) == 0 {
			return nil, fmt.Errorf("migration %s: no statements", e.Name())
		}
		out = append(out, migration{version: v, name: strings.TrimSuffix(e.Name(), ".sql"), statements: stmts})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: want version %d (versions run from 1 without gaps)", m.name, i+1)
		}
	}
	return out, nil
}

// migrate applies the missing migrations in one transaction and returns
// their versions.
func (s *Store) migrate(ctx context.Context) ([]int, error) {
	ms, err := loadMigrations()
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if s.dialect == dialectPostgres {
		// Held until the transaction ends: a second process waits here,
		// then finds the schema up to date.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, advisoryLockKey); err != nil {
			return nil, fmt.Errorf("migrate: lock: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at BIGINT NOT NULL
	)`); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	var have int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	if have > len(ms) {
		return nil, fmt.Errorf("%w: version %d, this program knows %d", ErrSchemaTooNew, have, len(ms))
	}
	var applied []int
	for _, m := range ms[have:] {
		for _, stmt := range m.statements {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return nil, fmt.Errorf("migrate to version %d (%s): %w", m.version, m.name, err)
			}
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`),
			m.version, m.name, s.clock.Now().UnixNano()); err != nil {
			return nil, fmt.Errorf("migrate to version %d (%s): %w", m.version, m.name, err)
		}
		applied = append(applied, m.version)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("migrate: commit: %w", err)
	}
	return applied, nil
}

// Migrations lists the migrations applied to the database, oldest first.
func (s *Store) Migrations(ctx context.Context) ([]Migration, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT version, name, applied_at FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", s.fail(err))
	}
	defer rows.Close()
	var out []Migration
	for rows.Next() {
		var m Migration
		var at int64
		if err := rows.Scan(&m.Version, &m.Name, &at); err != nil {
			return nil, fmt.Errorf("list migrations: %w", err)
		}
		m.AppliedAt = time.Unix(0, at).UTC()
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list migrations: %w", s.fail(err))
	}
	return out, nil
}

// splitStatements cuts a migration file into statements at the semicolons
// that are outside quotes and comments, dropping the comments.
func splitStatements(src string) []string {
	var out []string
	var cur strings.Builder
	flush := func() {
		if stmt := strings.TrimSpace(cur.String()); stmt != "" {
			out = append(out, stmt)
		}
		cur.Reset()
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(src) && src[j] != c {
				j++
			}
			if j < len(src) {
				j++ // the closing quote
			}
			cur.WriteString(src[i:j]) // a doubled quote reads as two strings: same text
			i = j - 1
		case c == '-' && strings.HasPrefix(src[i:], "--"):
			end := strings.IndexByte(src[i:], '\n')
			if end < 0 {
				return appendLast(out, cur.String())
			}
			i += end - 1 // keep the newline
		case c == '/' && strings.HasPrefix(src[i:], "/*"):
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return appendLast(out, cur.String())
			}
			cur.WriteByte(' ')
			i += end + 3
		case c == ';':
			flush()
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	return out
}

func appendLast(out []string, rest string) []string {
	if stmt := strings.TrimSpace(rest); stmt != "" {
		out = append(out, stmt)
	}
	return out
}
