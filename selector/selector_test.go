package selector

import (
	"errors"
	"maps"
	"slices"
	"testing"
)

const frame = 960

// stamp is an uplink whose frame of tick t holds the value base+t, so a
// forwarded frame shows which tick it came from. Ticks listed in gaps have
// no audio.
type stamp struct {
	base  int16
	tick  int16
	gaps  map[int16]bool
	reads int
}

func (u *stamp) ReadFrame(dst []int16) bool {
	u.tick++
	u.reads++
	if u.gaps[u.tick] {
		return false
	}
	for i := range dst {
		dst[i] = u.base + u.tick
	}
	return true
}

// leveled is a stamp that reports its own level.
type leveled struct {
	stamp
	level  uint8
	ok     bool
	levels int
}

func (u *leveled) ReadLevel() (uint8, bool) {
	u.levels++
	u.tick++ // the level consumes the tick's frame
	return u.level, u.ok
}

func (u *leveled) ReadFrame(dst []int16) bool {
	u.reads++
	for i := range dst {
		dst[i] = u.base + u.tick
	}
	return true
}

func newSel(t *testing.T, depth int) *Selector {
	t.Helper()
	s, err := New(Config{FrameSamples: frame, Depth: depth})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func forwarded(fs []ForwardedFrame) map[ParticipantID]int16 {
	out := map[ParticipantID]int16{}
	for _, f := range fs {
		out[f.ParticipantID] = f.PCM[0]
	}
	return out
}

func TestNewRejectsNoFrame(t *testing.T) {
	if _, err := New(Config{}); !errors.Is(err, ErrFrameSize) {
		t.Fatalf("New = %v, want ErrFrameSize", err)
	}
}

func TestAddTwiceFails(t *testing.T) {
	s := newSel(t, 0)
	if err := s.Add("a", &stamp{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Add("a", &stamp{}); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("second Add = %v, want ErrDuplicate", err)
	}
	if s.Depth() != DefaultDepth {
		t.Errorf("Depth = %d, want %d", s.Depth(), DefaultDepth)
	}
}

func TestReportMeasuresEveryUplinkInOneBatch(t *testing.T) {
	s := newSel(t, 3)
	s.Add("loud", &stamp{base: 3276}) // ≈ -20 dBov
	s.Add("quiet", &stamp{base: 32})  // ≈ -60 dBov
	s.Add("gappy", &stamp{base: 1000, gaps: map[int16]bool{1: true}})
	s.SetMuted("quiet", true)
	var rep EnergyReport
	s.Report(1, &rep)
	want := []EnergyEntry{
		{"loud", Level(fill(frame, 3277)), false},
		{"quiet", Level(fill(frame, 33)), true},
		{"gappy", Silence, false},
	}
	if rep.Tick != 1 || !slices.Equal(rep.Entries, want) {
		t.Fatalf("report = %+v, want tick 1 %+v", rep, want)
	}
	if rep.Entries[0].Level != 20 {
		t.Errorf("loud level = %d, want 20", rep.Entries[0].Level)
	}
}

func TestForward(t *testing.T) {
	tests := []struct {
		name      string
		giveTick  uint64 // the notice's tick, after reports of ticks 1..3
		giveIDs   []ParticipantID
		wantFrame map[ParticipantID]int16
	}{
		{"the current tick is forwarded from the cache", 3, []ParticipantID{"a", "b"},
			map[ParticipantID]int16{"a": 103, "b": 203}},
		{"a late notice still finds its tick's frames", 1, []ParticipantID{"a"},
			map[ParticipantID]int16{"a": 101}},
		{"a muted uplink is never forwarded", 3, []ParticipantID{"a", "muted"},
			map[ParticipantID]int16{"a": 103}},
		{"a frame with no audio is not forwarded", 2, []ParticipantID{"a", "gappy"},
			map[ParticipantID]int16{"a": 102}},
		{"an unknown uplink is ignored", 3, []ParticipantID{"nobody"}, map[ParticipantID]int16{}},
		{"a tick in the future is not forwarded", 4, []ParticipantID{"a"}, map[ParticipantID]int16{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSel(t, 3)
			s.Add("a", &stamp{base: 100})
			s.Add("b", &stamp{base: 200})
			s.Add("muted", &stamp{base: 300})
			s.Add("gappy", &stamp{base: 400, gaps: map[int16]bool{2: true}})
			s.SetMuted("muted", true)
			var rep EnergyReport
			for tick := uint64(1); tick <= 3; tick++ {
				s.Report(tick, &rep)
			}
			got := s.Forward(&SelectionNotice{Tick: tt.giveTick, Selected: tt.giveIDs}, nil)
			for _, f := range got {
				if f.Tick != tt.giveTick || len(f.PCM) != frame {
					t.Errorf("frame %+v: want tick %d and %d samples", f.ParticipantID, tt.giveTick, frame)
				}
			}
			if m := forwarded(got); !maps.Equal(m, tt.wantFrame) {
				t.Errorf("forwarded %v, want %v", m, tt.wantFrame)
			}
		})
	}
}

func TestForwardDropsFramesOlderThanTheRing(t *testing.T) {
	s := newSel(t, 3)
	s.Add("a", &stamp{base: 100})
	var rep EnergyReport
	for tick := uint64(1); tick <= 4; tick++ {
		s.Report(tick, &rep)
	}
	if got := s.Forward(&SelectionNotice{Tick: 1, Selected: []ParticipantID{"a"}}, nil); len(got) != 0 {
		t.Fatalf("tick 1 after tick 4 with depth 3 forwarded %v", forwarded(got))
	}
	got := s.Forward(&SelectionNotice{Tick: 2, Selected: []ParticipantID{"a"}}, nil)
	if m := forwarded(got); m["a"] != 102 {
		t.Fatalf("tick 2 after tick 4 forwarded %v, want a:102", m)
	}
}

func TestCacheLevelSkipsQuietFramesOfUnselectedUplinks(t *testing.T) {
	s, err := New(Config{FrameSamples: frame, CacheLevel: 50})
	if err != nil {
		t.Fatal(err)
	}
	s.Add("loud", &stamp{base: 3000}) // about -20 dBov
	s.Add("quiet", &stamp{base: 30})  // about -60 dBov
	var rep EnergyReport
	fwd := func(tick uint64, ids ...ParticipantID) map[ParticipantID]int16 {
		return forwarded(s.Forward(&SelectionNotice{Tick: tick, Selected: ids}, nil))
	}
	s.Report(1, &rep)
	s.Report(2, &rep)
	if got := fwd(2, "loud", "quiet"); !maps.Equal(got, map[ParticipantID]int16{"loud": 3002}) {
		t.Fatalf("tick 2 forwarded %v, want only loud (quiet was selected only now)", got)
	}
	s.Report(3, &rep) // quiet was selected by the last notice: cached
	if got := fwd(3, "loud"); !maps.Equal(got, map[ParticipantID]int16{"loud": 3003}) {
		t.Fatalf("tick 3 forwarded %v", got)
	}
	if got := fwd(3, "quiet"); !maps.Equal(got, map[ParticipantID]int16{"quiet": 33}) {
		t.Fatalf("a selected quiet uplink: tick 3 forwarded %v, want quiet 33", got)
	}
	s.Forward(&SelectionNotice{Tick: 3, Selected: []ParticipantID{"loud"}}, nil)
	s.Report(4, &rep) // released by the last notice: not cached again
	if got := fwd(4, "quiet"); len(got) != 0 {
		t.Fatalf("a released quiet uplink: tick 4 forwarded %v, want nothing", got)
	}
	// The default caches every frame with audio, digital silence too.
	d := newSel(t, 0)
	d.Add("zero", &stamp{base: -1})
	d.Report(1, &rep)
	if got := forwarded(d.Forward(&SelectionNotice{Tick: 1, Selected: []ParticipantID{"zero"}}, nil)); len(got) != 1 {
		t.Fatalf("default cache level: a silent frame was not cached")
	}
}

func TestLevelReaderIsReadOnlyWhenSelected(t *testing.T) {
	s := newSel(t, 3)
	lr := &leveled{stamp: stamp{base: 500}, level: 200, ok: true}
	s.Add("browser", lr)
	var rep EnergyReport
	for tick := uint64(1); tick <= 5; tick++ {
		s.Report(tick, &rep)
		if got := rep.Entries[0].Level; got != Silence {
			t.Fatalf("a level above 127 reported as %d, want clamped to %d", got, Silence)
		}
	}
	if lr.reads != 0 || lr.levels != 5 {
		t.Fatalf("unselected: %d PCM reads and %d level reads, want 0 and 5", lr.reads, lr.levels)
	}
	lr.level = 30
	s.Report(6, &rep)
	if rep.Entries[0].Level != 30 {
		t.Fatalf("level = %d, want 30", rep.Entries[0].Level)
	}
	n := &SelectionNotice{Tick: 6, Selected: []ParticipantID{"browser"}}
	got := s.Forward(n, nil)
	got = s.Forward(n, got) // a second ask in the same tick does not read again
	if lr.reads != 1 || len(got) != 2 || got[0].PCM[0] != 506 {
		t.Fatalf("selected: %d PCM reads, forwarded %v; want 1 read of frame 506", lr.reads, forwarded(got))
	}

	lr.ok = false
	s.Report(7, &rep)
	if rep.Entries[0].Level != Silence {
		t.Errorf("no level = %d, want silence", rep.Entries[0].Level)
	}
}

func TestRemoveKeepsTheOthers(t *testing.T) {
	s := newSel(t, 3)
	for _, id := range []ParticipantID{"a", "b", "c", "d"} {
		s.Add(id, &stamp{})
	}
	if !s.Remove("b") || s.Remove("b") {
		t.Fatal("Remove(b) twice: want true then false")
	}
	var rep EnergyReport
	s.Report(1, &rep)
	var ids []ParticipantID
	for _, e := range rep.Entries {
		ids = append(ids, e.ParticipantID)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []ParticipantID{"a", "c", "d"}) || s.Len() != 3 {
		t.Fatalf("after Remove(b) report holds %v", ids)
	}
	if got := s.Forward(&SelectionNotice{Tick: 1, Selected: []ParticipantID{"b", "d"}}, nil); len(got) != 1 || got[0].ParticipantID != "d" {
		t.Fatalf("forwarded %v, want only d", forwarded(got))
	}
}

func TestReportAndForwardDoNotAllocate(t *testing.T) {
	s := newSel(t, 3)
	var ids []ParticipantID
	for i := range 50 {
		id := ParticipantID(rune('A' + i))
		ids = append(ids, id)
		if i%2 == 0 {
			s.Add(id, &stamp{base: int16(i)})
		} else {
			s.Add(id, &leveled{stamp: stamp{base: int16(i)}, level: 20, ok: true})
		}
	}
	rep := EnergyReport{Entries: make([]EnergyEntry, 0, 50)}
	fwd := make([]ForwardedFrame, 0, 8)
	n := SelectionNotice{Selected: ids[:5]}
	tick := uint64(0)
	allocs := testing.AllocsPerRun(100, func() {
		tick++
		s.Report(tick, &rep)
		n.Tick = tick
		fwd = s.Forward(&n, fwd[:0])
	})
	if allocs != 0 {
		t.Fatalf("Report+Forward allocate %v times per tick, want 0", allocs)
	}
}

func TestCacheAllKeepsEveryFrameForTracks(t *testing.T) {
	s, err := New(Config{FrameSamples: frame, CacheLevel: 50})
	if err != nil {
		t.Fatal(err)
	}
	quiet := &stamp{base: 30, gaps: map[int16]bool{3: true}}
	lr := &leveled{stamp: stamp{base: 500}, level: 90, ok: true}
	s.Add("loud", &stamp{base: 3000})
	s.Add("quiet", quiet)
	s.Add("browser", lr)
	s.Add("muted", &stamp{base: 4000})
	s.SetMuted("muted", true)
	var rep EnergyReport
	s.Report(1, &rep)
	if got := forwarded(s.Frames(1, nil)); !maps.Equal(got, map[ParticipantID]int16{"loud": 3001}) {
		t.Fatalf("without SetCacheAll: frames %v, want only the loud one", got)
	}
	s.SetCacheAll(true)
	s.Report(2, &rep)
	want := map[ParticipantID]int16{"loud": 3002, "quiet": 32, "browser": 502}
	if got := forwarded(s.Frames(2, nil)); !maps.Equal(got, want) {
		t.Fatalf("tick 2 frames %v, want %v", got, want)
	}
	// Frames does not select: a Forward of only loud still forwards only
	// it, and the browser's PCM is not read a second time.
	reads := lr.reads
	if got := forwarded(s.Forward(&SelectionNotice{Tick: 2, Selected: []ParticipantID{"loud", "browser"}}, nil)); !maps.Equal(got, map[ParticipantID]int16{"loud": 3002, "browser": 502}) {
		t.Fatalf("forward after frames: %v", got)
	}
	if lr.reads != reads {
		t.Fatalf("the browser's frame was read %d more times", lr.reads-reads)
	}
	s.Report(3, &rep) // quiet has a gap at tick 3
	want = map[ParticipantID]int16{"loud": 3003, "browser": 503}
	if got := forwarded(s.Frames(3, nil)); !maps.Equal(got, want) {
		t.Fatalf("tick 3 frames %v, want %v", got, want)
	}
	// Still in the cache one tick later; gone after Depth ticks.
	s.Report(4, &rep)
	if got := forwarded(s.Frames(3, nil)); !maps.Equal(got, want) {
		t.Fatalf("tick 3 frames asked at tick 4: %v, want %v", got, want)
	}
	s.Report(5, &rep)
	s.Report(6, &rep)
	if got := s.Frames(3, nil); len(got) != 0 {
		t.Fatalf("tick 3 frames out of the cache: %v", forwarded(got))
	}
	if got := s.Frames(7, nil); len(got) != 0 {
		t.Fatalf("a future tick: %v", forwarded(got))
	}
	s.SetCacheAll(false)
	s.Report(7, &rep)
	if got := forwarded(s.Frames(7, nil)); !maps.Equal(got, map[ParticipantID]int16{"loud": 3007}) {
		t.Fatalf("after SetCacheAll(false): %v", got)
	}
}
