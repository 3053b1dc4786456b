package index

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/setbridge/setbridge/recorder"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)

func summary(id string, room recorder.RoomID, startMin int, status recorder.State) recorder.Summary {
	return recorder.Summary{
		ID: id, Room: room, Status: status, Rate: 48000,
		StartTick: 100, StopTick: 3100, Frames: 3000,
		StartedAt: t0.Add(time.Duration(startMin) * time.Minute),
		StoppedAt: t0.Add(time.Duration(startMin+1) * time.Minute),
		Segments:  2, Bytes: 5_760_088, Dir: "/rec/" + id,
	}
}

func open(t *testing.T, path string) *Index {
	t.Helper()
	x, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	return x
}

func TestIndexRoundTrip(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "recordings.db")
	x := open(t, path)
	recs := []recorder.Summary{
		summary("01A", "sales", 0, recorder.StateStopped),
		summary("01B", "support", 5, recorder.StateInterrupted),
		summary("01C", "sales", 10, recorder.StateRecording),
		summary("01D", "sales", 20, recorder.StateFailed),
	}
	recs[3].Error = "recorder: write failed: no space left on device"
	recs[2].StoppedAt = time.Time{}
	for _, s := range recs {
		if err := x.Put(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	got, err := x.Get(ctx, "01D")
	if err != nil {
		t.Fatal(err)
	}
	if got != recs[3] {
		t.Fatalf("get\n got %+v\nwant %+v", got, recs[3])
	}
	if _, err := x.Get(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get a missing id: %v", err)
	}

	// Put replaces: the recording in progress stops.
	done := recs[2]
	done.Status, done.StoppedAt, done.Frames = recorder.StateStopped, t0.Add(15*time.Minute), 4000
	if err := x.Put(ctx, done); err != nil {
		t.Fatal(err)
	}
	if got, _ := x.Get(ctx, "01C"); got != done {
		t.Fatalf("after update %+v", got)
	}

	tests := []struct {
		name string
		give Filter
		want []string
	}{
		{"everything, oldest first", Filter{}, []string{"01A", "01B", "01C", "01D"}},
		{"one room", Filter{Room: "sales"}, []string{"01A", "01C", "01D"}},
		{"a time window", Filter{From: t0.Add(5 * time.Minute), To: t0.Add(20 * time.Minute)}, []string{"01B", "01C"}},
		{"a room and a window", Filter{Room: "sales", From: t0.Add(time.Minute)}, []string{"01C", "01D"}},
		{"by status", Filter{Status: recorder.StateStopped}, []string{"01A", "01C"}},
		{"limited", Filter{Limit: 2}, []string{"01A", "01B"}},
		{"nothing", Filter{Room: "nobody"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list, err := x.List(ctx, tt.give)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, s := range list {
				ids = append(ids, s.ID)
			}
			if !slices.Equal(ids, tt.want) {
				t.Fatalf("%v, want %v", ids, tt.want)
			}
		})
	}
}

func TestIndexMigratesOnce(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "recordings.db")
	x, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Put(ctx, summary("01A", "r", 0, recorder.StateStopped)); err != nil {
		t.Fatal(err)
	}
	x.Close()

	x = open(t, path) // reopening applies nothing and keeps the data
	if v, err := x.SchemaVersion(ctx); err != nil || v != len(migrations) {
		t.Fatalf("schema version %d, %v", v, err)
	}
	var n int
	if err := x.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(migrations) {
		t.Fatalf("%d migrations recorded, %v", n, err)
	}
	if _, err := x.Get(ctx, "01A"); err != nil {
		t.Fatal(err)
	}

	// A database from a newer program is refused, not damaged.
	if _, err := x.db.ExecContext(ctx, `INSERT INTO schema_migrations VALUES (99, 0)`); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), path); !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("open a newer schema: %v", err)
	}
}

func TestIndexFromARealRecording(t *testing.T) {
	// The summary of a manifest goes in and comes out unchanged.
	m := &recorder.Manifest{ID: "01J", Room: "board", Status: recorder.StateStopped, Rate: 16000,
		StartTick: 5, StopTick: 105, Frames: 100,
		Segments: []recorder.Segment{{Name: "seg-000001.wav", Frames: 100, Bytes: 64044}},
		Tracks:   []recorder.Track{{Segments: []recorder.Segment{{Bytes: 1044}}}}}
	start := t0
	m.StartedAt = &start
	x := open(t, filepath.Join(t.TempDir(), "i.db"))
	s := m.Summary("/rec/01J")
	if s.Segments != 2 || s.Bytes != 65088 {
		t.Fatalf("summary %+v", s)
	}
	if err := x.Put(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	if got, err := x.Get(t.Context(), "01J"); err != nil || got != s {
		t.Fatalf("%+v, %v", got, err)
	}
}
