package ivr

import (
	"fmt"
	"math"
	"sync"

	"github.com/setbridge/setbridge/media/resample"
	"github.com/setbridge/setbridge/media/wav"
)

// Prompts are converted once, at load, never per frame. Between 8000,
// 16000 and 48000 Hz the conversion is media/resample's polyphase filter,
// with its group delay removed so that a prompt's first sample stays its
// first sample. Any other input rate (44100, 22050, 11025, 32000 Hz, ...)
// goes through sincConvert below.

// fixedRate reports whether media/resample handles rate.
func fixedRate(rate int) bool { return rate == 8000 || rate == 16000 || rate == 48000 }

// Input rates sincConvert accepts.
const (
	minInputRate = 8000
	maxInputRate = 192000
)

// toMono returns a's samples as mono, averaging the channels of stereo.
func toMono(a *wav.Audio) []int16 {
	if a.Channels == 1 {
		return a.Samples
	}
	out := make([]int16, a.Frames())
	for i := range out {
		l, r := int(a.Samples[2*i]), int(a.Samples[2*i+1])
		out[i] = int16((l + r) >> 1)
	}
	return out
}

// convertRate returns src converted from rate in to rate out, with
// round(len(src)·out/in) samples and no delay.
func convertRate(src []int16, in, out int) ([]int16, error) {
	switch {
	case in == out:
		return src, nil
	case fixedRate(in) && fixedRate(out):
		return resampleAligned(src, in, out)
	case in < minInputRate || in > maxInputRate:
		return nil, fmt.Errorf("%w: %d Hz (prompt files must be %d to %d Hz)", ErrUnsupportedRate, in, minInputRate, maxInputRate)
	}
	return sincConvert(src, in, out), nil
}

func outLen(n, in, out int) int { return int((int64(n)*int64(out) + int64(in)/2) / int64(in)) }

// resampleAligned runs src through media/resample, feeding zeros after it
// to flush the filter, and drops the filter's delay from the output.
func resampleAligned(src []int16, in, out int) ([]int16, error) {
	r, err := resample.New(in, out)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnsupportedRate, err)
	}
	d := r.Delay()
	want := outLen(len(src), in, out)
	pad := (d+1)*in/out + in/out + 1
	buf := make([]int16, len(src)+pad)
	copy(buf, src)
	dst := make([]int16, r.OutLen(len(buf)))
	n := r.Process(dst, buf)
	if n < d+want {
		// Cannot happen: pad covers the delay.
		return nil, fmt.Errorf("%w: resampler gave %d samples, need %d", ErrUnsupportedRate, n, d+want)
	}
	return dst[d : d+want : d+want], nil
}

// The windowed sinc converter: each output sample is the input
// interpolated with a Kaiser-windowed sinc lowpass whose cut-off is
// sincCutoff of the lower rate's Nyquist frequency, sincZeros zero
// crossings each side. The kernel is tabulated (sincTableRes points per
// zero crossing, linearly interpolated), so a 10 s prompt converts in a few
// tens of milliseconds. With β = 8.6 the stopband is about 85 dB down, well
// under the 16-bit noise floor of a telephone prompt; the passband is flat
// to 0.9 of the output's Nyquist frequency.
const (
	sincZeros    = 24
	sincTableRes = 512
	sincBeta     = 8.6
	sincCutoff   = 0.95
)

var sincTable = sync.OnceValue(func() []float64 {
	t := make([]float64, sincZeros*sincTableRes+2)
	i0b := besselI0(sincBeta)
	for i := range t {
		u := float64(i) / sincTableRes // in zero crossings
		if u > sincZeros {
			break
		}
		s := 1.0
		if u != 0 {
			s = math.Sin(math.Pi*u) / (math.Pi * u)
		}
		r := u / sincZeros
		t[i] = s * besselI0(sincBeta*math.Sqrt(1-r*r)) / i0b
	}
	return t
})

// besselI0 is the modified Bessel function of the first kind, order 0, by
// its power series (converges quickly for the arguments used here).
func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	for k := 1; k < 100; k++ {
		term *= (x / (2 * float64(k))) * (x / (2 * float64(k)))
		sum += term
		if term < sum*1e-17 {
			break
		}
	}
	return sum
}

// sincConvert converts src from rate in to rate out, any rates.
func sincConvert(src []int16, in, out int) []int16 {
	table := sincTable()
	step := float64(in) / float64(out)      // input samples per output sample
	fc := sincCutoff * 0.5 * min(1, 1/step) // cut-off, cycles per input sample
	scale := 2 * fc                         // input-sample distance → zero crossings
	half := sincZeros / scale               // kernel half-width in input samples
	dst := make([]int16, outLen(len(src), in, out))
	for i := range dst {
		t := float64(i) * step
		lo := max(int(math.Ceil(t-half)), 0)
		hi := min(int(math.Floor(t+half)), len(src)-1)
		var acc float64
		for k := lo; k <= hi; k++ {
			u := math.Abs(t-float64(k)) * scale * sincTableRes
			j := int(u)
			if j >= len(table)-1 {
				continue
			}
			f := u - float64(j)
			acc += float64(src[k]) * (table[j] + f*(table[j+1]-table[j]))
		}
		dst[i] = clamp16(math.Round(acc * scale))
	}
	return dst
}

func clamp16(v float64) int16 {
	switch {
	case v > math.MaxInt16:
		return math.MaxInt16
	case v < math.MinInt16:
		return math.MinInt16
	}
	return int16(v)
}
