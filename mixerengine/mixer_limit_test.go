package mixerengine

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/setbridge/setbridge/media"
)

// runLimiter feeds in frame by frame and returns the output.
func runLimiter(in []int32, frame int) []int16 {
	l := newLimiter(frame)
	out := make([]int16, len(in))
	for i := 0; i+frame <= len(in); i += frame {
		l.process(out[i:i+frame], in[i:i+frame])
	}
	return out
}

func TestBlockSamples(t *testing.T) {
	for _, tt := range []struct{ give, want int }{{960, 48}, {320, 16}, {160, 8}, {882, 42}} {
		if got := blockSamples(tt.give); got != tt.want {
			t.Errorf("blockSamples(%d) = %d, want %d", tt.give, got, tt.want)
		}
	}
}

func TestLimiterIsADelayedCopyBelowTheCeiling(t *testing.T) {
	const frame = 960
	rng := rand.New(rand.NewPCG(1, 1))
	in := make([]int32, 50*frame)
	for i := range in {
		in[i] = int32(rng.IntN(2*limitCeiling+1) - limitCeiling)
	}
	out := runLimiter(in, frame)
	d := blockSamples(frame)
	for i := d; i < len(out); i++ {
		if int32(out[i]) != in[i-d] {
			t.Fatalf("sample %d: %d, want %d (input delayed by %d)", i, out[i], in[i-d], d)
		}
	}
}

func TestLimiterKeepsLoudSumsWithinTheCeiling(t *testing.T) {
	const frame = 960
	rng := rand.New(rand.NewPCG(2, 2))
	in := make([]int32, 100*frame)
	for i := range in {
		// Bursts of up to sixteen full-scale talkers between quiet stretches.
		peak := 16 * 32768
		if (i/frame)%7 < 3 {
			peak = 3000
		}
		in[i] = int32(rng.IntN(2*peak+1) - peak)
	}
	out := runLimiter(in, frame)
	d := blockSamples(frame)
	for i := d; i < len(out); i++ {
		if abs(int(out[i])) > limitCeiling {
			t.Fatalf("sample %d: %d is above the ceiling", i, out[i])
		}
		if int64(out[i])*int64(in[i-d]) < 0 {
			t.Fatalf("sample %d: %d has the sign of neither input %d (wrap-around)", i, out[i], in[i-d])
		}
	}
}

func TestLimiterGainMovesSmoothly(t *testing.T) {
	frame := media.FrameSamples(48000)
	d := blockSamples(frame)
	// A quiet DC, a loud DC for 200 ms, then a DC the ceiling allows: the
	// gain (out/in) is visible on every sample.
	in := make([]int32, 60*frame)
	for i := range in {
		switch {
		case i < 10*frame:
			in[i] = 3000
		case i < 20*frame:
			in[i] = 200000
		default:
			in[i] = 10000
		}
	}
	out := runLimiter(in, frame)
	var prev float64 = 1
	for i := d; i < len(out); i++ {
		g := float64(out[i]) / float64(in[i-d])
		if math.Abs(g-prev) > 1.0/float64(d)+1e-3 {
			t.Fatalf("sample %d: gain jumps from %.4f to %.4f; the attack is a 1 ms fade", i, prev, g)
		}
		prev = g
	}
	// The loud DC is held at the ceiling, and the gain recovers within
	// 500 ms (5 time constants) of the end of the burst.
	if got := out[15*frame]; got < limitCeiling-1 || got > limitCeiling {
		t.Errorf("loud DC limited to %d, want %d", got, limitCeiling)
	}
	if g := float64(out[45*frame]) / 10000; g < 0.99 {
		t.Errorf("gain 500 ms after the burst is %.3f, want ≥ 0.99", g)
	}
	if g := float64(out[25*frame]) / 10000; g > 0.8 {
		t.Errorf("gain 100 ms after the burst is %.3f; the release is too fast", g)
	}
}
