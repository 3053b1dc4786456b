package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/setbridge/setbridge/ivr"
)

// Room is a conference room as stored. PINs are kept only as hashes
// (ivr.HashPIN); an empty hash means no PIN.
type Room struct {
	ID string
	// ConferenceNumber is what callers enter at the IVR; empty for none.
	// Non-empty numbers are unique across rooms.
	ConferenceNumber string
	PINHash          string
	ModeratorPINHash string
	// Locked rooms admit moderators only.
	Locked bool
	// EntryTones plays a tone to the others when someone joins or leaves.
	// The store keeps what it is given: callers apply the default (true).
	EntryTones bool
	// Record records the room from its first join to its last leave.
	Record bool
	// RecordTracks adds one track per participant to the recordings.
	RecordTracks bool
	// CreatedAt and UpdatedAt are set by the store; what the caller puts
	// there is ignored.
	CreatedAt time.Time
	UpdatedAt time.Time
}

// validate refuses what must not reach the database.
func (r Room) validate() error {
	if r.ID == "" {
		return fmt.Errorf("%w: empty id", ErrInvalid)
	}
	for _, h := range []struct{ name, hash string }{{"pin", r.PINHash}, {"moderator pin", r.ModeratorPINHash}} {
		if h.hash != "" && !ivr.ValidPINHash(h.hash) {
			return fmt.Errorf("%w: %s is not a PIN hash (hash it with ivr.HashPIN)", ErrInvalid, h.name)
		}
	}
	return nil
}

const roomColumns = `id, conference_number, pin_hash, moderator_pin_hash, locked, entry_tones, record, record_tracks, created_at, updated_at`

// CreateRoom adds a room: ErrExists if its id is taken, else
// ErrNumberInUse if its conference number is; ErrInvalid if it cannot be
// stored.
func (s *Store) CreateRoom(ctx context.Context, r Room) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := r.validate(); err != nil {
		return fmt.Errorf("create room %s: %w", r.ID, err)
	}
	now := s.clock.Now().UnixNano()
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO rooms (`+roomColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		r.ID, r.ConferenceNumber, r.PINHash, r.ModeratorPINHash, r.Locked, r.EntryTones, r.Record, r.RecordTracks, now, now)
	if err != nil {
		err = s.conflict(err)
		if errors.Is(err, ErrNumberInUse) {
			// Both engines may check the number first: a taken id wins,
			// whichever the engine found.
			if _, getErr := s.one(ctx, `WHERE id = ?`, r.ID); getErr == nil {
				err = ErrExists
			}
		}
		return fmt.Errorf("create room %s: %w", r.ID, err)
	}
	return nil
}

// GetRoom returns the room id, or ErrNotFound.
func (s *Store) GetRoom(ctx context.Context, id string) (Room, error) {
	r, err := s.one(ctx, `WHERE id = ?`, id)
	if err != nil {
		return Room{}, fmt.Errorf("get room %s: %w", id, err)
	}
	return r, nil
}

// RoomByNumber returns the room with the conference number, or
// ErrNotFound (always, for an empty number).
func (s *Store) RoomByNumber(ctx context.Context, number string) (Room, error) {
	if number == "" {
		if err := s.check(); err != nil {
			return Room{}, err
		}
		return Room{}, fmt.Errorf("room by number: empty number: %w", ErrNotFound)
	}
	r, err := s.one(ctx, `WHERE conference_number = ?`, number)
	if err != nil {
		return Room{}, fmt.Errorf("room by number %s: %w", number, err)
	}
	return r, nil
}

// ListRooms returns every room, by id.
func (s *Store) ListRooms(ctx context.Context) ([]Room, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+roomColumns+` FROM rooms ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list rooms: %w", s.fail(err))
	}
	out, err := scanRooms(rows)
	if err != nil {
		return nil, fmt.Errorf("list rooms: %w", s.fail(err))
	}
	return out, nil
}

// UpdateRoom replaces everything stored about the room r.ID but its
// creation time: ErrNotFound if there is no such room, ErrNumberInUse if
// another room has its conference number.
func (s *Store) UpdateRoom(ctx context.Context, r Room) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := r.validate(); err != nil {
		return fmt.Errorf("update room %s: %w", r.ID, err)
	}
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE rooms SET
		conference_number = ?, pin_hash = ?, moderator_pin_hash = ?,
		locked = ?, entry_tones = ?, record = ?, record_tracks = ?, updated_at = ?
		WHERE id = ?`),
		r.ConferenceNumber, r.PINHash, r.ModeratorPINHash, r.Locked, r.EntryTones, r.Record, r.RecordTracks,
		s.clock.Now().UnixNano(), r.ID)
	if err != nil {
		return fmt.Errorf("update room %s: %w", r.ID, s.conflict(err))
	}
	return s.affected(res, "update room", r.ID)
}

// SetLocked locks or unlocks a room, or returns ErrNotFound.
func (s *Store) SetLocked(ctx context.Context, id string, locked bool) error {
	if err := s.check(); err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE rooms SET locked = ?, updated_at = ? WHERE id = ?`),
		locked, s.clock.Now().UnixNano(), id)
	if err != nil {
		return fmt.Errorf("lock room %s: %w", id, s.fail(err))
	}
	return s.affected(res, "lock room", id)
}

// DeleteRoom removes a room, freeing its conference number, or returns
// ErrNotFound.
func (s *Store) DeleteRoom(ctx context.Context, id string) error {
	if err := s.check(); err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM rooms WHERE id = ?`), id)
	if err != nil {
		return fmt.Errorf("delete room %s: %w", id, s.fail(err))
	}
	return s.affected(res, "delete room", id)
}

// one returns the single room that where selects.
func (s *Store) one(ctx context.Context, where string, arg any) (Room, error) {
	if err := s.check(); err != nil {
		return Room{}, err
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+roomColumns+` FROM rooms `+where), arg)
	if err != nil {
		return Room{}, s.fail(err)
	}
	rooms, err := scanRooms(rows)
	if err != nil {
		return Room{}, s.fail(err)
	}
	if len(rooms) == 0 {
		return Room{}, ErrNotFound
	}
	return rooms[0], nil
}

func scanRooms(rows *sql.Rows) ([]Room, error) {
	defer rows.Close()
	var out []Room
	for rows.Next() {
		var r Room
		var created, updated int64
		if err := rows.Scan(&r.ID, &r.ConferenceNumber, &r.PINHash, &r.ModeratorPINHash,
			&r.Locked, &r.EntryTones, &r.Record, &r.RecordTracks, &created, &updated); err != nil {
			return nil, err
		}
		r.CreatedAt, r.UpdatedAt = time.Unix(0, created).UTC(), time.Unix(0, updated).UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// affected returns ErrNotFound when res touched no row.
func (s *Store) affected(res sql.Result, op, id string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s %s: %w", op, id, s.fail(err))
	}
	if n == 0 {
		return fmt.Errorf("%s %s: %w", op, id, ErrNotFound)
	}
	return nil
}

// conflict maps a unique-constraint violation to ErrExists (the id) or
// ErrNumberInUse (the conference number), the same on both engines.
func (s *Store) conflict(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" { // unique_violation
		switch pgErr.ConstraintName {
		case "rooms_pkey":
			return ErrExists
		case "rooms_conference_number":
			return ErrNumberInUse
		}
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		switch code := liteErr.Code(); {
		case code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return ErrExists
		case code == sqlite3.SQLITE_CONSTRAINT_UNIQUE && strings.Contains(liteErr.Error(), "rooms.conference_number"):
			return ErrNumberInUse
		case code == sqlite3.SQLITE_CONSTRAINT_UNIQUE && strings.Contains(liteErr.Error(), "rooms.id"):
			return ErrExists
		}
	}
	return s.fail(err)
}
