package dtmf

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/setbridge/setbridge/media/wav"
	"github.com/zaf/g711"
)

// Test audio is described by an ibSpec and a list of segments. Unless a test
// says otherwise, tones are at -10 dBm0 per tone, without twist, at nominal
// frequency, with white noise 20 dB below the tone pair.

const ibAllKeys = "0123456789*#ABCD"

type ibSpec struct {
	rate    int
	level   float64 // dBm0 of the low-group tone
	twist   float64 // dB of the high-group tone relative to the low-group tone
	devLow  float64 // relative frequency deviation of the low-group tone
	devHigh float64 // ... of the high-group tone
	snr     float64 // dB of the tone pair over white noise; +Inf for none
	lead    int     // extra samples of pause before the first segment
	seed    uint64
}

func ibDefault() ibSpec {
	return ibSpec{rate: 8000, level: -10, snr: 20}
}

// ibSeg is a tone (key) or a pause (key 0) of duration d.
type ibSeg struct {
	key rune
	d   time.Duration
}

func ibTone(key rune, msec int) ibSeg { return ibSeg{key, time.Duration(msec) * time.Millisecond} }
func ibPause(msec int) ibSeg          { return ibSeg{0, time.Duration(msec) * time.Millisecond} }

func ibFreqs(key rune) (low, high float64) {
	i := strings.IndexRune(inbandKeys, key)
	if i < 0 {
		panic(fmt.Sprintf("not a DTMF key: %q", key))
	}
	return inbandFreqs[i/4], inbandFreqs[4+i%4]
}

// ibLead is the pause before the segments, and ibTail the one after them,
// long enough for the last digit to be reported.
const (
	ibLead = 100 * time.Millisecond
	ibTail = 150 * time.Millisecond
)

// synth renders segs, between a lead and a tail pause.
func (s ibSpec) synth(segs ...ibSeg) []int16 {
	rng := rand.New(rand.NewPCG(s.seed, 0x1b))
	rate := float64(s.rate)
	samples := func(d time.Duration) int { return int(int64(d) * int64(s.rate) / int64(time.Second)) }
	aLow := InbandDBm0Peak * math.Pow(10, s.level/20)
	aHigh := aLow * math.Pow(10, s.twist/20)
	out := make([]float64, s.lead+samples(ibLead))
	for _, g := range segs {
		n := samples(g.d)
		if g.key == 0 {
			out = append(out, make([]float64, n)...)
			continue
		}
		fl, fh := ibFreqs(g.key)
		fl *= 1 + s.devLow
		fh *= 1 + s.devHigh
		pl, ph := rng.Float64()*2*math.Pi, rng.Float64()*2*math.Pi
		for i := range n {
			t := float64(i) / rate
			out = append(out, aLow*math.Sin(2*math.Pi*fl*t+pl)+aHigh*math.Sin(2*math.Pi*fh*t+ph))
		}
	}
	out = append(out, make([]float64, samples(ibTail))...)
	sigma := 0.0
	if !math.IsInf(s.snr, 1) {
		sigma = math.Sqrt((aLow*aLow + aHigh*aHigh) / 2 / math.Pow(10, s.snr/10))
	}
	pcm := make([]int16, len(out))
	for i, v := range out {
		pcm[i] = clip16(v + sigma*rng.NormFloat64())
	}
	return pcm
}

func clip16(v float64) int16 {
	return int16(math.Round(max(-32768, min(32767, v))))
}

// ibCodec is a transformation of the test audio: none, or a G.711 round trip.
type ibCodec struct {
	name string
	f    func([]int16)
}

var ibCodecs = []ibCodec{
	{"linear", func([]int16) {}},
	{"ulaw", func(s []int16) {
		for i, v := range s {
			s[i] = g711.DecodeUlawFrame(g711.EncodeUlawFrame(v))
		}
	}},
	{"alaw", func(s []int16) {
		for i, v := range s {
			s[i] = g711.DecodeAlawFrame(g711.EncodeAlawFrame(v))
		}
	}},
}

// ibDetect runs pcm through a new detector in chunks of chunk samples (20 ms
// frames if 0), with now counting from t0.
func ibDetect(tb testing.TB, rate int, pcm []int16, chunk int) []Digit {
	tb.Helper()
	d, err := NewInbandDetector(rate)
	if err != nil {
		tb.Fatal(err)
	}
	if chunk <= 0 {
		chunk = rate / 50
	}
	ns := int64(time.Second) / int64(rate)
	var got []Digit
	for pos := 0; pos < len(pcm); pos += chunk {
		got = d.Process(got, pcm[pos:min(pos+chunk, len(pcm))], t0.Add(time.Duration(int64(pos)*ns)))
	}
	return got
}

func ibString(ds []Digit) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteRune(d.Rune)
	}
	return b.String()
}

// ibRun synthesizes segs with s, applies codec and detects.
func ibRun(tb testing.TB, s ibSpec, codec ibCodec, segs ...ibSeg) []Digit {
	tb.Helper()
	pcm := s.synth(segs...)
	codec.f(pcm)
	return ibDetect(tb, s.rate, pcm, 0)
}

// ibOnsets returns the start times of the tones in segs, for spec s.
func ibOnsets(s ibSpec, segs []ibSeg) []time.Time {
	at := t0.Add(ibLead + time.Duration(int64(s.lead)*int64(time.Second)/int64(s.rate)))
	var out []time.Time
	for _, g := range segs {
		if g.key != 0 {
			out = append(out, at)
		}
		at = at.Add(g.d)
	}
	return out
}

// ibCheck compares detected digits with the tones in segs, which must all be
// reported with their start and duration within 4 ms (5 ms for *, 8 ms
// below 20 dB SNR).
func ibCheck(t *testing.T, s ibSpec, segs []ibSeg, got []Digit) {
	t.Helper()
	var want strings.Builder
	var durs []time.Duration
	for _, g := range segs {
		if g.key != 0 {
			want.WriteRune(g.key)
			durs = append(durs, g.d)
		}
	}
	if ibString(got) != want.String() {
		t.Errorf("got digits %q, want %q", ibString(got), want.String())
		return
	}
	for i, at := range ibOnsets(s, segs) {
		// Edges are found from the energy of 5 ms quarter blocks, which
		// the beat between the two tones modulates: most for * (941 and
		// 1209 Hz beat at 268 Hz).
		tol := 4 * time.Millisecond
		if fl, fh := ibFreqs(got[i].Rune); fh-fl < 300 {
			tol = 5 * time.Millisecond
		}
		if s.snr < 20 {
			tol = 8 * time.Millisecond
		}
		if dt := got[i].Start.Sub(at); dt < -tol || dt > tol {
			t.Errorf("digit %d (%c): Start off by %v", i, got[i].Rune, dt)
		}
		if dd := got[i].Duration - durs[i]; dd < -tol || dd > tol {
			t.Errorf("digit %d (%c): Duration %v, want %v", i, got[i].Rune, got[i].Duration, durs[i])
		}
	}
}

func TestNewInbandDetector(t *testing.T) {
	for _, rate := range []int{0, -8000, 11025, 44100, 48000} {
		if _, err := NewInbandDetector(rate); !errors.Is(err, ErrInbandRate) {
			t.Errorf("NewInbandDetector(%d) error = %v, want ErrInbandRate", rate, err)
		}
	}
	for _, rate := range []int{8000, 16000} {
		if _, err := NewInbandDetector(rate); err != nil {
			t.Errorf("NewInbandDetector(%d) error = %v", rate, err)
		}
	}
}

// Every key, as a 16-digit sequence of 60 ms tones and 60 ms pauses, five
// noise realisations and alignments, directly and through G.711.
func TestInbandAllDigits(t *testing.T) {
	var segs []ibSeg
	for _, k := range ibAllKeys {
		segs = append(segs, ibTone(k, 60), ibPause(60))
	}
	for _, rate := range []int{8000, 16000} {
		for _, codec := range ibCodecs {
			if rate == 16000 && codec.name != "linear" {
				continue
			}
			t.Run(fmt.Sprintf("%d/%s", rate, codec.name), func(t *testing.T) {
				for _, snr := range []float64{20, 10} {
					for seed := range uint64(5) {
						s := ibDefault()
						s.rate, s.snr, s.seed, s.lead = rate, snr, seed, int(seed*17)
						got := ibRun(t, s, codec, segs...)
						ibRecord(fmt.Sprintf("all keys, 60/60 ms, %d Hz, SNR %g dB", rate, snr),
							codec.name, len(ibAllKeys), len(ibAllKeys), len(got))
						ibCheck(t, s, segs, got)
					}
				}
			})
		}
	}
}

// ITU-T Q.24: both tones off by ±1.5% must be detected, by ±3.5% must not.
func TestInbandFrequencyDeviation(t *testing.T) {
	cases := []struct {
		low, high float64
		want      bool
	}{
		{+0.015, +0.015, true},
		{-0.015, -0.015, true},
		{+0.015, -0.015, true},
		{-0.015, +0.015, true},
		{+0.035, +0.035, false},
		{-0.035, -0.035, false},
		{+0.035, 0, false},
		{-0.035, 0, false},
		{0, +0.035, false},
		{0, -0.035, false},
	}
	for _, codec := range ibCodecs {
		t.Run(codec.name, func(t *testing.T) {
			for i, k := range ibAllKeys {
				for j, c := range cases {
					s := ibDefault()
					s.devLow, s.devHigh = c.low, c.high
					s.seed, s.lead = uint64(i*len(cases)+j), (i*7+j*3)%40
					segs := []ibSeg{ibTone(k, 100)}
					got := ibRun(t, s, codec, segs...)
					if c.want {
						ibRecord("deviation ±1.5% (same or opposite signs)", codec.name, 1, 1, len(got))
						ibCheck(t, s, segs, got)
					} else if ibRecord("deviation ±3.5% (one or both tones)", codec.name, 1, 0, len(got)); len(got) != 0 {
						t.Errorf("%c with deviation %+.1f%%/%+.1f%%: got %q, want nothing",
							k, 100*c.low, 100*c.high, ibString(got))
					}
				}
			}
		})
	}
}

// At 16000 Hz the detector works the same: deviation and duration limits.
func TestInband16kHz(t *testing.T) {
	for i, k := range ibAllKeys {
		for j, c := range []struct {
			dev  float64
			dur  int
			want bool
		}{
			{0.015, 40, true}, {-0.015, 40, true}, {0, 30, false},
			{0.035, 80, false}, {-0.035, 80, false},
		} {
			s := ibDefault()
			s.rate, s.devLow, s.devHigh = 16000, c.dev, c.dev
			s.seed, s.lead = uint64(i*10+j), (i*13+j*29)%80
			segs := []ibSeg{ibTone(k, c.dur)}
			got := ibRun(t, s, ibCodecs[0], segs...)
			if c.want {
				ibRecord("16000 Hz: 40 ms at ±1.5%", "linear", 1, 1, len(got))
				ibCheck(t, s, segs, got)
			} else if ibRecord("16000 Hz: 30 ms; 80 ms at ±3.5%", "linear", 1, 0, len(got)); len(got) != 0 {
				t.Errorf("%c, %d ms at %+.1f%%: got %q, want nothing", k, c.dur, 100*c.dev, ibString(got))
			}
		}
	}
}

// Tones of 40 ms and more are digits, of 30 ms and less are not, whatever
// their alignment with the detector's blocks, also at the corners of the
// accepted frequency, twist and level ranges.
func TestInbandDurations(t *testing.T) {
	corners := []struct {
		name                       string
		devLow, devHigh, twist, lv float64
	}{
		{"nominal", 0, 0, 0, -10},
		{"deviation +1.5%/-1.5%", 0.015, -0.015, 0, -10},
		{"deviation -1.5%/+1.5%, twist +2 dB", -0.015, 0.015, 2, -10},
		{"deviation +1.5%, twist -6 dB, -22 dBm0", 0.015, 0.015, -6, -22},
		{"-30 dBm0", 0, 0, 0, -30},
	}
	for _, codec := range ibCodecs {
		t.Run(codec.name, func(t *testing.T) {
			for ci, c := range corners {
				durs := []int{40, 30}
				if ci == 0 {
					durs = []int{40, 45, 50, 80, 30, 25, 20, 10}
				}
				for i, k := range ibAllKeys {
					for _, d := range durs {
						for _, lead := range []int{0, 9, 21, 33} {
							s := ibDefault()
							s.devLow, s.devHigh, s.twist, s.level = c.devLow, c.devHigh, c.twist, c.lv
							s.seed, s.lead = uint64(ci*100000+i*1000+d*10+lead), lead
							segs := []ibSeg{ibTone(k, d)}
							got := ibRun(t, s, codec, segs...)
							if d >= 40 {
								ibRecord("duration 40, 45, 50, 80 ms; 40 ms at corners", codec.name, 1, 1, len(got))
								ibCheck(t, s, segs, got)
							} else if ibRecord("duration 10, 20, 25, 30 ms; 30 ms at corners", codec.name, 1, 0, len(got)); len(got) != 0 {
								t.Errorf("%s: %d ms of %c (lead %d): got %q, want nothing", c.name, d, k, lead, ibString(got))
							}
						}
					}
				}
			}
		})
	}
}

// A pause of 40 ms or more between two tones of the same key gives two
// digits; one of 20 ms or less is a dropout within one digit.
func TestInbandGaps(t *testing.T) {
	for _, codec := range ibCodecs {
		t.Run(codec.name, func(t *testing.T) {
			for i, k := range ibAllKeys {
				for _, gap := range []int{40, 50, 80, 20, 15, 10, 5} {
					for _, lead := range []int{0, 13, 27} {
						s := ibDefault()
						s.seed, s.lead = uint64(i*1000+gap*10+lead), lead
						got := ibRun(t, s, codec, ibTone(k, 60), ibPause(gap), ibTone(k, 60))
						if gap >= 40 {
							ibRecord("same key twice, gap 40, 50, 80 ms", codec.name, 2, 2, len(got))
							ibCheck(t, s, []ibSeg{ibTone(k, 60), ibPause(gap), ibTone(k, 60)}, got)
							continue
						}
						// One digit spanning both tones and the gap.
						ibRecord("same key twice, gap 5, 10, 15, 20 ms", codec.name, 2, 1, len(got))
						ibCheck(t, s, []ibSeg{ibTone(k, 120+gap)}, got)
					}
				}
			}
		})
	}
}

// Dialling at 40 ms tones and 40 ms pauses, the shortest the detector is
// specified for, is followed; different keys without a pause in between
// (90 ms each) are separate digits.
func TestInbandFastDialling(t *testing.T) {
	for _, codec := range ibCodecs {
		t.Run(codec.name, func(t *testing.T) {
			for seed := range uint64(4) {
				s := ibDefault()
				s.seed, s.lead = seed, int(seed*11)
				var fast, abutting []ibSeg
				for _, k := range ibAllKeys {
					fast = append(fast, ibTone(k, 40), ibPause(40))
					abutting = append(abutting, ibTone(k, 90))
				}
				got := ibRun(t, s, codec, fast...)
				ibRecord("all keys, 40/40 ms", codec.name, len(ibAllKeys), len(ibAllKeys), len(got))
				ibCheck(t, s, fast, got)
				// Without a pause the boundary between two digits is
				// not seen in the energy: a block with three quarters
				// of one digit and one of the next counts for the
				// first, so durations are only known to ±15 ms.
				got = ibRun(t, s, codec, abutting...)
				ibRecord("all keys, 90 ms each, no pause", codec.name, len(ibAllKeys), len(ibAllKeys), len(got))
				if ibString(got) != ibAllKeys {
					t.Errorf("abutting digits: got %q, want %q", ibString(got), ibAllKeys)
				}
				for i, d := range got {
					if dd := d.Duration - 90*time.Millisecond; dd < -20*time.Millisecond || dd > 20*time.Millisecond {
						t.Errorf("abutting digit %d (%c): Duration %v, want 90ms", i, d.Rune, d.Duration)
					}
				}
			}
		})
	}
}

// Twist: the high-group tone up to 8 dB weaker (normal) or 4 dB stronger
// (reverse) than the low-group tone is accepted; beyond, it is not.
func TestInbandTwist(t *testing.T) {
	for _, codec := range ibCodecs {
		t.Run(codec.name, func(t *testing.T) {
			for i, k := range ibAllKeys {
				for j, twist := range []float64{-6, -3, 0, 2, -10, -12, 6, 8} {
					s := ibDefault()
					s.twist, s.seed, s.lead = twist, uint64(i*100+j), (i*5+j)%40
					segs := []ibSeg{ibTone(k, 80)}
					got := ibRun(t, s, codec, segs...)
					if twist >= -InbandNormalTwist+2 && twist <= InbandReverseTwist-2 {
						ibRecord("twist -6, -3, 0, +2 dB", codec.name, 1, 1, len(got))
						ibCheck(t, s, segs, got)
					} else if ibRecord("twist -12, -10, +6, +8 dB", codec.name, 1, 0, len(got)); len(got) != 0 {
						t.Errorf("%c with twist %+g dB: got %q, want nothing", k, twist, ibString(got))
					}
				}
			}
		})
	}
}

// Per-tone levels from -30 to -5 dBm0 are detected, -40 dBm0 and below not.
func TestInbandLevels(t *testing.T) {
	for _, codec := range ibCodecs {
		t.Run(codec.name, func(t *testing.T) {
			for i, k := range ibAllKeys {
				for j, level := range []float64{-30, -25, -15, -5, -40, -45} {
					s := ibDefault()
					s.level, s.seed, s.lead = level, uint64(i*100+j), (i*3+j*7)%40
					segs := []ibSeg{ibTone(k, 80)}
					got := ibRun(t, s, codec, segs...)
					if level >= -30 {
						ibRecord("level -30, -25, -15, -5 dBm0", codec.name, 1, 1, len(got))
						ibCheck(t, s, segs, got)
					} else if ibRecord("level -40, -45 dBm0", codec.name, 1, 0, len(got)); len(got) != 0 {
						t.Errorf("%c at %g dBm0: got %q, want nothing", k, level, ibString(got))
					}
				}
			}
		})
	}
}

// A DC offset, as some devices add, does not hide a weak digit.
func TestInbandDCOffset(t *testing.T) {
	for _, dc := range []float64{-4000, 2500} {
		for i, k := range ibAllKeys {
			s := ibDefault()
			s.level, s.seed = -25, uint64(i)
			segs := []ibSeg{ibTone(k, 60)}
			pcm := s.synth(segs...)
			for j, v := range pcm {
				pcm[j] = clip16(float64(v) + dc)
			}
			got := ibDetect(t, 8000, pcm, 0)
			ibRecord("level -25 dBm0, DC offset -4000 or 2500", "linear", 1, 1, len(got))
			ibCheck(t, s, segs, got)
		}
	}
}

// Noise alone, at any level, is not a digit.
func TestInbandNoise(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for _, sigma := range []float64{30, 300, 3000, 10000} {
		pcm := make([]int16, 8000*5)
		for i := range pcm {
			pcm[i] = clip16(sigma * rng.NormFloat64())
		}
		got := ibDetect(t, 8000, pcm, 0)
		ibRecord("white noise, 4 levels × 5 s", "linear", 0, 0, len(got))
		if len(got) != 0 {
			t.Errorf("white noise σ=%g: got %q", sigma, ibString(got))
		}
	}
}

// Harmonic-rich tones at exactly the DTMF frequencies — a voice or an
// instrument hitting both — are not digits: the second-harmonic check
// rejects them even where the energy check alone would not.
func TestInbandHarmonicTones(t *testing.T) {
	for i, k := range ibAllKeys {
		fl, fh := ibFreqs(k)
		rng := rand.New(rand.NewPCG(uint64(i), 3))
		a := InbandDBm0Peak * math.Pow(10, -10/20.0)
		// Second harmonics 10 dB down: 91% of the energy is in the
		// fundamentals, above the 85% energy threshold.
		h := a * math.Pow(10, -10/20.0)
		pcm := make([]int16, 8000/2)
		for j := 800; j < len(pcm)-800; j++ {
			t := float64(j) / 8000
			v := a*math.Sin(2*math.Pi*fl*t) + h*math.Sin(4*math.Pi*fl*t+1) +
				a*math.Sin(2*math.Pi*fh*t) + h*math.Sin(4*math.Pi*fh*t+2)
			pcm[j] = clip16(v + 20*rng.NormFloat64())
		}
		got := ibDetect(t, 8000, pcm, 0)
		ibRecord("DTMF pair with 2nd harmonics at -10 dB", "linear", 1, 0, len(got))
		if len(got) != 0 {
			t.Errorf("%c with second harmonics: got %q", k, ibString(got))
		}
	}
}

// Chunk sizes do not change what is detected, nor when it is said to start.
func TestInbandChunking(t *testing.T) {
	s := ibDefault()
	var segs []ibSeg
	for _, k := range "1#9D0" {
		segs = append(segs, ibTone(k, 70), ibPause(50))
	}
	pcm := s.synth(segs...)
	want := ibDetect(t, 8000, pcm, len(pcm))
	ibCheck(t, s, segs, want)
	for _, chunk := range []int{1, 7, 40, 80, 160, 161, 1000} {
		got := ibDetect(t, 8000, pcm, chunk)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("chunk %d: got %v, want %v", chunk, got, want)
		}
	}
}

func TestInbandReset(t *testing.T) {
	s := ibDefault()
	pcm := s.synth(ibTone('5', 100))
	d, err := NewInbandDetector(8000)
	if err != nil {
		t.Fatal(err)
	}
	// Reset 30 ms into the tone: the detector hears only the last 70 ms.
	cut := 8000 * 130 / 1000
	got := d.Process(nil, pcm[:cut], t0)
	d.Reset()
	got = d.Process(got, pcm[cut:], t0.Add(130*time.Millisecond))
	ibCheck(t, s, []ibSeg{ibPause(30), ibTone('5', 70)}, got)

	// Reset after the tone but before its digit is due: it is dropped.
	d.Reset()
	end := 8000 * 220 / 1000
	got = d.Process(got[:0], pcm[:end], t0)
	if len(got) != 0 {
		t.Fatalf("digit reported 20 ms after the tone: %v", got)
	}
	d.Reset()
	if got = d.Process(got, make([]int16, 8000), t0.Add(220*time.Millisecond)); len(got) != 0 {
		t.Errorf("after Reset: got %v, want nothing", got)
	}
}

func TestInbandProcessDoesNotAllocate(t *testing.T) {
	s := ibDefault()
	var segs []ibSeg
	for _, k := range ibAllKeys {
		segs = append(segs, ibTone(k, 50), ibPause(50))
	}
	pcm := s.synth(segs...)
	d, err := NewInbandDetector(8000)
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]Digit, 0, 4)
	pos, found := 0, 0
	allocs := testing.AllocsPerRun(len(pcm)/160-1, func() {
		dst = d.Process(dst[:0], pcm[pos:pos+160], t0.Add(time.Duration(pos)*125*time.Microsecond))
		found += len(dst)
		pos += 160
	})
	if allocs != 0 {
		t.Errorf("Process allocates %v times per 20 ms frame", allocs)
	}
	if found == 0 {
		t.Error("no digit detected")
	}
}

// Talk-off: speech must never produce a digit.

// ibTalkOffFile is espeak-ng speech (see testdata/inband/README), resampled
// to 8000 Hz, 16-bit mono.
const ibTalkOffFile = "testdata/inband/talkoff.wav"

func ibLoadTalkOff(t testing.TB) []int16 {
	t.Helper()
	a, err := wav.ReadFile(ibTalkOffFile)
	if err != nil {
		t.Fatal(err)
	}
	if a.Rate != 8000 || a.Channels != 1 {
		t.Fatalf("%s: %d Hz, %d channels; want 8000 Hz mono", ibTalkOffFile, a.Rate, a.Channels)
	}
	return a.Samples
}

// ibSpeechTexts is read at test time; it has digits and number words in
// several forms, and is more than 20 s long in every voice.
var ibSpeechTexts = []string{
	"Please enter your conference number, followed by the pound key. " +
		"One two three four five six seven eight nine zero. " +
		"The meeting starts at eleven forty five, room three hundred and twelve.",
	"Your PIN is 4 7 1 1. Press star to mute, and hash to leave the call. " +
		"Call me back on 0 2 0 7 9 4 6 0 0 5 8 before six o'clock, or on extension 2 3 4.",
	"Hello everyone, can you hear me? I think the line is breaking up. " +
		"Let's go over the numbers again: ninety nine, one hundred, one thousand and one, " +
		"twenty twenty five, and a half. Aah, ooh, eee, mmm, hmm.",
	"Sixty six, seventy seven, eighty eight. Dial nine for an outside line, " +
		"then one eight hundred, five five five, one two one two. Thank you, goodbye.",
}

var ibSpeechVoices = []string{"en-us", "en-gb+f3", "en-us+m3", "en+f4"}

// ibSpeech synthesizes ibSpeechTexts with espeak-ng in each voice and
// resamples them to 8000 Hz with sox. It returns nil if either tool is
// missing.
func ibSpeech(t testing.TB) [][]int16 {
	t.Helper()
	espeak, err1 := exec.LookPath("espeak-ng")
	sox, err2 := exec.LookPath("sox")
	if err1 != nil || err2 != nil {
		return nil
	}
	dir := t.TempDir()
	var out [][]int16
	for i, voice := range ibSpeechVoices {
		for j, text := range ibSpeechTexts {
			raw := filepath.Join(dir, fmt.Sprintf("s%d_%d.wav", i, j))
			pcm := filepath.Join(dir, fmt.Sprintf("s%d_%d_8k.wav", i, j))
			if b, err := exec.Command(espeak, "-v", voice, "-w", raw, text).CombinedOutput(); err != nil {
				t.Fatalf("espeak-ng -v %s: %v\n%s", voice, err, b)
			}
			if b, err := exec.Command(sox, raw, "-r", "8000", "-c", "1", "-b", "16", pcm).CombinedOutput(); err != nil {
				t.Fatalf("sox: %v\n%s", err, b)
			}
			a, err := wav.ReadFile(pcm)
			if err != nil {
				t.Fatal(err)
			}
			if a.Rate != 8000 || a.Channels != 1 {
				t.Fatalf("sox made %d Hz, %d channels", a.Rate, a.Channels)
			}
			out = append(out, a.Samples)
		}
	}
	return out
}

// ibTalkOff counts digits and single blocks passing every check in pcm,
// through each codec. Blocks show how close speech comes: a digit needs at
// least four consecutive ones (34 ms of measured tone).
func ibTalkOff(t testing.TB, pcm []int16) (digits, blocks [3]int) {
	for i, codec := range ibCodecs {
		x := append([]int16(nil), pcm...)
		codec.f(x)
		digits[i] = len(ibDetect(t, 8000, x, 0))
		d, err := NewInbandDetector(8000)
		if err != nil {
			t.Fatal(err)
		}
		for b := 0; b+160 <= len(x); b += 40 {
			for j, v := range x[b : b+160] {
				d.buf[j] = float64(v)
			}
			if k, _, _ := d.classify(int64(b)); k >= 0 {
				blocks[i]++
			}
		}
	}
	return digits, blocks
}

func TestInbandTalkOffCommitted(t *testing.T) {
	pcm := ibLoadTalkOff(t)
	if len(pcm) < 8000*15 {
		t.Fatalf("%s: only %d samples", ibTalkOffFile, len(pcm))
	}
	digits, blocks := ibTalkOff(t, pcm)
	ibRecordTalkOff(fmt.Sprintf("talk-off: committed speech, %.1f s", float64(len(pcm))/8000), digits, blocks)
	t.Logf("%.1f s of speech: digits %v, passing blocks %v (linear, μ-law, A-law)", float64(len(pcm))/8000, digits, blocks)
	if digits != [3]int{} {
		t.Errorf("talk-off: %v digits in speech (linear, μ-law, A-law)", digits)
	}
}

func TestInbandTalkOffEspeak(t *testing.T) {
	speech := ibSpeech(t)
	if speech == nil {
		t.Skip("espeak-ng or sox not installed")
	}
	var total int
	var digits, blocks [3]int
	for _, pcm := range speech {
		total += len(pcm)
		d, b := ibTalkOff(t, pcm)
		for i := range d {
			digits[i] += d[i]
			blocks[i] += b[i]
		}
	}
	t.Logf("%.1f s of speech: digits %v, passing blocks %v (linear, μ-law, A-law)", float64(total)/8000, digits, blocks)
	ibRecordTalkOff(fmt.Sprintf("talk-off: espeak-ng speech, %.1f s", float64(total)/8000), digits, blocks)
	if total < 8000*20 {
		t.Errorf("only %.1f s of speech", float64(total)/8000)
	}
	if digits != [3]int{} {
		t.Errorf("talk-off: %v digits in speech (linear, μ-law, A-law)", digits)
	}
}

// Music: chords of harmonic-rich notes (a sawtooth-like 1/k spectrum) from
// the equal-tempered scale, including F5 and F♯6, which are within 0.3% of
// 697 and 1477 Hz. Chords of pure sines at those notes would be DTMF; real
// instruments carry harmonics, and the energy and harmonic checks reject them.
func TestInbandMusic(t *testing.T) {
	rng := rand.New(rand.NewPCG(42, 42))
	const rate = 8000
	var pcm []float64
	for len(pcm) < 20*rate {
		n := rate/10 + rng.IntN(rate*4/10) // 100-500 ms
		notes := 2 + rng.IntN(2)
		chord := make([]float64, n)
		for range notes {
			// MIDI 60-96 (C4-C7); 77 is F5, 90 F♯6.
			m := 60 + rng.IntN(37)
			if rng.IntN(4) == 0 {
				m = []int{77, 90}[rng.IntN(2)]
			}
			f0 := 440 * math.Pow(2, float64(m-69)/12)
			a := 6000 * (0.5 + rng.Float64())
			for k := 1; float64(k)*f0 < rate/2; k++ {
				ph := rng.Float64() * 2 * math.Pi
				for i := range chord {
					env := math.Min(1, float64(i)/80) * math.Exp(-float64(i)/float64(n))
					chord[i] += env * a / float64(k) * math.Sin(2*math.Pi*f0*float64(k)*float64(i)/rate+ph)
				}
			}
		}
		pcm = append(pcm, chord...)
	}
	x := make([]int16, len(pcm))
	for i, v := range pcm {
		x[i] = clip16(v)
	}
	digits, blocks := ibTalkOff(t, x)
	ibRecordTalkOff(fmt.Sprintf("talk-off: music, %.1f s", float64(len(x))/rate), digits, blocks)
	t.Logf("%.1f s of music: digits %v, passing blocks %v (linear, μ-law, A-law)", float64(len(x))/rate, digits, blocks)
	if digits != [3]int{} {
		t.Errorf("talk-off: %v digits in music (linear, μ-law, A-law)", digits)
	}
}

// BenchmarkInbandDetector20ms measures one leg's cost per 20 ms frame (160
// samples at 8000 Hz) on continuous DTMF (every block analysed in full), on
// speech, and on silence.
func BenchmarkInbandDetector20ms(b *testing.B) {
	s := ibDefault()
	var segs []ibSeg
	for _, k := range ibAllKeys {
		segs = append(segs, ibTone(k, 100), ibPause(40))
	}
	inputs := []struct {
		name string
		pcm  []int16
	}{
		{"dtmf", s.synth(segs...)},
		{"speech", ibLoadTalkOff(b)},
		{"silence", make([]int16, 8000)},
	}
	for _, in := range inputs {
		b.Run(in.name, func(b *testing.B) {
			d, err := NewInbandDetector(8000)
			if err != nil {
				b.Fatal(err)
			}
			dst := make([]Digit, 0, 4)
			frames := len(in.pcm) / 160
			now := t0
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				j := i % frames
				dst = d.Process(dst[:0], in.pcm[j*160:j*160+160], now)
				now = now.Add(20 * time.Millisecond)
			}
		})
	}
}

// The report: every test above records what it presented and what was
// detected; TestInbandReport prints the table.

type ibStat struct {
	cond    string
	tones   int    // tones (key presses) presented, per codec
	want    int    // digits that should be reported, per codec
	got     [3]int // digits reported, per codec (ibCodecs order); -1 if not run
	blocks  [3]int // talk-off only: single blocks passing all checks
	talkOff bool
}

var (
	ibStatsMu sync.Mutex
	ibStats   []*ibStat
)

func ibStatFor(cond string) *ibStat {
	for _, st := range ibStats {
		if st.cond == cond {
			return st
		}
	}
	st := &ibStat{cond: cond, got: [3]int{-1, -1, -1}}
	ibStats = append(ibStats, st)
	return st
}

func ibCodecIndex(codec string) int {
	for i, c := range ibCodecs {
		if c.name == codec {
			return i
		}
	}
	panic(codec)
}

// ibRecord adds a run through codec in which tones were presented, want
// digits should have been reported and got were.
func ibRecord(cond, codec string, tones, want, got int) {
	ibStatsMu.Lock()
	defer ibStatsMu.Unlock()
	st := ibStatFor(cond)
	i := ibCodecIndex(codec)
	if i == 0 {
		st.tones += tones
		st.want += want
	}
	st.got[i] = max(st.got[i], 0) + got
}

func ibRecordTalkOff(cond string, digits, blocks [3]int) {
	ibStatsMu.Lock()
	defer ibStatsMu.Unlock()
	st := ibStatFor(cond)
	st.talkOff = true
	st.got, st.blocks = digits, blocks
}

// TestInbandReport logs detection and talk-off counts. It runs the tests
// that feed it if they have not run (go test -run InbandReport).
func TestInbandReport(t *testing.T) {
	ibStatsMu.Lock()
	empty := len(ibStats) == 0
	ibStatsMu.Unlock()
	if empty {
		for _, tc := range []struct {
			name string
			f    func(*testing.T)
		}{
			{"AllDigits", TestInbandAllDigits},
			{"FrequencyDeviation", TestInbandFrequencyDeviation},
			{"16kHz", TestInband16kHz},
			{"Durations", TestInbandDurations},
			{"Gaps", TestInbandGaps},
			{"FastDialling", TestInbandFastDialling},
			{"Twist", TestInbandTwist},
			{"Levels", TestInbandLevels},
			{"DCOffset", TestInbandDCOffset},
			{"Noise", TestInbandNoise},
			{"HarmonicTones", TestInbandHarmonicTones},
			{"TalkOffCommitted", TestInbandTalkOffCommitted},
			{"TalkOffEspeak", TestInbandTalkOffEspeak},
			{"Music", TestInbandMusic},
		} {
			t.Run(tc.name, tc.f)
		}
	}
	ibStatsMu.Lock()
	defer ibStatsMu.Unlock()
	count := func(n int) string {
		if n < 0 {
			return "-"
		}
		return fmt.Sprint(n)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "in-band DTMF, -10 dBm0 per tone, white noise 20 dB below, unless stated\n")
	fmt.Fprintf(&b, "%-46s %6s %6s | digits: %6s %6s %6s\n", "condition", "tones", "want", "linear", "μ-law", "A-law")
	for _, st := range ibStats {
		if !st.talkOff {
			fmt.Fprintf(&b, "%-46s %6d %6d | %14s %6s %6s\n", st.cond, st.tones, st.want,
				count(st.got[0]), count(st.got[1]), count(st.got[2]))
		}
	}
	fmt.Fprintf(&b, "%-46s %13s | digits (blocks passing every check)\n", "talk-off", "")
	for _, st := range ibStats {
		if st.talkOff {
			fmt.Fprintf(&b, "%-46s %13s | %7d (%d) %6d (%d) %6d (%d)\n", st.cond, "",
				st.got[0], st.blocks[0], st.got[1], st.blocks[1], st.got[2], st.blocks[2])
		}
	}
	t.Log("\n" + b.String())
}

// FuzzInbandDetector feeds arbitrary PCM (16-bit little endian) in chunks of
// chunk%1024+1 samples. The detector must not panic, must report the same
// digits whatever the chunking, and every digit must be plausible: a DTMF
// key, at least InbandMinDuration long, within the audio, in order, and no
// more than one per 80 ms of audio.
// Seeds are in testdata/fuzz/FuzzInbandDetector/.
func FuzzInbandDetector(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, chunk uint16) {
		pcm := make([]int16, len(data)/2)
		for i := range pcm {
			pcm[i] = int16(uint16(data[2*i]) | uint16(data[2*i+1])<<8)
		}
		whole := ibDetect(t, 8000, pcm, len(pcm)+1)
		chunked := ibDetect(t, 8000, pcm, int(chunk%1024)+1)
		if fmt.Sprint(whole) != fmt.Sprint(chunked) {
			t.Fatalf("chunks of %d give %v, one chunk gives %v", chunk%1024+1, chunked, whole)
		}
		audio := time.Duration(len(pcm)) * time.Second / 8000
		if n := len(whole); time.Duration(n)*80*time.Millisecond > audio {
			t.Fatalf("%d digits in %v of audio", n, audio)
		}
		var prev time.Time
		for i, d := range whole {
			if !strings.ContainsRune(inbandKeys, d.Rune) {
				t.Fatalf("digit %d: rune %q", i, d.Rune)
			}
			if d.Duration < InbandMinDuration {
				t.Fatalf("digit %d: duration %v", i, d.Duration)
			}
			if d.Start.Before(t0) || d.Start.Add(d.Duration).After(t0.Add(audio)) {
				t.Fatalf("digit %d: %v from %v, outside the audio (%v)", i, d.Duration, d.Start.Sub(t0), audio)
			}
			if i > 0 && !d.Start.After(prev) {
				t.Fatalf("digit %d starts at %v, not after the previous one (%v)", i, d.Start.Sub(t0), prev.Sub(t0))
			}
			prev = d.Start
		}
	})
}
