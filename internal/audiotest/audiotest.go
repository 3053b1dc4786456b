// Package audiotest holds the signal checks that integration tests use on
// recorded audio: tone detection (Goertzel), levels, cross-correlation, and
// generators for test signals. Samples are signed 16-bit PCM, one channel.
//
// Levels are in dB relative to full scale with the AES17 convention: a sine
// whose peak is full scale (32768) reads 0 dB, both in ToneLevelDB and in
// RMSdBFS, so for a pure tone the two agree. Silence reads -Inf.
package audiotest

import (
	"math"
	"time"
)

// fullScale is the int16 full-scale amplitude.
const fullScale = 32768.0

// Goertzel measures the power of one frequency in samples, using a Hann
// window and the Goertzel recurrence (valid for any frequency, not only bin
// centres). The result is a linear power ratio normalised so that a sine of
// that frequency with full-scale peak amplitude gives 1.0 (0 dBFS); a sine of
// amplitude a (as a fraction of full scale) gives a².
//
// The Hann window keeps leakage from other frequencies low: a tone more than
// about 4·rate/len(samples) Hz away is attenuated by more than 30 dB, and much
// more further out. Use at least 20 ms of signal for 50 Hz resolution.
func Goertzel(samples []int16, rate int, freq float64) float64 {
	n := len(samples)
	if n < 2 || rate <= 0 {
		return 0
	}
	w := 2 * math.Pi * freq / float64(rate)
	coeff := 2 * math.Cos(w)
	var s1, s2, wsum float64
	for i, v := range samples {
		win := 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(n-1))
		wsum += win
		s0 := float64(v)*win + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	// |X(w)|² from the last two states.
	power := s1*s1 + s2*s2 - coeff*s1*s2
	if power < 0 {
		power = 0
	}
	// A sine of peak A gives |X| ≈ A·wsum/2.
	norm := wsum / 2 * fullScale
	return power / (norm * norm)
}

// ToneLevelDB is Goertzel in dB: the level of freq in samples, in dBFS
// (a full-scale sine at freq reads 0 dB, half amplitude -6 dB).
func ToneLevelDB(samples []int16, rate int, freq float64) float64 {
	return powerDB(Goertzel(samples, rate, freq))
}

// DominantTone returns which of the candidate frequencies is strongest in
// samples, with its level in dBFS. It returns (0, -Inf) when candidates is
// empty.
func DominantTone(samples []int16, rate int, candidates []float64) (freq, levelDB float64) {
	levelDB = math.Inf(-1)
	for i, f := range candidates {
		if l := ToneLevelDB(samples, rate, f); i == 0 || l > levelDB {
			freq, levelDB = f, l
		}
	}
	return freq, levelDB
}

// HasTone reports whether freq is present in samples at minDB dBFS or more.
// It says nothing about other content; to require a clean tone, compare
// ToneLevelDB with RMSdBFS too.
func HasTone(samples []int16, rate int, freq, minDB float64) bool {
	return ToneLevelDB(samples, rate, freq) >= minDB
}

// RMSdBFS is the RMS level of samples in dBFS, AES17 convention (a
// full-scale sine reads 0 dB; raw 20·log10(rms/32768) is 3.01 dB lower).
// Empty or all-zero input reads -Inf.
func RMSdBFS(samples []int16) float64 {
	if len(samples) == 0 {
		return math.Inf(-1)
	}
	var sum float64
	for _, v := range samples {
		sum += float64(v) * float64(v)
	}
	ms := sum / float64(len(samples))
	// Full-scale sine has mean square fullScale²/2.
	return powerDB(ms / (fullScale * fullScale / 2))
}

// PeakDBFS is the absolute peak of samples in dB relative to 32768.
func PeakDBFS(samples []int16) float64 {
	peak := 0
	for _, v := range samples {
		a := int(v)
		if a < 0 {
			a = -a
		}
		if a > peak {
			peak = a
		}
	}
	return 20 * math.Log10(float64(peak)/fullScale)
}

func powerDB(p float64) float64 {
	if p <= 0 {
		return math.Inf(-1)
	}
	return 10 * math.Log10(p)
}

// CrossCorrelate finds the lag at which b best matches a, searching lags in
// [-maxLag, maxLag], and returns it with the normalised correlation at that
// lag. A positive lag means b is a delayed by lag samples: b[i+lag] ≈ a[i].
//
// The coefficient is Σ a[i]·b[i+lag] / sqrt(Σa²·Σb²) with both signals' means
// removed first and the sums over the whole signals, so it is 1 for identical
// signals, close to 1 for a shifted copy that keeps most of its samples, near
// 0 for unrelated ones, and negative for an inverted copy (the search
// maximises the signed value). If either signal has no energy it returns
// (0, 0). It runs in O(n log n) via an FFT.
func CrossCorrelate(a, b []int16, maxLag int) (lag int, coeff float64) {
	if len(a) == 0 || len(b) == 0 {
		return 0, 0
	}
	if maxLag < 0 {
		maxLag = -maxLag
	}
	fa, ea := centred(a)
	fb, eb := centred(b)
	if ea == 0 || eb == 0 {
		return 0, 0
	}
	// r[lag] = Σ_i a[i]·b[i+lag], computed as a circular correlation over a
	// length that cannot wrap within the lags of interest.
	size := 1
	for size < len(a)+len(b) {
		size <<= 1
	}
	xa := make([]complex128, size)
	xb := make([]complex128, size)
	for i, v := range fa {
		xa[i] = complex(v, 0)
	}
	for i, v := range fb {
		xb[i] = complex(v, 0)
	}
	fft(xa, false)
	fft(xb, false)
	for i := range xa {
		xa[i] = complex(real(xa[i]), -imag(xa[i])) * xb[i]
	}
	fft(xa, true)
	corr := func(l int) float64 {
		if l >= len(b) || -l >= len(a) {
			return 0
		}
		if l < 0 {
			l += size
		}
		return real(xa[l]) / float64(size)
	}
	best := math.Inf(-1)
	for l := -maxLag; l <= maxLag; l++ {
		if c := corr(l); c > best || (c == best && abs(l) < abs(lag)) {
			best, lag = c, l
		}
	}
	return lag, best / math.Sqrt(ea*eb)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// centred returns s as float64 with its mean removed, and its energy.
func centred(s []int16) ([]float64, float64) {
	var mean float64
	for _, v := range s {
		mean += float64(v)
	}
	mean /= float64(len(s))
	out := make([]float64, len(s))
	var e float64
	for i, v := range s {
		out[i] = float64(v) - mean
		e += out[i] * out[i]
	}
	return out, e
}

// fft is an in-place iterative radix-2 FFT; len(x) must be a power of two.
// With inverse set it computes the unscaled inverse transform.
func fft(x []complex128, inverse bool) {
	n := len(x)
	for i, j := 1, 0; i < n; i++ {
		bit := n >> 1
		for ; j&bit != 0; bit >>= 1 {
			j ^= bit
		}
		j ^= bit
		if i < j {
			x[i], x[j] = x[j], x[i]
		}
	}
	sign := -1.0
	if inverse {
		sign = 1
	}
	for length := 2; length <= n; length <<= 1 {
		ang := sign * 2 * math.Pi / float64(length)
		wl := complex(math.Cos(ang), math.Sin(ang))
		for i := 0; i < n; i += length {
			w := complex(1, 0)
			half := length / 2
			for k := 0; k < half; k++ {
				u := x[i+k]
				v := x[i+k+half] * w
				x[i+k] = u + v
				x[i+k+half] = u - v
				w *= wl
			}
		}
	}
}

// Samples returns how many samples dur lasts at rate.
func Samples(rate int, dur time.Duration) int {
	return int(math.Round(dur.Seconds() * float64(rate)))
}

// GenTone makes a sine of freq Hz lasting dur at rate, with peak amplitude
// amp as a fraction of full scale (1.0 = 32767; values are clipped).
func GenTone(rate int, freq, amp float64, dur time.Duration) []int16 {
	n := Samples(rate, dur)
	out := make([]int16, n)
	for i := range out {
		out[i] = clip16(amp * 32767 * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
	}
	return out
}

// GenSilence makes dur of zero samples at rate.
func GenSilence(rate int, dur time.Duration) []int16 {
	return make([]int16, Samples(rate, dur))
}

// GenNoise makes white noise with the given RMS level in dBFS (AES17, as
// RMSdBFS), from a fixed seed so tests are repeatable.
func GenNoise(rate int, levelDB float64, dur time.Duration, seed uint64) []int16 {
	n := Samples(rate, dur)
	out := make([]int16, n)
	// Uniform in [-A, A] has RMS A/√3; target RMS is fullScale/√2·10^(dB/20).
	a := math.Sqrt(3) * fullScale / math.Sqrt2 * math.Pow(10, levelDB/20)
	x := seed | 1
	for i := range out {
		// xorshift64*
		x ^= x >> 12
		x ^= x << 25
		x ^= x >> 27
		u := float64((x*2685821657736338717)>>11) / float64(1<<53)
		out[i] = clip16((2*u - 1) * a)
	}
	return out
}

// Mix adds signals sample by sample (with clipping); the result is as long
// as the longest.
func Mix(signals ...[]int16) []int16 {
	n := 0
	for _, s := range signals {
		n = max(n, len(s))
	}
	acc := make([]float64, n)
	for _, s := range signals {
		for i, v := range s {
			acc[i] += float64(v)
		}
	}
	out := make([]int16, n)
	for i, v := range acc {
		out[i] = clip16(v)
	}
	return out
}

// Concat joins signals end to end.
func Concat(signals ...[]int16) []int16 {
	var out []int16
	for _, s := range signals {
		out = append(out, s...)
	}
	return out
}

// Slice returns the samples between from and to (clamped to the signal);
// to <= 0 means the end.
func Slice(samples []int16, rate int, from, to time.Duration) []int16 {
	i := min(max(Samples(rate, from), 0), len(samples))
	j := len(samples)
	if to > 0 {
		j = min(max(Samples(rate, to), i), len(samples))
	}
	return samples[i:j]
}

// ToneOnset scans samples in blocks of the given length and returns the
// start time of the first block in which freq reaches minDB dBFS, or false
// if none does. It locates when a tone starts in a recording (to within one
// block); 20–50 ms blocks suit speech-band tones.
func ToneOnset(samples []int16, rate int, freq, minDB float64, block time.Duration) (time.Duration, bool) {
	n := Samples(rate, block)
	if n < 2 {
		n = 2
	}
	for i := 0; i+n <= len(samples); i += n {
		if HasTone(samples[i:i+n], rate, freq, minDB) {
			return time.Duration(float64(i) / float64(rate) * float64(time.Second)), true
		}
	}
	return 0, false
}

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
