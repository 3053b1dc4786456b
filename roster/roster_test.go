package roster

import (
	"encoding/json"
	"slices"
	"testing"
	"time"
)

func TestSubscriberSeesJoinMuteNameLeaveInOrder(t *testing.T) {
	r, _ := newTestRoster(t)
	s := r.Subscribe("demo")
	defer s.Close()

	r.Join("demo", Participant{ID: "p1", Name: "Ada", Kind: KindPhone, Caller: "+442079460123"})
	r.Join("demo", Participant{ID: "b1", Name: "Bob", Kind: KindBrowser})
	r.SetMuted("demo", "p1", true)
	r.SetMuted("demo", "p1", true) // no change, no event
	r.SetName("demo", "b1", "Bob") // no change, no event
	r.SetName("demo", "b1", "Robert")
	r.SetMuted("demo", "nobody", true) // unknown, no event
	r.Leave("demo", "p1")
	r.Leave("demo", "p1") // gone already, no event

	evs := pending(s)
	want := []string{EventSnapshot, EventJoined, EventJoined, EventUpdated, EventUpdated, EventLeft}
	if got := types(evs); !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	if p := evs[1].Data.(Participant); p.ID != "p1" || p.Caller != "+44 20 **** 0123" || !p.JoinedAt.Equal(epoch) {
		t.Errorf("joined %+v: want p1, masked caller, joined at the clock's time", p)
	}
	if p := evs[3].Data.(Participant); p.ID != "p1" || !p.Muted {
		t.Errorf("update %+v, want p1 muted", p)
	}
	if p := evs[4].Data.(Participant); p.ID != "b1" || p.Name != "Robert" {
		t.Errorf("update %+v, want b1 named Robert", p)
	}
	if l := evs[5].Data.(Left); l.ID != "p1" {
		t.Errorf("left %+v, want p1", l)
	}
}

func TestJoinOfAKnownIDIsAnUpdate(t *testing.T) {
	r, _ := newTestRoster(t)
	r.Join("demo", Participant{ID: "p1", Name: "Ada"})
	s := r.Subscribe("demo")
	defer s.Close()
	r.Join("demo", Participant{ID: "p1", Name: "Ada L."})
	if got, want := types(pending(s)), []string{EventSnapshot, EventUpdated}; !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

func TestSnapshotOrdersByJoinTimeThenID(t *testing.T) {
	r, clock := newTestRoster(t)
	r.Join("demo", Participant{ID: "c"})
	clock.Advance(time.Second)
	r.Join("demo", Participant{ID: "b"})
	r.Join("demo", Participant{ID: "a"})
	r.Join("demo", Participant{ID: "z", JoinedAt: epoch.Add(-time.Hour)}) // given, kept
	var ids []string
	for _, p := range r.Snapshot("demo").Participants {
		ids = append(ids, p.ID)
	}
	if want := []string{"z", "c", "a", "b"}; !slices.Equal(ids, want) {
		t.Errorf("order %v, want %v", ids, want)
	}
}

func TestSetSpeakingEmitsOnlyOnChange(t *testing.T) {
	r, _ := newTestRoster(t)
	r.Join("demo", Participant{ID: "a"})
	s := r.Subscribe("demo")
	defer s.Close()

	ids := []string{"a", "ghost"}
	r.SetSpeaking("demo", ids)
	ids[0] = "changed by the caller" // the roster keeps its own copy
	r.SetSpeaking("demo", []string{"a", "ghost"})
	r.SetSpeaking("demo", []string{"ghost", "a"}) // same ids, new order: a change
	r.SetSpeaking("demo", nil)
	r.SetSpeaking("demo", []string{})

	evs := pending(s)
	want := []string{EventSnapshot, EventSpeaking, EventSpeaking, EventSpeaking}
	if got := types(evs); !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	for i, want := range [][]string{{"a", "ghost"}, {"ghost", "a"}, {}} {
		if got := evs[i+1].Data.(Speaking).IDs; !slices.Equal(got, want) {
			t.Errorf("speaking event %d: %v, want %v", i, got, want)
		}
	}
	b, _ := json.Marshal(evs[3].Data)
	if string(b) != `{"speaking":[]}` {
		t.Errorf("empty selection encodes as %s", b)
	}
}

func TestSetSpeakingUnchangedAllocatesNothing(t *testing.T) {
	r, _ := newTestRoster(t)
	r.Join("demo", Participant{ID: "a"})
	s := r.Subscribe("demo")
	defer s.Close()
	ids := []string{"a", "b", "c"}
	r.SetSpeaking("demo", ids)
	if n := testing.AllocsPerRun(1000, func() { r.SetSpeaking("demo", ids) }); n != 0 {
		t.Errorf("unchanged SetSpeaking allocates %v times", n)
	}
	if n := testing.AllocsPerRun(1000, func() { r.SetSpeaking("nowhere", nil) }); n != 0 {
		t.Errorf("empty SetSpeaking for an unknown room allocates %v times", n)
	}
}

func TestSetRecordingEmitsOnlyOnChange(t *testing.T) {
	r, _ := newTestRoster(t)
	s := r.Subscribe("demo")
	defer s.Close()
	r.SetRecording("demo", true, "rec-1")
	r.SetRecording("demo", true, "rec-1")
	r.SetRecording("demo", false, "rec-1")
	evs := pending(s)
	if got, want := types(evs), []string{EventSnapshot, EventRecording, EventRecording}; !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	if got := evs[1].Data.(Recording); got != (Recording{Active: true, ID: "rec-1"}) {
		t.Errorf("recording %+v", got)
	}
}

func TestSlowSubscriberNeverBlocksAndGetsTheLatestState(t *testing.T) {
	r, _ := newTestRoster(t)
	r.Join("demo", Participant{ID: "a"})
	slow := r.Subscribe("demo")
	defer slow.Close()

	var last []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 10 * subscriptionBuffer {
			last = []string{"a", string(rune('b' + i%20))}
			r.SetSpeaking("demo", last)
			if i == 3*subscriptionBuffer {
				r.Join("demo", Participant{ID: "late"})
				r.SetRecording("demo", true, "rec-9")
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("SetSpeaking blocked on a subscriber that does not read")
	}

	evs := pending(slow)
	if len(evs) == 0 || evs[0].Type != EventSnapshot {
		t.Fatalf("after falling behind the first event is %v, want a snapshot", types(evs))
	}
	// Replaying what it holds gives the roster's state now.
	got := evs[0].Data.(Snapshot)
	for _, ev := range evs[1:] {
		switch d := ev.Data.(type) {
		case Speaking:
			got.Speaking = d.IDs
		case Snapshot:
			got = d
		default:
			t.Fatalf("unexpected %s event", ev.Type)
		}
	}
	want := r.Snapshot("demo")
	if !slices.Equal(got.Speaking, last) || !slices.Equal(got.Speaking, want.Speaking) {
		t.Errorf("speaking %v, want %v", got.Speaking, last)
	}
	if len(got.Participants) != 2 || got.Recording != want.Recording {
		t.Errorf("state %+v, want %+v", got, want)
	}
}

func TestEmptyRoomsAreForgotten(t *testing.T) {
	tests := []struct {
		name string
		fill func(r *Roster)
		drop func(r *Roster)
	}{
		{
			name: "a room is kept while someone is in it",
			fill: func(r *Roster) { r.Join("demo", Participant{ID: "a"}) },
			drop: func(r *Roster) { r.Leave("demo", "a") },
		},
		{
			name: "a room is kept while it is recorded",
			fill: func(r *Roster) { r.SetRecording("demo", true, "rec-1") },
			drop: func(r *Roster) { r.SetRecording("demo", false, "rec-1") },
		},
		{
			name: "a room is kept while the mixer selects someone",
			fill: func(r *Roster) { r.SetSpeaking("demo", []string{"a"}) },
			drop: func(r *Roster) { r.SetSpeaking("demo", nil) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := newTestRoster(t)
			tt.fill(r)
			if got := r.Rooms(); !slices.Equal(got, []string{"demo"}) {
				t.Fatalf("rooms %v, want [demo]", got)
			}
			s := r.Subscribe("demo")
			tt.drop(r)
			if got := r.Rooms(); !slices.Equal(got, []string{"demo"}) {
				t.Fatalf("with a subscriber: rooms %v, want [demo]", got)
			}
			s.Close()
			s.Close()
			if got := r.Rooms(); len(got) != 0 {
				t.Errorf("rooms %v, want none", got)
			}
		})
	}
	t.Run("updates for unknown rooms create none", func(t *testing.T) {
		r, _ := newTestRoster(t)
		r.Leave("x", "a")
		r.SetMuted("x", "a", true)
		r.SetName("x", "a", "A")
		r.SetSpeaking("x", nil)
		r.SetRecording("x", false, "")
		_ = r.Snapshot("x")
		if got := r.Rooms(); len(got) != 0 {
			t.Errorf("rooms %v, want none", got)
		}
	})
}

func TestCloseEndsSubscriptions(t *testing.T) {
	r, _ := newTestRoster(t)
	s := r.Subscribe("demo")
	r.Close()
	if got := types(pending(s)); !slices.Equal(got, []string{EventSnapshot}) {
		t.Errorf("events %v, want the snapshot only", got)
	}
	if _, ok := <-s.C(); ok {
		t.Error("subscription still open after Close")
	}
	s.Close()
	late := r.Subscribe("demo")
	if _, ok := <-late.C(); ok {
		t.Error("subscription after Close is open")
	}
	late.Close()
	if got := r.Rooms(); len(got) != 0 {
		t.Errorf("rooms %v, want none", got)
	}
}

func TestSnapshotJSON(t *testing.T) {
	r, _ := newTestRoster(t)
	b, _ := json.Marshal(r.Snapshot("demo"))
	if want := `{"room":"demo","participants":[],"speaking":[],"recording":{"active":false,"id":""}}`; string(b) != want {
		t.Errorf("empty snapshot\n got %s\nwant %s", b, want)
	}
	r.Join("demo", Participant{ID: "p1", Name: "Ada", Kind: KindPhone, Caller: "+14155550123", Node: "n1", Set: "s1"})
	r.Join("demo", Participant{ID: "w1", Name: "Bo", Kind: KindBrowser, Muted: true})
	r.SetSpeaking("demo", []string{"p1"})
	b, _ = json.Marshal(r.Snapshot("demo"))
	want := `{"room":"demo","participants":[` +
		`{"id":"p1","name":"Ada","kind":"phone","caller":"+1 415 *** 0123","muted":false,"joined_at":"2026-03-01T09:00:00Z","node":"n1","set":"s1"},` +
		`{"id":"w1","name":"Bo","kind":"browser","muted":true,"joined_at":"2026-03-01T09:00:00Z"}],` +
		`"speaking":["p1"],"recording":{"active":false,"id":""}}`
	if string(b) != want {
		t.Errorf("snapshot\n got %s\nwant %s", b, want)
	}
}

func TestAnnounceReachesSubscribersOnly(t *testing.T) {
	r := New(Options{})
	defer r.Close()
	r.Announce("nobody", "stream", map[string]string{"state": "failed"})
	if len(r.Rooms()) != 0 {
		t.Fatalf("an announcement to a room nobody follows created it: %v", r.Rooms())
	}
	sub := r.Subscribe("demo")
	defer sub.Close()
	if ev := <-sub.C(); ev.Type != EventSnapshot {
		t.Fatalf("first event %q", ev.Type)
	}
	r.Announce("demo", "stream", "failed")
	if ev := <-sub.C(); ev.Type != "stream" || ev.Data != "failed" {
		t.Fatalf("announcement = %+v", ev)
	}
}
