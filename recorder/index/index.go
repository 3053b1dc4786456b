// Package index keeps the list of recordings in an embedded SQLite
// database (modernc.org/sqlite, no cgo), so that they can be listed by
// room and time without reading every manifest. The manifests stay the
// source of truth: an index can be rebuilt from them.
//
// The schema is versioned: schema_migrations lists the migrations applied,
// and Open applies the missing ones in a transaction.
package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/setbridge/setbridge/recorder"
)

var (
	// ErrNotFound is returned by Get for an id the index does not hold.
	ErrNotFound = errors.New("index: recording not found")
	// ErrSchemaTooNew is returned by Open for a database migrated by a
	// newer setbridge.
	ErrSchemaTooNew = errors.New("index: database schema is newer than this program")
)

// migrations are applied in order; migration i brings the schema to
// version i+1. Never edit one that has shipped: append a new one.
var migrations = []string{
	`CREATE TABLE recordings (
		id         TEXT PRIMARY KEY,
		room       TEXT NOT NULL,
		status     TEXT NOT NULL,
		error      TEXT NOT NULL DEFAULT '',
		rate       INTEGER NOT NULL,
		start_tick INTEGER NOT NULL,
		stop_tick  INTEGER NOT NULL,
		frames     INTEGER NOT NULL,
		started_at INTEGER,          -- Unix nanoseconds, UTC; NULL if unknown
		stopped_at INTEGER,
		segments   INTEGER NOT NULL,
		bytes      INTEGER NOT NULL,
		dir        TEXT NOT NULL,
		updated_at INTEGER NOT NULL
	);
	CREATE INDEX recordings_room_started ON recordings (room, started_at);
	CREATE INDEX recordings_started ON recordings (started_at);`,
}

// Index is a database of recordings. It is safe for concurrent use.
type Index struct {
	db  *sql.DB
	now func() time.Time
}

// Open opens (creating it if needed) the index database at path and
// brings its schema up to date.
func Open(ctx context.Context, path string) (*Index, error) {
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open index %s: %w", path, err)
	}
	x := &Index{db: db, now: time.Now}
	if err := x.migrate(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open index %s: %w", path, err)
	}
	return x, nil
}

// Close closes the database.
func (x *Index) Close() error { return x.db.Close() }

func (x *Index) migrate(ctx context.Context) error {
	tx, err := x.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at INTEGER NOT NULL
	)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var have int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if have > len(migrations) {
		return fmt.Errorf("%w: version %d, this program knows %d", ErrSchemaTooNew, have, len(migrations))
	}
	for v := have + 1; v <= len(migrations); v++ {
		if _, err := tx.ExecContext(ctx, migrations[v-1]); err != nil {
			return fmt.Errorf("migrate to version %d: %w", v, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
			v, x.now().UnixNano()); err != nil {
			return fmt.Errorf("migrate to version %d: %w", v, err)
		}
	}
	return tx.Commit()
}

// SchemaVersion returns the version of the database's schema.
func (x *Index) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := x.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

// Put adds a recording or replaces what the index holds about it.
func (x *Index) Put(ctx context.Context, s recorder.Summary) error {
	if s.ID == "" {
		return errors.New("index put: empty id")
	}
	for _, v := range []uint64{s.StartTick, s.StopTick, s.Frames} {
		if v > math.MaxInt64 {
			return fmt.Errorf("index put %s: tick %d out of range", s.ID, v)
		}
	}
	_, err := x.db.ExecContext(ctx, `INSERT INTO recordings
		(id, room, status, error, rate, start_tick, stop_tick, frames, started_at, stopped_at, segments, bytes, dir, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET
			room = excluded.room, status = excluded.status, error = excluded.error, rate = excluded.rate,
			start_tick = excluded.start_tick, stop_tick = excluded.stop_tick, frames = excluded.frames,
			started_at = excluded.started_at, stopped_at = excluded.stopped_at,
			segments = excluded.segments, bytes = excluded.bytes, dir = excluded.dir, updated_at = excluded.updated_at`,
		s.ID, string(s.Room), string(s.Status), s.Error, s.Rate, int64(s.StartTick), int64(s.StopTick), int64(s.Frames),
		nanos(s.StartedAt), nanos(s.StoppedAt), s.Segments, s.Bytes, s.Dir, x.now().UnixNano())
	if err != nil {
		return fmt.Errorf("index put %s: %w", s.ID, err)
	}
	return nil
}

// Get returns the recording id, or ErrNotFound.
func (x *Index) Get(ctx context.Context, id string) (recorder.Summary, error) {
	rows, err := x.db.QueryContext(ctx, selectSummary+` WHERE id = ?`, id)
	if err != nil {
		return recorder.Summary{}, fmt.Errorf("index get %s: %w", id, err)
	}
	list, err := scan(rows)
	if err != nil {
		return recorder.Summary{}, fmt.Errorf("index get %s: %w", id, err)
	}
	if len(list) == 0 {
		return recorder.Summary{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return list[0], nil
}

// Filter selects recordings for List. Zero fields select everything.
type Filter struct {
	Room   recorder.RoomID
	Status recorder.State
	// From and To bound the start time: From <= started_at < To.
	// Recordings whose start time is unknown match only unbounded filters.
	From, To time.Time
	// Limit caps the number of results (0: no limit).
	Limit int
}

// List returns the recordings f selects, oldest first (by start time, then
// id).
func (x *Index) List(ctx context.Context, f Filter) ([]recorder.Summary, error) {
	var (
		where []string
		args  []any
	)
	if f.Room != "" {
		where, args = append(where, "room = ?"), append(args, string(f.Room))
	}
	if f.Status != "" {
		where, args = append(where, "status = ?"), append(args, string(f.Status))
	}
	if !f.From.IsZero() {
		where, args = append(where, "started_at >= ?"), append(args, f.From.UnixNano())
	}
	if !f.To.IsZero() {
		where, args = append(where, "started_at < ?"), append(args, f.To.UnixNano())
	}
	q := selectSummary
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY started_at, id"
	if f.Limit > 0 {
		q += " LIMIT ?"
		args = append(args, f.Limit)
	}
	rows, err := x.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("index list: %w", err)
	}
	list, err := scan(rows)
	if err != nil {
		return nil, fmt.Errorf("index list: %w", err)
	}
	return list, nil
}

const selectSummary = `SELECT id, room, status, error, rate, start_tick, stop_tick, frames,
	started_at, stopped_at, segments, bytes, dir FROM recordings`

func scan(rows *sql.Rows) ([]recorder.Summary, error) {
	defer rows.Close()
	var out []recorder.Summary
	for rows.Next() {
		var (
			s                    recorder.Summary
			room, status         string
			start, stop, frames  int64
			startedAt, stoppedAt sql.NullInt64
		)
		if err := rows.Scan(&s.ID, &room, &status, &s.Error, &s.Rate, &start, &stop, &frames,
			&startedAt, &stoppedAt, &s.Segments, &s.Bytes, &s.Dir); err != nil {
			return nil, err
		}
		s.Room, s.Status = recorder.RoomID(room), recorder.State(status)
		s.StartTick, s.StopTick, s.Frames = uint64(start), uint64(stop), uint64(frames)
		s.StartedAt, s.StoppedAt = fromNanos(startedAt), fromNanos(stoppedAt)
		out = append(out, s)
	}
	return out, rows.Err()
}

func nanos(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixNano(), Valid: true}
}

func fromNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}
