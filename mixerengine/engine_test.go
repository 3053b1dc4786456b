package mixerengine

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/setbridge/setbridge/media"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestJoinLeaveAndRooms(t *testing.T) {
	h := newHarness(t, Config{})
	a, err := h.e.Join("r", newScripted(-1))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := h.e.Join("r", newScripted(-1))
	if a.ID() == "" || a.ID() == b.ID() {
		t.Fatalf("generated ids %q and %q: want distinct and non-empty", a.ID(), b.ID())
	}
	if _, err := h.e.JoinWithID("r", a.ID(), newScripted(-1)); !errors.Is(err, ErrDuplicateID) {
		t.Fatalf("JoinWithID with a taken id = %v, want ErrDuplicateID", err)
	}
	other, _ := h.e.JoinWithID("other", a.ID(), newScripted(-1))
	if other.Room() != "other" || a.Room() != "r" {
		t.Fatal("Room() is wrong")
	}
	if got := h.e.Participants("r"); got != 2 {
		t.Fatalf("Participants = %d, want 2", got)
	}
	if got := h.e.RoomCount(); got != 2 {
		t.Fatalf("RoomCount = %d, want 2", got)
	}
	if got := h.e.Talkers("r"); got == nil || len(got) != 0 {
		t.Fatalf("Talkers of a quiet room = %#v, want empty", got)
	}
	if h.e.Talkers("none") != nil {
		t.Fatal("Talkers of no room is not nil")
	}
	if err := h.e.SetTopK("r", 0); !errors.Is(err, ErrTopK) {
		t.Fatalf("SetTopK(0) = %v, want ErrTopK", err)
	}
	if err := h.e.SetTopK("r", MaxTopK+1); !errors.Is(err, ErrTopK) {
		t.Fatalf("SetTopK(MaxTopK+1) = %v, want ErrTopK", err)
	}
	if err := h.e.SetTopK("none", 3); !errors.Is(err, ErrNoRoom) {
		t.Fatalf("SetTopK of no room = %v, want ErrNoRoom", err)
	}
	h.steps(2)
	if s, ok := h.e.RoomStats("r"); !ok || s.Ticks != 2 || s.PCMWrites != 4 {
		t.Fatalf("RoomStats = %+v, %v; want 2 ticks and 4 PCM writes", s, ok)
	}

	a.Leave()
	a.Leave()
	other.Leave()
	if got := h.e.Participants("r"); got != 1 {
		t.Fatalf("Participants after a leaves twice = %d, want 1", got)
	}
	if got := h.e.RoomCount(); got != 1 {
		t.Fatalf("RoomCount after the other room empties = %d, want 1", got)
	}
	b.Leave()
	if got := h.e.RoomCount(); got != 0 {
		t.Fatalf("RoomCount after everyone left = %d, want 0", got)
	}

	// The tap outlives the room: a new run starts again at tick 1.
	h.join("c", newScripted(-1))
	if tick := h.step(); tick != 1 {
		t.Fatalf("first tick of the new run = %d, want 1", tick)
	}
	if s := h.e.Stats(); s.Ticks != 5 {
		t.Fatalf("engine Stats = %+v, want 5 ticks in all (2+2 in two rooms, then 1)", s)
	}
}

func TestJoinAfterCloseFails(t *testing.T) {
	e := New(Config{Clock: media.NewFakeClock(time.Now()), Logger: quietLog})
	m, _ := e.Join("r", newScripted(-1))
	e.Close()
	if _, err := e.Join("r", newScripted(-1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Join after Close = %v, want ErrClosed", err)
	}
	m.Leave()
}

func TestTalkerEvents(t *testing.T) {
	type event struct {
		tick    uint64
		talkers string
	}
	events := make(chan event, 10)
	h := newHarness(t, Config{TopK: 1, OnTalkers: func(room RoomID, tick uint64, ids []ParticipantID) {
		var s []string
		for _, id := range ids {
			s = append(s, string(id))
		}
		events <- event{tick, fmt.Sprint(room, s)}
	}})
	a := newScripted(20)
	h.join("a", a)
	h.steps(5)
	a.level.Store(127)
	h.steps(30)
	close(events)
	var got []event
	for e := range events {
		got = append(got, e)
	}
	// Selected on tick 3, last active on tick 5, released after 25 silent
	// ticks.
	want := []event{{3, "r[a]"}, {30, "r[]"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

func TestTapStops(t *testing.T) {
	h := newHarness(t, Config{})
	h.join("a", newScripted(-1))
	var n int
	stop := h.e.Tap(h.room, func(uint64, []int16) { n++ })
	h.steps(2)
	stop()
	stop()
	h.steps(2)
	if n != 2 {
		t.Fatalf("tap called %d times, want 2", n)
	}
}

// TestRunsOnTheSystemClock checks the default clock drives rooms.
func TestRunsOnTheSystemClock(t *testing.T) {
	e := New(Config{Logger: quietLog})
	defer e.Close()
	ticks := make(chan uint64, 100)
	defer e.Tap("r", func(tick uint64, _ []int16) {
		select {
		case ticks <- tick:
		default:
		}
	})()
	m, _ := e.Join("r", newScripted(-1))
	defer m.Leave()
	for want := uint64(1); want <= 3; want++ {
		select {
		case got := <-ticks:
			if got != want {
				t.Fatalf("tick %d, want %d", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no tick on the system clock")
		}
	}
}
