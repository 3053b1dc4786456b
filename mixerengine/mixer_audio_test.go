package mixerengine

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/setbridge/setbridge/internal/audiotest"
	"github.com/setbridge/setbridge/media"
)

const rate = 48000

var tones = []float64{440, 1000, 1800}

func TestTalkersHearTheOthersAndListenersHearAll(t *testing.T) {
	h := newHarness(t, Config{Rate: rate})
	var talkers []*tone
	for i, f := range tones {
		p := &tone{rate: rate, freq: f, amp: 8000} // -12.3 dBFS each
		talkers = append(talkers, p)
		h.join(ParticipantID([]string{"a", "b", "c"}[i]), p)
	}
	listener := &tone{rate: rate, silent: true}
	h.join("listener", listener)
	h.rec = true
	h.steps(15)

	if got := h.talkers(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("talkers %v, want a b c", got)
	}
	want := 20 * math.Log10(8000.0/32768)
	const frames = 5 // 100 ms
	for i, p := range talkers {
		heard := p.last(frames)
		for j, f := range tones {
			got := audiotest.ToneLevelDB(heard, rate, f)
			if i == j && got > -70 {
				t.Errorf("talker %v Hz hears its own tone at %.1f dBFS, want none", tones[i], got)
			}
			if i != j && math.Abs(got-want) > 0.5 {
				t.Errorf("talker %v Hz hears %v Hz at %.1f dBFS, want %.1f", tones[i], f, got, want)
			}
		}
	}
	heard := listener.last(frames)
	for _, f := range tones {
		if got := audiotest.ToneLevelDB(heard, rate, f); math.Abs(got-want) > 0.5 {
			t.Errorf("listener hears %v Hz at %.1f dBFS, want %.1f", f, got, want)
		}
	}
	// The tap is exactly what the listener heard, tick by tick.
	if tap := slices.Concat(h.mixes[len(h.mixes)-frames:]...); !slices.Equal(tap, heard) {
		t.Error("the tap differs from the listener's mix")
	}
}

func TestRankingByMeasuredEnergy(t *testing.T) {
	h := newHarness(t, Config{Rate: rate, TopK: 2})
	amps := map[ParticipantID]float64{"soft": 1000, "loud": 16000, "noise": 40, "medium": 4000}
	for _, id := range []ParticipantID{"soft", "loud", "noise", "medium"} {
		h.join(id, &tone{rate: rate, freq: 1000, amp: amps[id]})
	}
	h.steps(10)
	if got := h.talkers(); !slices.Equal(got, []string{"loud", "medium"}) {
		t.Fatalf("talkers %v, want loud and medium", got)
	}
	if err := h.e.SetTopK(h.room, 4); err != nil {
		t.Fatal(err)
	}
	h.step()
	// -61 dBov of noise stays below the -50 dBov threshold.
	if got := h.talkers(); !slices.Equal(got, []string{"loud", "medium", "soft"}) {
		t.Fatalf("talkers %v, want loud, medium and soft", got)
	}
}

func TestMutedTalkerIsNeverHeard(t *testing.T) {
	h := newHarness(t, Config{Rate: rate})
	ms := map[float64]*Member{}
	for i, f := range tones {
		ms[f] = h.join(ParticipantID([]string{"a", "b", "c"}[i]), &tone{rate: rate, freq: f, amp: 8000})
	}
	listener := &tone{rate: rate, silent: true}
	h.join("listener", listener)
	ms[1000].SetMuted(true)
	h.steps(10)
	heard := listener.last(5)
	if got := audiotest.ToneLevelDB(heard, rate, 1000); got > -70 {
		t.Errorf("muted 1000 Hz heard at %.1f dBFS", got)
	}
	if got := audiotest.ToneLevelDB(heard, rate, 440); got < -13 {
		t.Errorf("440 Hz heard at %.1f dBFS, want about -12", got)
	}
	ms[1000].SetMuted(false)
	h.steps(10)
	if got := audiotest.ToneLevelDB(listener.last(5), rate, 1000); got < -13 {
		t.Errorf("unmuted 1000 Hz heard at %.1f dBFS, want about -12", got)
	}
	if ms[440].Muted() || ms[1000].Muted() {
		t.Error("Muted does not report SetMuted")
	}
}

// TestLimiterWithSixFullScaleTalkers sums six full-scale talkers in phase:
// the listener hears five (K=5) and each talker four. A plain int16 sum
// would wrap; a clipper would square the waves off.
func TestLimiterWithSixFullScaleTalkers(t *testing.T) {
	tests := []struct {
		name   string
		square bool
	}{
		{"sine", false},
		{"square", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, Config{Rate: rate})
			var ps []*tone
			for i := range 6 {
				p := &tone{rate: rate, freq: 1000, amp: 32767, square: tt.square}
				ps = append(ps, p)
				h.join(ParticipantID(rune('a'+i)), p)
			}
			listener := &tone{rate: rate, silent: true}
			h.join("listener", listener)
			const ticks = 50
			h.steps(ticks)
			if got := len(h.e.Talkers(h.room)); got != 5 {
				t.Fatalf("%d talkers, want 5", got)
			}
			ref := &tone{rate: rate, freq: 1000, amp: 1, square: tt.square}
			delay := blockSamples(media.FrameSamples(rate)) // the limiter's look-ahead
			for i, p := range append(ps, listener) {
				heard := p.last(ticks)
				var peak int
				for n, v := range heard {
					peak = max(peak, abs(int(v)))
					if want := ref.sample(n - delay); float64(v)*want < 0 {
						t.Fatalf("stream %d sample %d: %d has the wrong sign (wrap-around)", i, n, v)
					}
					if n > 0 && !tt.square && abs(int(v)-int(heard[n-1])) > 4000 {
						t.Fatalf("stream %d sample %d: jump %d → %d (a sine at the ceiling moves at most 3823 per sample)",
							i, n, heard[n-1], v)
					}
				}
				if peak > limitCeiling {
					t.Errorf("stream %d peaks at %d, above the %d ceiling", i, peak, limitCeiling)
				}
				if !tt.square {
					steady := p.last(10)
					fund := audiotest.ToneLevelDB(steady, rate, 1000)
					third := audiotest.ToneLevelDB(steady, rate, 3000)
					if fund < -1.5 || third > fund-50 {
						t.Errorf("stream %d: 1 kHz at %.1f dBFS, 3 kHz at %.1f dBFS; want about -1 and no distortion", i, fund, third)
					}
				}
			}
		})
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// ticker speaks frames whose every sample is 1000 × the tick number.
type ticker struct{ n int16 }

func (p *ticker) ReadFrame(dst []int16) bool {
	p.n++
	for i := range dst {
		dst[i] = 1000 * p.n
	}
	return true
}

func (p *ticker) WriteFrame([]int16) {}

func TestMixDelayKeepsANewTalkersFirstFrames(t *testing.T) {
	tests := []struct {
		name      string
		giveDelay int
		wantFrame int16 // whose frame the listener hears on the tick the talker is selected
	}{
		{"without delay the frames spent qualifying are lost", 0, 3},
		{"with Confirm-1 ticks of delay the first frame is heard", 2, 1},
		{"a delay beyond the cache is clamped", 7, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, Config{Rate: rate, MixDelay: tt.giveDelay})
			h.join("talker", &ticker{})
			listener := &tone{rate: rate, silent: true}
			h.join("listener", listener)
			h.steps(3) // selected on tick 3
			if got := h.talkers(); len(got) != 1 {
				t.Fatalf("talkers %v", got)
			}
			heard := listener.last(1)
			// The limiter holds back one block, so look past it.
			if got := heard[len(heard)/2] / 1000; got != tt.wantFrame {
				t.Errorf("heard frame %d, want %d", got, tt.wantFrame)
			}
		})
	}
}

// TestBigRoomReportsInParallel runs a room big enough for its selectors to
// report on helper goroutines and checks it ranks and mixes as a small one.
func TestBigRoomReportsInParallel(t *testing.T) {
	h := newHarness(t, Config{Rate: rate, Selectors: 3})
	var talkers []*tone
	for i := range MinParallel + 50 {
		p := &tone{rate: rate, freq: 1000, amp: 40} // room noise, -61 dBov
		if i%100 == 7 && len(talkers) < len(tones) {
			p = &tone{rate: rate, freq: tones[len(talkers)], amp: 8000}
			talkers = append(talkers, p)
		}
		h.join(ParticipantID(fmt.Sprintf("p%03d", i)), p)
	}
	listener := &tone{rate: rate, silent: true}
	h.join("listener", listener)
	h.steps(10)
	if got := h.talkers(); !slices.Equal(got, []string{"p007", "p107", "p207"}) {
		t.Fatalf("talkers %v, want p007 p107 p207", got)
	}
	room := h.e.room(h.room)
	if room == nil || len(room.shards) != 3 || room.shards[1].start == nil {
		t.Fatal("the room's selectors did not report in parallel")
	}
	want := 20 * math.Log10(8000.0/32768)
	heard := listener.last(5)
	for _, f := range tones {
		if got := audiotest.ToneLevelDB(heard, rate, f); math.Abs(got-want) > 0.5 {
			t.Errorf("listener hears %v Hz at %.1f dBFS, want %.1f", f, got, want)
		}
	}
	// Each talker hears the other two and not itself.
	for i, p := range talkers {
		if got := audiotest.ToneLevelDB(p.last(5), rate, tones[i]); got > -70 {
			t.Errorf("talker %v Hz hears itself at %.1f dBFS", tones[i], got)
		}
	}
}
