package selector

import (
	"math"
	"math/rand/v2"
	"testing"
)

func sine(n, rate int, freq, peak float64) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(math.Round(peak * math.Sin(2*math.Pi*freq*float64(i)/float64(rate))))
	}
	return out
}

func fill(n int, v int16) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestLevel(t *testing.T) {
	square := make([]int16, 960)
	for i := range square {
		square[i] = math.MaxInt16
		if i%2 == 1 {
			square[i] = math.MinInt16
		}
	}
	tests := []struct {
		name string
		give []int16
		want uint8
	}{
		{"an empty frame is silence", nil, Silence},
		{"digital silence is 127", make([]int16, 960), Silence},
		{"a full-scale square wave is 0 dBov", square, 0},
		{"a full-scale negative DC is 0 dBov", fill(960, math.MinInt16), 0},
		{"a full-scale sine is 3 dBov", sine(960, 48000, 1000, 32767), 3},
		{"a -20 dBFS sine is 23 dBov", sine(960, 48000, 1000, 3277), 23},
		{"a -50 dBFS sine is 53 dBov", sine(960, 48000, 440, 104), 53},
		{"an 8 kHz frame measures the same", sine(160, 8000, 1000, 3277), 23},
		{"one LSB of DC is 90 dBov", fill(960, 1), 90},
		{"a lone LSB in a frame is 120 dBov", append(make([]int16, 959), 1), 120},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Level(tt.give); got != tt.want {
				t.Errorf("Level = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestLevelOfMatchesTheLogarithm(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for range 100000 {
		ms := math.Pow(10, -rng.Float64()*14) // 0 to -140 dB
		want := math.Round(-10 * math.Log10(ms))
		want = max(0, min(want, float64(Silence)))
		if got := levelOf(ms); float64(got) != want {
			t.Fatalf("levelOf(%g) = %d, want %v", ms, got, want)
		}
	}
	if got := levelOf(1.5); got != 0 {
		t.Errorf("levelOf above full scale = %d, want 0", got)
	}
}

func TestSumSquaresIsExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := range 100 {
		x := make([]int16, n)
		for i := range x {
			x[i] = int16(rng.IntN(65536) - 32768)
		}
		if n > 3 {
			x[0], x[1], x[2] = math.MinInt16, math.MinInt16, math.MaxInt16
		}
		if got, want := sumSquares(x), reference(x); got != want {
			t.Fatalf("n=%d: sumSquares = %d, want %d", n, got, want)
		}
		if got, want := sumSquaresGeneric(x), reference(x); got != want {
			t.Fatalf("n=%d: sumSquaresGeneric = %d, want %d", n, got, want)
		}
	}
}

func reference(x []int16) uint64 {
	var sum uint64
	for _, v := range x {
		sum += uint64(int64(v) * int64(v))
	}
	return sum
}

func TestSumSquaresOfExtremes(t *testing.T) {
	for _, n := range []int{16, 160, 320, 960, 1920 + 7} {
		for _, v := range []int16{math.MinInt16, math.MaxInt16, -1, 1} {
			x := fill(n, v)
			if got, want := sumSquares(x), reference(x); got != want {
				t.Errorf("%d × %d: sumSquares = %d, want %d", n, v, got, want)
			}
		}
	}
}

func BenchmarkLevel(b *testing.B) {
	x := sine(960, 48000, 1000, 3277)
	b.SetBytes(int64(2 * len(x)))
	for b.Loop() {
		Level(x)
	}
}

func BenchmarkSumSquaresGeneric(b *testing.B) {
	x := sine(960, 48000, 1000, 3277)
	b.SetBytes(int64(2 * len(x)))
	for b.Loop() {
		sumSquaresGeneric(x)
	}
}
