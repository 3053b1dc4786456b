package resample

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

var rates = []int{8000, 16000, 48000}

// pairs are the rate conversions the package supports, identity excluded.
var pairs = [][2]int{
	{8000, 16000}, {8000, 48000}, {16000, 48000},
	{16000, 8000}, {48000, 8000}, {48000, 16000},
}

func mustNew(t testing.TB, in, out int) *Resampler {
	t.Helper()
	r, err := New(in, out)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// tone returns n samples of amp·sin(2πf·t) at rate.
func tone(rate int, f, amp float64, n int) []int16 {
	s := make([]int16, n)
	for i := range s {
		s[i] = int16(math.Round(amp * math.Sin(2*math.Pi*f*float64(i)/float64(rate))))
	}
	return s
}

// noise returns n samples of uniform noise of the given peak.
func noise(n int, peak int, seed uint64) []int16 {
	rng := rand.New(rand.NewPCG(seed, 2))
	s := make([]int16, n)
	for i := range s {
		s[i] = int16(rng.IntN(2*peak+1) - peak)
	}
	return s
}

// oneShot resamples all of src in one call.
func oneShot(t testing.TB, in, out int, src []int16) []int16 {
	r := mustNew(t, in, out)
	dst := make([]int16, (len(src)*out+in-1)/in)
	return dst[:r.Process(dst, src)]
}

// goertzel returns the amplitude of the component of x at f Hz (x sampled
// at rate). For an exact result f·len(x)/rate should be an integer.
func goertzel(x []int16, f float64, rate int) float64 {
	w := 2 * math.Pi * f / float64(rate)
	c := 2 * math.Cos(w)
	var s1, s2 float64
	for _, v := range x {
		s1, s2 = float64(v)+c*s1-s2, s1
	}
	p := s1*s1 + s2*s2 - c*s1*s2
	return 2 * math.Sqrt(max(p, 0)) / float64(len(x))
}

func rms(x []int16) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s / float64(len(x)))
}

func db(x float64) float64 { return 20 * math.Log10(x) }

func TestNew(t *testing.T) {
	for _, in := range rates {
		for _, out := range rates {
			r, err := New(in, out)
			if err != nil {
				t.Fatalf("New(%d, %d): %v", in, out, err)
			}
			low := min(in, out)
			want := 48 * out / low
			if in == out {
				want = 0
			}
			if r.Delay() != want || r.InRate() != in || r.OutRate() != out {
				t.Errorf("New(%d, %d): Delay %d (want %d), rates %d %d", in, out, r.Delay(), want, r.InRate(), r.OutRate())
			}
		}
	}
	for _, p := range [][2]int{{8000, 44100}, {44100, 48000}, {0, 8000}, {8000, -1}, {24000, 48000}, {32000, 16000}} {
		if _, err := New(p[0], p[1]); !errors.Is(err, ErrUnsupportedRate) {
			t.Errorf("New(%d, %d): err = %v", p[0], p[1], err)
		}
	}
}

func TestIdentity(t *testing.T) {
	r := mustNew(t, 16000, 16000)
	src := noise(320, 32767, 1)
	dst := make([]int16, 320)
	if n := r.Process(dst, src); n != 320 || !slices.Equal(dst, src) {
		t.Error("identity is not a copy")
	}
	r.Reset()
}

// TestFrameByFrameEqualsOneShot: processing in 20 ms frames, or in pieces
// of random sizes, gives the same samples as one call.
func TestFrameByFrameEqualsOneShot(t *testing.T) {
	rng := rand.New(rand.NewPCG(42, 42))
	for _, p := range append(pairs, [2]int{48000, 48000}) {
		in, out := p[0], p[1]
		// 1.5 s (plus a bit: not a whole number of frames) of noise plus a
		// loud tone, so that saturation happens too.
		src := noise(in*3/2+7, 12000, uint64(in+out))
		for i, v := range tone(in, 997, 24000, len(src)) {
			src[i] += v
		}
		want := oneShot(t, in, out, src)
		if exp := (len(src)*out + in - 1) / in; len(want) != exp {
			t.Errorf("%d→%d: one shot gave %d samples, want %d", in, out, len(want), exp)
		}

		// 20 ms frames: exact frame sizes out.
		r := mustNew(t, in, out)
		fin, fout := in/50, out/50
		var got []int16
		dst := make([]int16, fout)
		for off := 0; off+fin <= len(src); off += fin {
			if r.OutLen(fin) != fout {
				t.Fatalf("%d→%d: OutLen(%d) = %d, want %d", in, out, fin, r.OutLen(fin), fout)
			}
			n := r.Process(dst, src[off:off+fin])
			if n != fout {
				t.Fatalf("%d→%d: frame gave %d samples, want %d", in, out, n, fout)
			}
			got = append(got, dst[:n]...)
		}
		if !slices.Equal(got, want[:len(got)]) {
			t.Errorf("%d→%d: 20 ms frames differ from one shot", in, out)
		}

		// Random piece sizes, including 0 and 1, after a Reset of a used
		// resampler.
		r.Reset()
		got = got[:0]
		big := make([]int16, 4096*6)
		for off := 0; off < len(src); {
			k := min(len(src)-off, []int{0, 1, 2, 5, 7, 160, 333, 1024, 1025, 3000}[rng.IntN(10)])
			bound := (k*out + in - 1) / in
			if r.OutLen(k) > bound {
				t.Fatalf("OutLen(%d) = %d > ceil bound %d", k, r.OutLen(k), bound)
			}
			exp := r.OutLen(k)
			n := r.Process(big[:bound], src[off:off+k])
			if n != exp {
				t.Fatalf("Process returned %d, OutLen said %d", n, exp)
			}
			got = append(got, big[:n]...)
			off += k
		}
		if !slices.Equal(got, want) {
			t.Errorf("%d→%d: random pieces differ from one shot (%d vs %d samples)", in, out, len(got), len(want))
		}
	}
}

// TestConcurrent: resamplers built and run in parallel (sharing cached
// coefficient tables) give the same results as one built alone.
func TestConcurrent(t *testing.T) {
	src := noise(4800, 20000, 8)
	want := oneShot(t, 48000, 8000, src)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := New(48000, 8000)
			if err != nil {
				t.Error(err)
				return
			}
			dst := make([]int16, 800)
			if n := r.Process(dst, src); !slices.Equal(dst[:n], want) {
				t.Error("concurrent resampler differs")
			}
		}()
	}
	wg.Wait()
}

func TestProcessPanicsOnShortDst(t *testing.T) {
	r := mustNew(t, 8000, 48000)
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	r.Process(make([]int16, 959), make([]int16, 160))
}

// reconstruct returns the prototype taps a bank was built from, as stored
// (float32).
func reconstruct(up, down int) []float64 {
	b := getBank(up, down)
	if up > 1 {
		n := 2*up*halfLen + 1
		h := make([]float64, n)
		for p := 0; p < up; p++ {
			for i := 0; i < b.taps; i++ {
				if k := p + up*(b.taps-1-i); k < n {
					h[k] = float64(b.coef[i*up+p]) / float64(up)
				}
			}
		}
		return h
	}
	h := make([]float64, b.taps)
	for i := range h {
		h[i] = float64(b.coef[min(i, b.taps-1-i)])
	}
	return h
}

func response(h []float64, f float64) float64 { // f in cycles/sample
	var re, im float64
	for n, v := range h {
		a := 2 * math.Pi * f * float64(n)
		re += v * math.Cos(a)
		im -= v * math.Sin(a)
	}
	return math.Hypot(re, im)
}

// TestFilterResponse measures the designed filters' frequency response:
// passband ripple up to 0.9 × the low Nyquist frequency, attenuation from
// the low Nyquist frequency up, and the -3 dB point.
func TestFilterResponse(t *testing.T) {
	for _, r := range []struct{ up, down int }{{2, 1}, {3, 1}, {6, 1}, {1, 2}, {1, 3}, {1, 6}} {
		R := max(r.up, r.down)
		h := reconstruct(r.up, r.down)
		fn := 0.5 / float64(R) // low Nyquist, cycles per high-rate sample
		ripple := 0.0
		for i := 0; i <= 500; i++ {
			ripple = max(ripple, math.Abs(db(response(h, passEdge*fn*float64(i)/500))))
		}
		worst := 0.0
		for i := 0; i <= 4000; i++ {
			worst = max(worst, response(h, fn+(0.5-fn)*float64(i)/4000))
		}
		stop := -db(worst)
		lo, hi := passEdge*fn, fn // bisect the -3 dB point
		for range 40 {
			if m := (lo + hi) / 2; db(response(h, m)) > -3 {
				lo = m
			} else {
				hi = m
			}
		}
		t.Logf("up %d down %d: %d taps, passband ripple ±%.4f dB to 0.9·Fn, stopband ≥ %.1f dB from Fn, -3 dB at %.4f·Fn",
			r.up, r.down, len(h), ripple, stop, lo/fn)
		if ripple > 0.05 {
			t.Errorf("up %d down %d: passband ripple %.4f dB", r.up, r.down, ripple)
		}
		if stop < 75 {
			t.Errorf("up %d down %d: stopband %.1f dB", r.up, r.down, stop)
		}
	}
}

// TestPassbandTones: tones up to 0.9 × the lower Nyquist come out at the
// same amplitude (±0.2 dB) and at the same frequency, with everything else
// (images, noise) far below.
func TestPassbandTones(t *testing.T) {
	for _, p := range pairs {
		in, out := p[0], p[1]
		fn := float64(min(in, out)) / 2
		worstGain, worstResidual := 0.0, -math.MaxFloat64
		for _, f := range []float64{50, 300, 997, 0.5 * fn, 0.75 * fn, 0.85 * fn, 0.9 * fn} {
			f = math.Round(f) // whole Hz: a 1 s window holds whole cycles
			const amp = 16384.0
			src := tone(in, f, amp, in*3/2)
			y := oneShot(t, in, out, src)
			win := y[out/4 : out/4+out] // 1 s, well past the start transient
			a := goertzel(win, f, out)
			gain := db(a / amp)
			// What is not the tone: residual power relative to the tone.
			res := 10 * math.Log10(math.Max(rms(win)*rms(win)-a*a/2, 1e-9)/(a*a/2))
			worstGain = max(worstGain, math.Abs(gain))
			worstResidual = max(worstResidual, res)
			if math.Abs(gain) > 0.2 {
				t.Errorf("%d→%d: %g Hz gain %.3f dB", in, out, f, gain)
			}
			if res > -60 {
				t.Errorf("%d→%d: %g Hz: residual (other frequencies) %.1f dB relative to the tone", in, out, f, res)
			}
		}
		t.Logf("%d→%d: passband tones: worst gain error %.4f dB, worst residual %.1f dB", in, out, worstGain, worstResidual)
	}
}

// TestAliasRejection: when decimating, tones at or above the output
// Nyquist frequency are attenuated by at least 60 dB (the design gives
// about 79 dB).
func TestAliasRejection(t *testing.T) {
	for _, p := range pairs {
		in, out := p[0], p[1]
		if out > in {
			continue
		}
		fn := float64(out) / 2
		worst := -math.MaxFloat64
		worstF := 0.0
		const amp = 32000.0
		for f := fn + 10; f < float64(in)/2; f += (float64(in)/2 - fn) / 97 {
			src := tone(in, f, amp, in)
			y := oneShot(t, in, out, src)
			att := db(rms(y[out/4:]) / (amp / math.Sqrt2))
			if att > worst {
				worst, worstF = att, f
			}
			if att > -60 {
				t.Errorf("%d→%d: %.0f Hz comes through at %.1f dB", in, out, f, att)
			}
		}
		t.Logf("%d→%d: worst alias %.1f dB at %.0f Hz", in, out, worst, worstF)
	}
}

// TestDelay: an impulse comes out Delay() samples late.
func TestDelay(t *testing.T) {
	for _, p := range pairs {
		in, out := p[0], p[1]
		r := mustNew(t, in, out)
		src := make([]int16, in/10)
		at := 600 // a multiple of 2, 3 and 6
		src[at] = 30000
		y := oneShot(t, in, out, src)
		peak := 0
		for i := range y {
			if y[i] > y[peak] {
				peak = i
			}
		}
		if want := at*out/in + r.Delay(); peak != want {
			t.Errorf("%d→%d: impulse peak at %d, want %d", in, out, peak, want)
		}
	}
}

// TestDCAndSaturation: DC passes at unit gain through every polyphase
// branch, and a full-scale square wave (whose ringing overshoots) is
// clipped, never wrapped around.
func TestDCAndSaturation(t *testing.T) {
	for _, p := range pairs {
		in, out := p[0], p[1]
		src := make([]int16, in/2)
		for i := range src {
			src[i] = 20000
		}
		y := oneShot(t, in, out, src)
		for i := 2 * mustNew(t, in, out).Delay(); i < len(y)-1; i++ {
			if y[i] < 19999 || y[i] > 20001 {
				t.Fatalf("%d→%d: DC 20000 gives %d at %d", in, out, y[i], i)
			}
		}

		period := in / 100 // 100 Hz square wave, full scale
		for i := range src {
			if i%period < period/2 {
				src[i] = 32767
			} else {
				src[i] = -32768
			}
		}
		d := mustNew(t, in, out).Delay()
		y = oneShot(t, in, out, src)
		clipped := 0
		outPeriod := out / 100
		for i := 2 * d; i < len(y)-1; i++ {
			ph := (i - d) % outPeriod
			edge := min(ph, outPeriod/2-ph, outPeriod-ph, max(ph-outPeriod/2, outPeriod/2-ph))
			if edge < out/500 { // within 2 ms of an edge
				continue
			}
			hiHalf := ph < outPeriod/2
			if hiHalf && y[i] < 30000 || !hiHalf && y[i] > -30000 {
				t.Fatalf("%d→%d: square wave sample %d = %d (wrap-around?)", in, out, i, y[i])
			}
			if y[i] == 32767 || y[i] == -32768 {
				clipped++
			}
		}
		if clipped == 0 {
			t.Errorf("%d→%d: full-scale square wave never clipped; test is not testing saturation", in, out)
		}
	}
}

func TestToInt16(t *testing.T) {
	for _, c := range []struct {
		in   float32
		want int16
	}{{0, 0}, {0.49, 0}, {0.5, 1}, {-0.5, -1}, {-0.49, 0}, {1.5, 2}, {-1.5, -2}, {32766.4, 32766}, {32766.6, 32767},
		{40000, 32767}, {-32767.4, -32767}, {-32767.6, -32768}, {-1e9, -32768}, {float32(math.Inf(1)), 32767}} {
		if got := toInt16(c.in); got != c.want {
			t.Errorf("toInt16(%v) = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestProcessNoAlloc(t *testing.T) {
	for _, p := range append(pairs, [2]int{8000, 8000}) {
		in, out := p[0], p[1]
		r := mustNew(t, in, out)
		src := noise(in/50, 10000, 3)
		dst := make([]int16, out/50)
		if n := testing.AllocsPerRun(50, func() { r.Process(dst, src) }); n != 0 {
			t.Errorf("%d→%d: %v allocations per Process", in, out, n)
		}
	}
}

func benchmarkFrames(b *testing.B, in, out int) {
	r := mustNew(b, in, out)
	src := noise(in/50, 10000, 4)
	dst := make([]int16, out/50)
	b.ReportAllocs()
	b.SetBytes(int64(2 * len(src)))
	for b.Loop() {
		r.Process(dst, src)
	}
}

func Benchmark8kTo48k(b *testing.B)  { benchmarkFrames(b, 8000, 48000) }
func Benchmark48kTo8k(b *testing.B)  { benchmarkFrames(b, 48000, 8000) }
func Benchmark16kTo48k(b *testing.B) { benchmarkFrames(b, 16000, 48000) }
func Benchmark48kTo16k(b *testing.B) { benchmarkFrames(b, 48000, 16000) }
func Benchmark8kTo16k(b *testing.B)  { benchmarkFrames(b, 8000, 16000) }
func Benchmark16kTo8k(b *testing.B)  { benchmarkFrames(b, 16000, 8000) }
