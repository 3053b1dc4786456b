package mixerengine

import (
	"slices"
	"sync"
	"testing"
)

// tracks collects a TrackTap's frames per participant.
type tracks struct {
	mu     sync.Mutex
	frames map[ParticipantID][][]int16
	ticks  map[ParticipantID][]uint64
}

func (tr *tracks) add(tick uint64, p ParticipantID, pcm []int16) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.frames[p] = append(tr.frames[p], slices.Clone(pcm))
	tr.ticks[p] = append(tr.ticks[p], tick)
}

func TestTrackTapHandsOverWhatEachParticipantSaid(t *testing.T) {
	h := newHarness(t, Config{Rate: 8000, TopK: 1})
	tr := &tracks{frames: map[ParticipantID][][]int16{}, ticks: map[ParticipantID][]uint64{}}
	stop := h.e.TrackTap(h.room, tr.add)
	loud := &tone{rate: 8000, freq: 440, amp: 8000}
	quiet := &tone{rate: 8000, freq: 1000, amp: 40} // far below the threshold: never mixed
	muted := &tone{rate: 8000, freq: 700, amp: 8000}
	h.join("loud", loud)
	h.join("quiet", quiet)
	h.join("muted", muted).SetMuted(true)
	h.join("ranked", newScripted(20)) // ranks by its level, a constant 100 when read
	h.rec = true
	const n = 50
	h.steps(n)
	stop()
	h.steps(3)

	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, p := range []ParticipantID{"loud", "quiet", "muted", "ranked"} {
		if len(tr.frames[p]) != n {
			t.Fatalf("%s: %d track frames, want %d (one per tick, none after stop)", p, len(tr.frames[p]), n)
		}
		for i, tick := range tr.ticks[p] {
			if tick != uint64(i+1) {
				t.Fatalf("%s: frame %d has tick %d", p, i, tick)
			}
		}
	}
	// The tones' tracks are their samples exactly, the quiet one's too.
	for _, c := range []struct {
		id ParticipantID
		p  *tone
	}{{"loud", loud}, {"quiet", quiet}} {
		got := slices.Concat(tr.frames[c.id]...)
		for i, v := range got {
			if want := int16(c.p.sample(i) + copysignHalf(c.p.sample(i))); v != want {
				t.Fatalf("%s: sample %d = %d, want %d", c.id, i, v, want)
			}
		}
	}
	for _, f := range tr.frames["muted"] {
		if slices.ContainsFunc(f, func(v int16) bool { return v != 0 }) {
			t.Fatal("a muted participant's track is not silent")
		}
	}
	for i, f := range tr.frames["ranked"] {
		if f[0] != 100 || f[len(f)-1] != 100 {
			t.Fatalf("the LevelReader's frame %d = %d, want its PCM (100) though it never talked", i, f[0])
		}
	}
	// Aligned with the mix: once loud is the talker, the mix is loud's
	// track, delayed only by the limiter's look-ahead block.
	d := blockSamples(160)
	mix := slices.Concat(h.mixes[:n]...)
	track := slices.Concat(tr.frames["loud"]...)
	from := 5 * 160 // loud is confirmed as the talker within a few ticks
	if !slices.Equal(mix[from+d:], track[from:len(track)-d]) {
		for i := from + d; i < len(mix); i++ {
			if mix[i] != track[i-d] {
				t.Logf("first difference at %d: mix %d track %d", i, mix[i], track[i-d])
				break
			}
		}
		t.Fatal("the mix is not loud's track delayed by the limiter's block")
	}
	if slices.Equal(mix[from:], track[from:]) {
		t.Fatal("the check above cannot tell alignment apart")
	}
}

func copysignHalf(v float64) float64 {
	if v < 0 {
		return -0.5
	}
	return 0.5
}
