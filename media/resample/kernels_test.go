package resample

import (
	"math/rand/v2"
	"testing"
)

// randWindow fills b with random samples: mostly noise of a random peak,
// sometimes full-scale square-ish runs so that outputs saturate.
func randWindow(rng *rand.Rand, b []float32) {
	peak := []int{1, 100, 3000, 20000, 32768}[rng.IntN(5)]
	for i := range b {
		b[i] = float32(rng.IntN(2*peak) - peak)
	}
	if rng.IntN(4) == 0 {
		v := float32(32767)
		for i := range b {
			if rng.IntN(40) == 0 {
				v = -v - 1
			}
			b[i] = v
		}
	}
}

func within1(t *testing.T, what string, got, want []int16) {
	t.Helper()
	for i := range want {
		if d := int(got[i]) - int(want[i]); d < -1 || d > 1 {
			t.Fatalf("%s: output %d = %d, pure Go gives %d", what, i, got[i], want[i])
		}
	}
}

// TestKernelsMatchGeneric: the block kernels Process uses (assembly where
// the CPU has it) agree with the pure-Go reference within ±1 after rounding
// to int16, for every ratio, for chunk sizes that are and are not whole
// kernel blocks, and write nothing outside their output.
func TestKernelsMatchGeneric(t *testing.T) {
	t.Logf("useAVX2 = %v", useAVX2)
	rng := rand.New(rand.NewPCG(7, 7))
	const guard = 8
	for _, up := range []int{2, 3, 6} {
		bk := getBank(up, 1)
		for trial := 0; trial < 300; trial++ {
			count := 1 + rng.IntN(200)
			if trial < 100 {
				count = []int{1, 15, 16, 17, 23, 24, 25, 31, 32, 33, 160, 320, 1024}[trial%13]
			}
			b := make([]float32, count-1+bk.taps)
			randWindow(rng, b)
			want := make([]int16, count*up)
			got := make([]int16, count*up+guard)
			for i := range got {
				got[i] = 12345
			}
			interpGeneric(want, bk.coef, b, count, up, bk.taps)
			interpolate(got[:count*up], bk.coef, b, count, up, bk.taps)
			within1(t, "interpolate", got, want)
			for _, v := range got[count*up:] {
				if v != 12345 {
					t.Fatalf("up %d count %d: wrote past the output", up, count)
				}
			}
		}
	}
	for _, down := range []int{2, 3, 6} {
		bk := getBank(1, down)
		for trial := 0; trial < 300; trial++ {
			count := 1 + rng.IntN(40)
			pos := rng.IntN(down)
			b := make([]float32, pos+(count-1)*down+bk.taps)
			randWindow(rng, b)
			want := make([]int16, count)
			got := make([]int16, count+guard)
			for i := range got {
				got[i] = 12345
			}
			decimGeneric(want, bk.coef, b, pos, count, down)
			decimate(got[:count], bk.coef, b, pos, count, down)
			within1(t, "decimate", got, want)
			for _, v := range got[count:] {
				if v != 12345 {
					t.Fatalf("down %d count %d: wrote past the output", down, count)
				}
			}
		}
	}
}

// TestKernelsMatchGenericProcess: whole streams through Process agree
// with the pure-Go reference within ±1 sample by sample.
func TestKernelsMatchGenericProcess(t *testing.T) {
	for _, p := range pairs {
		in, out := p[0], p[1]
		src := noise(in, 12000, uint64(in*7+out))
		for i, v := range tone(in, 1234, 20000, len(src)) {
			src[i] += v
		}
		got := oneShot(t, in, out, src)

		// The same through the pure-Go kernels, in one chunk.
		r := mustNew(t, in, out)
		b := make([]float32, r.taps-1+len(src))
		for i, s := range src {
			b[r.taps-1+i] = float32(s)
		}
		var want []int16
		if r.up > 1 {
			want = make([]int16, len(src)*r.up)
			interpGeneric(want, r.coef, b, len(src), r.up, r.taps)
		} else {
			want = make([]int16, (len(src)+r.down-1)/r.down)
			decimGeneric(want, r.coef, b, 0, len(want), r.down)
		}
		within1(t, "Process", got, want)
	}
}

// One 20 ms frame per op, the conference server's two hot conversions.
func BenchmarkProcess8kTo48k(b *testing.B) { benchmarkFrames(b, 8000, 48000) }
func BenchmarkProcess48kTo8k(b *testing.B) { benchmarkFrames(b, 48000, 8000) }
