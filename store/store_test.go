package store

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/setbridge/setbridge/ivr"
	"github.com/setbridge/setbridge/media"
)

var (
	start = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	quiet = slog.New(slog.DiscardHandler)
)

// engines runs f once per engine, each in its own subtest with a fresh
// database.
func engines(t *testing.T, f func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) {
		f(t, "sqlite://"+filepath.Join(t.TempDir(), "rooms.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		f(t, pgDSN(t))
	})
}

func open(t *testing.T, dsn string, clock media.Clock) *Store {
	t.Helper()
	s, err := Open(context.Background(), dsn, WithClock(clock), WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func hash(t *testing.T, pin string) string {
	t.Helper()
	h, err := ivr.HashPIN(pin)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestRoomLifecycle(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		clock := media.NewFakeClock(start)
		s := open(t, dsn, clock)

		give := Room{
			ID: "board", ConferenceNumber: "4711",
			PINHash: hash(t, "1234"), ModeratorPINHash: hash(t, "9999"),
			EntryTones: true, Record: true, RecordTracks: true,
		}
		if err := s.CreateRoom(ctx, give); err != nil {
			t.Fatal(err)
		}
		want := give
		want.CreatedAt, want.UpdatedAt = start, start
		got, err := s.GetRoom(ctx, "board")
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("get room:\n got %+v\nwant %+v", got, want)
		}
		if !ivr.VerifyPIN(got.PINHash, "1234") || !ivr.VerifyPIN(got.ModeratorPINHash, "9999") {
			t.Error("stored hashes do not verify the PINs")
		}
		if got, err := s.RoomByNumber(ctx, "4711"); err != nil || got.ID != "board" {
			t.Errorf("room by number = %+v, %v", got, err)
		}

		if err := s.CreateRoom(ctx, Room{ID: "all-hands"}); err != nil {
			t.Fatal(err)
		}
		rooms, err := s.ListRooms(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ids := roomIDs(rooms); !slices.Equal(ids, []string{"all-hands", "board"}) {
			t.Errorf("list = %v, want by id", ids)
		}

		clock.Advance(time.Minute)
		upd := got
		upd.ConferenceNumber, upd.PINHash, upd.EntryTones, upd.Record = "4712", "", false, false
		upd.CreatedAt = time.Time{} // ignored
		if err := s.UpdateRoom(ctx, upd); err != nil {
			t.Fatal(err)
		}
		got, err = s.GetRoom(ctx, "board")
		if err != nil {
			t.Fatal(err)
		}
		want = upd
		want.CreatedAt, want.UpdatedAt = start, start.Add(time.Minute)
		if got != want {
			t.Fatalf("after update:\n got %+v\nwant %+v", got, want)
		}
		if _, err := s.RoomByNumber(ctx, "4711"); !errors.Is(err, ErrNotFound) {
			t.Errorf("old number after update: %v, want ErrNotFound", err)
		}

		clock.Advance(time.Minute)
		if err := s.SetLocked(ctx, "board", true); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetRoom(ctx, "board"); !got.Locked || !got.UpdatedAt.Equal(start.Add(2*time.Minute)) {
			t.Errorf("after lock: %+v", got)
		}
		if err := s.SetLocked(ctx, "board", false); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetRoom(ctx, "board"); got.Locked {
			t.Error("still locked after unlock")
		}

		if err := s.DeleteRoom(ctx, "board"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetRoom(ctx, "board"); !errors.Is(err, ErrNotFound) {
			t.Errorf("get deleted room: %v, want ErrNotFound", err)
		}
		rooms, _ = s.ListRooms(ctx)
		if ids := roomIDs(rooms); !slices.Equal(ids, []string{"all-hands"}) {
			t.Errorf("list after delete = %v", ids)
		}
	})
}

func TestMissingRooms(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := open(t, dsn, media.NewFakeClock(start))
		tests := []struct {
			name string
			call func() error
		}{
			{"get", func() error { _, err := s.GetRoom(ctx, "nope"); return err }},
			{"by number", func() error { _, err := s.RoomByNumber(ctx, "1"); return err }},
			{"by empty number", func() error { _, err := s.RoomByNumber(ctx, ""); return err }},
			{"update", func() error { return s.UpdateRoom(ctx, Room{ID: "nope"}) }},
			{"lock", func() error { return s.SetLocked(ctx, "nope", true) }},
			{"delete", func() error { return s.DeleteRoom(ctx, "nope") }},
		}
		for _, tt := range tests {
			t.Run(tt.name+" of a missing room is ErrNotFound", func(t *testing.T) {
				if err := tt.call(); !errors.Is(err, ErrNotFound) {
					t.Errorf("got %v", err)
				}
			})
		}
		if rooms, err := s.ListRooms(ctx); err != nil || len(rooms) != 0 {
			t.Errorf("empty list = %v, %v", rooms, err)
		}
	})
}

func TestUniqueness(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := open(t, dsn, media.NewFakeClock(start))
		for _, r := range []Room{{ID: "a", ConferenceNumber: "100"}, {ID: "b", ConferenceNumber: "200"}, {ID: "c"}, {ID: "d"}} {
			if err := s.CreateRoom(ctx, r); err != nil {
				t.Fatalf("create %s: %v (rooms without a number may be many)", r.ID, err)
			}
		}
		tests := []struct {
			name    string
			call    func() error
			wantErr error
		}{
			{"a new room with a taken number", func() error {
				return s.CreateRoom(ctx, Room{ID: "e", ConferenceNumber: "100"})
			}, ErrNumberInUse},
			{"a new room with a taken id", func() error {
				return s.CreateRoom(ctx, Room{ID: "a", ConferenceNumber: "300"})
			}, ErrExists},
			{"a new room with a taken id and number", func() error {
				return s.CreateRoom(ctx, Room{ID: "a", ConferenceNumber: "100"})
			}, ErrExists},
			{"an update to another room's number", func() error {
				return s.UpdateRoom(ctx, Room{ID: "b", ConferenceNumber: "100"})
			}, ErrNumberInUse},
			{"an update that keeps the room's own number", func() error {
				return s.UpdateRoom(ctx, Room{ID: "a", ConferenceNumber: "100", Locked: true})
			}, nil},
			{"a room with a clear PIN", func() error {
				return s.CreateRoom(ctx, Room{ID: "f", PINHash: "1234"})
			}, ErrInvalid},
			{"an update to a clear moderator PIN", func() error {
				return s.UpdateRoom(ctx, Room{ID: "a", ModeratorPINHash: "0000"})
			}, ErrInvalid},
			{"a room without an id", func() error { return s.CreateRoom(ctx, Room{}) }, ErrInvalid},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if err := tt.call(); !errors.Is(err, tt.wantErr) {
					t.Errorf("got %v, want %v", err, tt.wantErr)
				}
			})
		}
		t.Run("a deleted room's number is free again", func(t *testing.T) {
			if err := s.DeleteRoom(ctx, "a"); err != nil {
				t.Fatal(err)
			}
			if err := s.CreateRoom(ctx, Room{ID: "g", ConferenceNumber: "100"}); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("a clear PIN never reaches the database", func(t *testing.T) {
			if _, err := s.GetRoom(ctx, "f"); !errors.Is(err, ErrNotFound) {
				t.Errorf("room f: %v", err)
			}
		})
	})
}

func TestReopenAppliesNothing(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		clock := media.NewFakeClock(start)
		s, err := Open(ctx, dsn, WithClock(clock), WithLogger(quiet))
		if err != nil {
			t.Fatal(err)
		}
		if len(s.applied) == 0 {
			t.Fatal("first open applied no migration")
		}
		first, err := s.Migrations(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.CreateRoom(ctx, Room{ID: "kept", ConferenceNumber: "1"}); err != nil {
			t.Fatal(err)
		}
		_ = s.Close()

		clock.Advance(time.Hour)
		s = open(t, dsn, clock)
		if len(s.applied) != 0 {
			t.Errorf("reopen applied %v", s.applied)
		}
		again, err := s.Migrations(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(first, again) {
			t.Errorf("migrations changed on reopen:\n%v\n%v", first, again)
		}
		all, _ := loadMigrations()
		if len(again) != len(all) || again[0].AppliedAt != start {
			t.Errorf("migrations = %v, want %d applied at %v", again, len(all), start)
		}
		if _, err := s.GetRoom(ctx, "kept"); err != nil {
			t.Errorf("room lost on reopen: %v", err)
		}
	})
}

func TestConcurrentOpensMigrateOnce(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		const n = 6
		var wg sync.WaitGroup
		stores := make([]*Store, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() { stores[i], errs[i] = Open(ctx, dsn, WithLogger(quiet)) })
		}
		wg.Wait()
		applied := 0
		for i, s := range stores {
			if errs[i] != nil {
				t.Errorf("open %d: %v", i, errs[i])
				continue
			}
			defer s.Close()
			if len(s.applied) > 0 {
				applied++
			}
		}
		if applied != 1 {
			t.Errorf("%d opens applied migrations, want exactly 1", applied)
		}
		if t.Failed() {
			return
		}
		ms, err := stores[0].Migrations(ctx)
		all, _ := loadMigrations()
		if err != nil || len(ms) != len(all) {
			t.Errorf("migrations = %v, %v; want %d", ms, err, len(all))
		}
		// Every store works on the one schema.
		for i, s := range stores {
			if err := s.CreateRoom(ctx, Room{ID: string(rune('a' + i))}); err != nil {
				t.Errorf("store %d: %v", i, err)
			}
		}
	})
}

func TestClosedStore(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := open(t, dsn, media.NewFakeClock(start))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("second close: %v", err)
		}
		calls := map[string]func() error{
			"create": func() error { return s.CreateRoom(ctx, Room{ID: "x"}) },
			"get":    func() error { _, err := s.GetRoom(ctx, "x"); return err },
			"number": func() error { _, err := s.RoomByNumber(ctx, "1"); return err },
			"list":   func() error { _, err := s.ListRooms(ctx); return err },
			"update": func() error { return s.UpdateRoom(ctx, Room{ID: "x"}) },
			"lock":   func() error { return s.SetLocked(ctx, "x", true) },
			"delete": func() error { return s.DeleteRoom(ctx, "x") },
			"migr":   func() error { _, err := s.Migrations(ctx); return err },
		}
		for name, call := range calls {
			if err := call(); !errors.Is(err, ErrClosed) {
				t.Errorf("%s after close: %v, want ErrClosed", name, err)
			}
		}
	})
}

func TestSchemaTooNew(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := open(t, dsn, media.NewFakeClock(start))
		if _, err := s.db.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`),
			999, "9999_future", 0); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(ctx, dsn, WithLogger(quiet)); !errors.Is(err, ErrSchemaTooNew) {
			t.Errorf("open = %v, want ErrSchemaTooNew", err)
		}
	})
}

func roomIDs(rooms []Room) []string {
	var ids []string
	for _, r := range rooms {
		ids = append(ids, r.ID)
	}
	return ids
}
