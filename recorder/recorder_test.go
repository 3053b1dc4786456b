package recorder

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

func TestRecordingHoldsExactlyTheFramesBetweenStartAndStop(t *testing.T) {
	const n = testRate / 50
	tests := []struct {
		name      string
		feedFrom  uint64 // ticks given before Start
		giveStart uint64 // Start argument
		stopEarly uint64 // Stop given right after Start (0: none)
		feedTo    uint64 // ticks [1, feedTo) are fed in all
		giveStop  uint64 // Stop argument after feeding (when stopEarly is 0)
		wantStart uint64
		wantStop  uint64
		wantSegs  []uint64 // frames per segment
	}{
		{name: "start and stop ticks given ahead, across five segment boundaries",
			giveStart: 37, stopEarly: 289, feedTo: 400,
			wantStart: 37, wantStop: 289, wantSegs: []uint64{50, 50, 50, 50, 50, 2}},
		{name: "start and stop at the next tick",
			feedFrom: 10, giveStart: 0, feedTo: 121, giveStop: 0,
			wantStart: 10, wantStop: 121, wantSegs: []uint64{50, 50, 11}},
		{name: "stop on a segment boundary leaves no short segment",
			giveStart: 1, stopEarly: 101, feedTo: 130,
			wantStart: 1, wantStop: 101, wantSegs: []uint64{50, 50}},
		{name: "start and stop inside one segment",
			giveStart: 5, feedTo: 12, giveStop: 12,
			wantStart: 5, wantStop: 12, wantSegs: []uint64{7}},
		{name: "stop before any frame is an empty recording",
			feedFrom: 3, giveStart: 0, feedTo: 3, giveStop: 0,
			wantStart: 3, wantStop: 3, wantSegs: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRecorder(t, testConfig(t))
			feed(r, 1, tt.feedFrom, nil)
			if err := r.Start(tt.giveStart); err != nil {
				t.Fatal(err)
			}
			if tt.stopEarly != 0 {
				if err := r.Stop(tt.stopEarly); err != nil {
					t.Fatal(err)
				}
			}
			feed(r, max(tt.feedFrom, 1), tt.feedTo, nil)
			var st Status
			if tt.stopEarly != 0 {
				var err error
				if st, err = r.Wait(t.Context()); err != nil {
					t.Fatal(err)
				}
			} else {
				st = stopAndWait(t, r, tt.giveStop)
			}
			if st.State != StateStopped || st.StartTick != tt.wantStart || st.StopTick != tt.wantStop {
				t.Fatalf("status %s [%d, %d), want stopped [%d, %d)", st.State, st.StartTick, st.StopTick, tt.wantStart, tt.wantStop)
			}
			m := mustManifest(t, r.Dir())
			if m.StartTick != tt.wantStart || m.StopTick != tt.wantStop || m.Frames != tt.wantStop-tt.wantStart {
				t.Fatalf("manifest [%d, %d) %d frames, want [%d, %d)", m.StartTick, m.StopTick, m.Frames, tt.wantStart, tt.wantStop)
			}
			var segs []uint64
			for i, s := range m.Segments {
				segs = append(segs, s.Frames)
				if s.Name != fmt.Sprintf("seg-%06d.wav", i+1) {
					t.Errorf("segment %d named %s", i+1, s.Name)
				}
			}
			if !slices.Equal(segs, tt.wantSegs) {
				t.Errorf("segments of %v frames, want %v", segs, tt.wantSegs)
			}
			got := readSegments(t, r.Dir(), m.Segments)
			exp := want(tt.wantStart, tt.wantStop, 0, n, nil)
			if len(got) != int(tt.wantStop-tt.wantStart)*n {
				t.Fatalf("%d samples, want exactly (stop-start)×frame = %d", len(got), int(tt.wantStop-tt.wantStart)*n)
			}
			if i := firstDiff(got, exp); i >= 0 {
				t.Fatalf("sample %d (tick %d) differs from the tap's frame", i, tt.wantStart+uint64(i/n))
			}
			rep := mustVerify(t, r.Dir())
			if rep.Frames != tt.wantStop-tt.wantStart {
				t.Errorf("verify counted %d frames", rep.Frames)
			}
		})
	}
}

func TestMissingTicksAreRecordedAsSilence(t *testing.T) {
	const n = testRate / 50
	r := newRecorder(t, testConfig(t))
	if err := r.Start(5); err != nil {
		t.Fatal(err)
	}
	if err := r.Stop(210); err != nil {
		t.Fatal(err)
	}
	missing := func(tick uint64) bool {
		return tick < 8 || (tick >= 50 && tick < 60) || tick == 120 || (tick > 200 && tick < 215)
	}
	feed(r, 1, 230, missing)
	st, err := r.Wait(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.StartTick != 5 || st.StopTick != 210 {
		t.Fatalf("[%d, %d), want [5, 210)", st.StartTick, st.StopTick)
	}
	m := mustManifest(t, r.Dir())
	got := readSegments(t, r.Dir(), m.Segments)
	exp := want(5, 210, 0, n, missing)
	if len(got) != 205*n {
		t.Fatalf("%d samples, want %d", len(got), 205*n)
	}
	if i := firstDiff(got, exp); i >= 0 {
		t.Fatalf("sample %d (tick %d) is wrong: gaps must be silence, other ticks the tap's frame", i, 5+i/n)
	}
	mustVerify(t, r.Dir())
}

func TestPausedTicksAreSilentAndListed(t *testing.T) {
	const n = testRate / 50
	cfg := testConfig(t)
	cfg.RingFrames = 8 // slots are reused: a paused slot holds an old frame
	r := newRecorder(t, cfg)
	r.PINEntry(true) // a PIN prompt before the recording starts still pauses it
	r.PINEntry(false)
	if err := r.Start(1); err != nil {
		t.Fatal(err)
	}
	feedSync(t, r, 1, 51, 1)
	if err := r.Pause(); err != nil {
		t.Fatal(err)
	}
	feedSync(t, r, 51, 81, 1)
	if err := r.Resume(); err != nil {
		t.Fatal(err)
	}
	feedSync(t, r, 81, 101, 1)
	r.PINEntry(true)
	r.PINEntry(true) // a second caller's PIN prompt overlaps
	feedSync(t, r, 101, 111, 1)
	r.PINEntry(false)
	if !r.Paused() {
		t.Fatal("not paused while one PIN entry is still going on")
	}
	feedSync(t, r, 111, 116, 1)
	r.PINEntry(false)
	feedSync(t, r, 116, 131, 1)
	if err := r.Pause(); err != nil {
		t.Fatal(err)
	}
	feedSync(t, r, 131, 141, 1)
	stopAndWait(t, r, 0)

	m := mustManifest(t, r.Dir())
	wantRanges := []PauseRange{
		{From: 51, To: 81, Reasons: []string{"api"}},
		{From: 101, To: 116, Reasons: []string{"pin"}},
		{From: 131, To: 141, Reasons: []string{"api"}},
	}
	if fmt.Sprint(m.Paused) != fmt.Sprint(wantRanges) {
		t.Fatalf("paused %v, want %v", m.Paused, wantRanges)
	}
	paused := func(tick uint64) bool {
		for _, p := range wantRanges {
			if tick >= p.From && tick < p.To {
				return true
			}
		}
		return false
	}
	got := readSegments(t, r.Dir(), m.Segments)
	if i := firstDiff(got, want(1, 141, 0, n, paused)); i >= 0 {
		t.Fatalf("sample %d (tick %d) is wrong", i, 1+i/n)
	}
	mustVerify(t, r.Dir())
}

func TestRoomRestartStopsTheRecordingWhereTheRunEnded(t *testing.T) {
	r := newRecorder(t, testConfig(t))
	if err := r.Start(0); err != nil {
		t.Fatal(err)
	}
	feed(r, 1, 77, nil)
	feed(r, 1, 20, nil) // the room stopped and ran again
	st, err := r.Wait(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.State != StateStopped || st.StartTick != 1 || st.StopTick != 77 {
		t.Fatalf("%s [%d, %d), want stopped [1, 77)", st.State, st.StartTick, st.StopTick)
	}
	if m := mustManifest(t, r.Dir()); m.StopReason != "room restarted" {
		t.Errorf("stop reason %q", m.StopReason)
	}
	mustVerify(t, r.Dir())
}

func TestControlErrors(t *testing.T) {
	r := newRecorder(t, testConfig(t))
	if err := r.Stop(0); !errors.Is(err, ErrNotStarted) {
		t.Errorf("stop before start: %v", err)
	}
	if err := r.Pause(); !errors.Is(err, ErrNotStarted) {
		t.Errorf("pause before start: %v", err)
	}
	feed(r, 1, 10, nil)
	if err := r.Start(9); !errors.Is(err, ErrTickPassed) {
		t.Errorf("start at a past tick: %v", err)
	}
	if err := r.Start(20); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(30); !errors.Is(err, ErrStarted) {
		t.Errorf("second start: %v", err)
	}
	if err := r.Stop(15); !errors.Is(err, ErrTickPassed) {
		t.Errorf("stop before start: %v", err)
	}
	feed(r, 10, 25, nil)
	if err := r.Stop(24); !errors.Is(err, ErrTickPassed) {
		t.Errorf("stop at a past tick: %v", err)
	}
	stopAndWait(t, r, 0)
	if err := r.Stop(0); !errors.Is(err, ErrEnded) {
		t.Errorf("stop after the end: %v", err)
	}
	if err := r.Resume(); !errors.Is(err, ErrEnded) {
		t.Errorf("resume after the end: %v", err)
	}
	cfg := testConfig(t)
	for _, tt := range []struct {
		name string
		edit func(*Config)
	}{
		{"no directory", func(c *Config) { c.Dir = "" }},
		{"an id that is not a ULID", func(c *Config) { c.ID = "../etc" }},
		{"a rate without whole frames", func(c *Config) { c.Rate = 44101 }},
		{"no signing key", func(c *Config) { c.Signer = nil }},
		{"segments too long for a WAV file", func(c *Config) { c.Rate = 48000; c.SegmentDuration = 4 * 3600e9 }},
	} {
		c := cfg
		tt.edit(&c)
		if _, err := New(c); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
	// An id is never recorded twice.
	c := testConfig(t)
	r1 := newRecorder(t, c)
	if err := r1.Start(1); err != nil {
		t.Fatal(err)
	}
	stopAndWait(t, r1, 0)
	r2 := newRecorder(t, c)
	if err := r2.Start(1); !errors.Is(err, ErrExists) {
		t.Errorf("recording an id twice: %v", err)
	}
}

func TestTimelineAndParticipants(t *testing.T) {
	r := newRecorder(t, testConfig(t))
	r.Event(3, EventJoin, "alice") // present before the start
	if err := r.Start(10); err != nil {
		t.Fatal(err)
	}
	feed(r, 1, 20, nil)
	r.Event(20, EventJoin, "bob")
	r.Talkers(20, []ParticipantID{"alice"})
	feed(r, 20, 30, nil)
	r.Talkers(30, []ParticipantID{"bob"})
	feed(r, 30, 40, nil)
	r.Event(0, EventLeave, "bob") // at the next tick, 40
	r.Talkers(40, nil)
	feed(r, 40, 50, nil)
	r.Event(60, EventJoin, "carol") // after the stop: left out
	stopAndWait(t, r, 50)
	m := mustManifest(t, r.Dir())
	wantTL := []Event{
		{10, EventJoin, "alice"}, {20, EventJoin, "bob"}, {20, EventTalkStart, "alice"},
		{30, EventTalkStop, "alice"}, {30, EventTalkStart, "bob"},
		{40, EventLeave, "bob"}, {40, EventTalkStop, "bob"},
	}
	if fmt.Sprint(m.Timeline) != fmt.Sprint(wantTL) {
		t.Errorf("timeline\n got %v\nwant %v", m.Timeline, wantTL)
	}
	wantP := []Participant{{"alice", 10, 50, 10}, {"bob", 20, 40, 10}}
	if fmt.Sprint(m.Participants) != fmt.Sprint(wantP) {
		t.Errorf("participants %v, want %v", m.Participants, wantP)
	}
	mustVerify(t, r.Dir())
}

func TestTracksAreAlignedToTheMixTicks(t *testing.T) {
	const n = testRate / 50
	cfg := testConfig(t)
	cfg.Tracks = true
	r := newRecorder(t, cfg)
	if err := r.Start(5); err != nil {
		t.Fatal(err)
	}
	bGap := func(tick uint64) bool { return tick > 40 && tick < 50 }
	r.TrackFrame(1, "early", tone(1, 9, n)) // before the start: ignored
	for tick := uint64(1); tick < 100; tick++ {
		if tick == 70 {
			r.Pause()
		}
		if tick == 75 {
			r.Resume()
		}
		r.Frame(tick, tone(tick, 0, n))
		if tick >= 10 && tick <= 80 {
			r.TrackFrame(tick, "alice", tone(tick, 1, n))
		}
		if tick >= 30 && tick <= 55 && !bGap(tick) {
			r.TrackFrame(tick, "bob", tone(tick, 2, n))
		}
	}
	r.TrackFrame(200, "alice", tone(200, 1, n)) // ahead of the mix: refused
	stopAndWait(t, r, 0)
	m := mustManifest(t, r.Dir())
	if len(m.Tracks) != 2 {
		t.Fatalf("%d tracks, want 2", len(m.Tracks))
	}
	paused := func(tick uint64) bool { return tick >= 70 && tick < 75 }
	for _, tt := range []struct {
		who        ParticipantID
		first, end uint64
		stream     int
		silent     func(uint64) bool
	}{
		{"alice", 10, 81, 1, paused},
		{"bob", 30, 56, 2, bGap},
	} {
		tr := m.Tracks[tt.stream-1]
		if tr.Participant != tt.who || tr.FirstTick != tt.first || tr.Frames != tt.end-tt.first {
			t.Fatalf("track %s: %s from %d, %d frames; want %s from %d, %d frames",
				tr.Prefix, tr.Participant, tr.FirstTick, tr.Frames, tt.who, tt.first, tt.end-tt.first)
		}
		got := readSegments(t, r.Dir(), tr.Segments)
		if i := firstDiff(got, want(tt.first, tt.end, tt.stream, n, tt.silent)); i >= 0 {
			t.Fatalf("track of %s: sample %d (tick %d) is wrong", tt.who, i, tt.first+uint64(i/n))
		}
	}
	if m.RefusedTracks != 1 {
		t.Errorf("%d refused track frames, want 1", m.RefusedTracks)
	}
	got := readSegments(t, r.Dir(), m.Segments)
	if i := firstDiff(got, want(5, 100, 0, n, paused)); i >= 0 {
		t.Fatalf("mix: sample %d is wrong", i)
	}
	mustVerify(t, r.Dir())
}
