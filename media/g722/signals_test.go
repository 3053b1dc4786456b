package g722

import (
	"math"
	"math/rand/v2"
)

// Test signals at 16 kHz. All generators are deterministic.

const sampleRate = 16000

func clip16(v float64) int16 {
	v = math.Round(v)
	if v > 32767 {
		return 32767
	}
	if v < -32768 {
		return -32768
	}
	return int16(v)
}

// tone returns n samples of a sine of frequency f (Hz) and peak amplitude
// amp (in 16-bit units), starting at phase phi.
func tone(n int, f, amp, phi float64) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = clip16(amp * math.Sin(2*math.Pi*f*float64(i)/sampleRate+phi))
	}
	return out
}

// dBFS converts a level relative to full scale into a peak amplitude.
func dBFS(db float64) float64 { return 32767 * math.Pow(10, db/20) }

// whiteNoise returns n samples uniformly distributed in [-amp, amp].
func whiteNoise(n int, amp float64, seed uint64) []int16 {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	out := make([]int16, n)
	for i := range out {
		out[i] = clip16((2*r.Float64() - 1) * amp)
	}
	return out
}

// gaussNoise returns n samples of Gaussian noise of standard deviation sd.
func gaussNoise(n int, sd float64, seed uint64) []int16 {
	r := rand.New(rand.NewPCG(seed, 0x243f6a8885a308d3))
	out := make([]int16, n)
	for i := range out {
		out[i] = clip16(r.NormFloat64() * sd)
	}
	return out
}

// chirp returns a linear sweep from f0 to f1 Hz over n samples.
func chirp(n int, f0, f1, amp float64) []int16 {
	out := make([]int16, n)
	dur := float64(n) / sampleRate
	k := (f1 - f0) / dur
	for i := range out {
		t := float64(i) / sampleRate
		out[i] = clip16(amp * math.Sin(2*math.Pi*(f0*t+k*t*t/2)))
	}
	return out
}

// square returns a square wave of frequency f between lo and hi.
func square(n int, f float64, lo, hi int16) []int16 {
	out := make([]int16, n)
	half := sampleRate / (2 * f)
	for i := range out {
		if int(float64(i)/half)%2 == 0 {
			out[i] = hi
		} else {
			out[i] = lo
		}
	}
	return out
}
