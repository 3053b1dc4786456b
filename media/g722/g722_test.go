package g722

import (
	"bytes"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// codecDelay is the end-to-end delay of encoder plus decoder in 16 kHz
// samples: the two 24-tap QMFs each delay by 11.5 samples, and the lower
// sub-band sample of a period is taken at the second input sample of the
// pair but placed at the first output sample, which saves one.
const codecDelay = 22

func roundTrip(pcm []int16) []int16 {
	enc := make([]byte, len(pcm)/2)
	NewEncoder().Encode(enc, pcm)
	out := make([]int16, 2*len(enc))
	NewDecoder().Decode(out, enc)
	return out
}

// measureDelay returns the lag (0..maxLag) at which y best matches x, by
// normalised cross-correlation.
func measureDelay(x, y []int16, maxLag int) (lag int, corr float64) {
	corr = math.Inf(-1)
	for l := 0; l <= maxLag; l++ {
		var xy, xx, yy float64
		for i := 0; i+l < len(y) && i < len(x); i++ {
			a, b := float64(x[i]), float64(y[i+l])
			xy += a * b
			xx += a * a
			yy += b * b
		}
		if c := xy / math.Sqrt(xx*yy); c > corr {
			lag, corr = l, c
		}
	}
	return lag, corr
}

// snr returns the signal-to-noise ratio in dB of y against x delayed by
// lag, over x[from:].
func snr(x, y []int16, lag, from int) float64 {
	var es, en float64
	for i := from; i < len(x) && i+lag < len(y); i++ {
		d := float64(y[i+lag]) - float64(x[i])
		es += float64(x[i]) * float64(x[i])
		en += d * d
	}
	return 10 * math.Log10(es/en)
}

// goertzel returns the power of x at frequency f (Hz), normalised so that
// a sine of amplitude A, over a whole number of periods, gives A*A/2 (its
// mean power).
func goertzel(x []int16, f float64) float64 {
	w := 2 * math.Pi * f / sampleRate
	c := 2 * math.Cos(w)
	var s1, s2 float64
	for _, v := range x {
		s1, s2 = float64(v)+c*s1-s2, s1
	}
	p := s1*s1 + s2*s2 - c*s1*s2
	n := float64(len(x))
	return 2 * p / (n * n)
}

func meanPower(x []int16) float64 {
	var e float64
	for _, v := range x {
		e += float64(v) * float64(v)
	}
	return e / float64(len(x))
}

func TestGoertzelSelf(t *testing.T) {
	// The detector itself: a tone is found at its frequency and not 100 Hz
	// away, so that the tone test below can fail.
	x := tone(16000, 1000, 10000, 0)
	if p := goertzel(x, 1000); math.Abs(p/meanPower(x)-1) > 0.01 {
		t.Fatalf("goertzel at the tone frequency: %.4f of the power, want 1", p/meanPower(x))
	}
	if p := goertzel(x, 1100); p/meanPower(x) > 1e-3 {
		t.Fatalf("goertzel 100 Hz off the tone: %.4g of the power, want ~0", p/meanPower(x))
	}
}

func TestCodecDelay(t *testing.T) {
	x := whiteNoise(sampleRate, dBFS(-12), 11)
	y := roundTrip(x)
	lag, corr := measureDelay(x, y, 100)
	t.Logf("white noise: delay %d samples, correlation %.4f", lag, corr)
	if lag != codecDelay {
		t.Errorf("delay %d samples, want %d", lag, codecDelay)
	}
	if corr < 0.95 {
		t.Errorf("correlation %.4f at the delay, want >= 0.95", corr)
	}
}

func TestRoundTripTones(t *testing.T) {
	const n = sampleRate // one second
	// Minimum SNR in dB, a few dB under what this codec achieves (300 Hz:
	// 62, 1000 Hz: 47, 3000 Hz: 41, 6000 Hz: 27 dB at -10 dBFS, and 47, 43,
	// 40, 26 dB at -30 dBFS). The higher sub-band has two bits per sample
	// only, hence the lower figure at 6 kHz.
	// The delay is measured by cross-correlation on white noise (a tone
	// correlates equally well one period later).
	delay, _ := measureDelay(whiteNoise(sampleRate, dBFS(-12), 11), roundTrip(whiteNoise(sampleRate, dBFS(-12), 11)), 100)
	if delay != codecDelay {
		t.Fatalf("measured delay %d, want %d", delay, codecDelay)
	}
	cases := []struct {
		freq, minSNR10, minSNR30 float64
	}{
		{300, 55, 42},
		{1000, 42, 38},
		{3000, 36, 35},
		{6000, 22, 21},
	}
	for _, c := range cases {
		for _, level := range []float64{-10, -30} {
			x := tone(n, c.freq, dBFS(level), 0.5)
			y := roundTrip(x)
			if len(y) != len(x) {
				t.Fatalf("round trip gives %d samples, want %d", len(y), len(x))
			}
			// Skip the first 100 ms, while the scale factors adapt.
			got := snr(x, y, delay, n/10)
			min := c.minSNR10
			if level == -30 {
				min = c.minSNR30
			}
			t.Logf("%5g Hz %g dBFS: SNR %.1f dB (min %g)", c.freq, level, got, min)
			if got < min {
				t.Errorf("%g Hz %g dBFS: SNR %.1f dB, want >= %g", c.freq, level, got, min)
			}

			// The decoded tone is at the input frequency: Goertzel finds
			// nearly all of the output power there, and of the frequencies
			// 50..7950 Hz in 25 Hz steps the strongest is the input one.
			out := y[n/10:]
			frac := goertzel(out, c.freq) / meanPower(out)
			if frac < 0.99 {
				t.Errorf("%g Hz %g dBFS: %.4f of the output power at the tone frequency, want >= 0.99", c.freq, level, frac)
			}
			best, bestP := 0.0, -1.0
			for f := 50.0; f < 8000; f += 25 {
				if p := goertzel(out, f); p > bestP {
					best, bestP = f, p
				}
			}
			if best != c.freq {
				t.Errorf("%g Hz %g dBFS: strongest output frequency %g Hz", c.freq, level, best)
			}
		}
	}
}

func TestSilence(t *testing.T) {
	x := make([]int16, 2*sampleRate)
	enc := make([]byte, len(x)/2)
	NewEncoder().Encode(enc, x)
	y := make([]int16, len(x))
	NewDecoder().Decode(y, enc)
	peak := 0
	for _, v := range y {
		peak = max(peak, abs(int(v)))
	}
	// Silence codes to an idle pattern that decodes to a few LSBs
	// (about -78 dBFS).
	t.Logf("silence: peak %d, first code words % x", peak, enc[:8])
	if peak > 8 {
		t.Errorf("silence decodes to peak %d, want <= 8", peak)
	}

	// Silence after a loud signal: the scale factors must decay back, so
	// the output becomes silent again.
	x = append(whiteNoise(sampleRate, 32767, 3), make([]int16, sampleRate)...)
	y = roundTrip(x)
	tail := y[len(y)-sampleRate/2:]
	peak = 0
	for _, v := range tail {
		peak = max(peak, abs(int(v)))
	}
	if peak > 8 {
		t.Errorf("silence 0.5 s after full-scale noise decodes to peak %d, want <= 8", peak)
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func TestEncoderReset(t *testing.T) {
	if *NewEncoder() == (Encoder{}) {
		t.Fatal("NewEncoder returns the zero value; the initial scale factors are not zero")
	}
	sig := chirp(4000, 100, 7000, dBFS(-6))
	e := NewEncoder()
	junk := make([]byte, 4000)
	e.Encode(junk, whiteNoise(8000, 30000, 5))
	if *e == *NewEncoder() {
		t.Fatal("encoding noise left the encoder state unchanged; the test cannot detect a missing Reset")
	}
	e.Reset()
	if *e != *NewEncoder() {
		t.Fatal("Reset does not restore the initial state")
	}
	got := make([]byte, len(sig)/2)
	want := make([]byte, len(sig)/2)
	e.Encode(got, sig)
	NewEncoder().Encode(want, sig)
	if !bytes.Equal(got, want) {
		t.Fatal("output after Reset differs from a fresh encoder")
	}
}

func TestDecoderReset(t *testing.T) {
	payload := make([]byte, 2000)
	NewEncoder().Encode(payload, chirp(4000, 100, 7000, dBFS(-6)))
	d := NewDecoder()
	junk := make([]int16, 2000)
	d.Decode(junk, bytes.Repeat([]byte{0x04, 0xc4, 0x20}, 333))
	if *d == *NewDecoder() {
		t.Fatal("decoding left the decoder state unchanged; the test cannot detect a missing Reset")
	}
	d.Reset()
	if *d != *NewDecoder() {
		t.Fatal("Reset does not restore the initial state")
	}
	got := make([]int16, 2*len(payload))
	want := make([]int16, 2*len(payload))
	d.Decode(got, payload)
	NewDecoder().Decode(want, payload)
	if !slices.Equal(got, want) {
		t.Fatal("output after Reset differs from a fresh decoder")
	}
}

func TestShortDestination(t *testing.T) {
	pcm := tone(320, 1000, 8000, 0)
	full := make([]byte, 160)
	if n := NewEncoder().Encode(full, pcm); n != 160 {
		t.Fatalf("Encode returned %d, want 160", n)
	}
	short := make([]byte, 61)
	if n := NewEncoder().Encode(short, pcm); n != 61 {
		t.Fatalf("Encode into 61 bytes returned %d", n)
	}
	if !bytes.Equal(short, full[:61]) {
		t.Fatal("short Encode output is not a prefix of the full output")
	}
	if n := NewEncoder().Encode(nil, pcm); n != 0 {
		t.Fatalf("Encode into nil returned %d", n)
	}
	// An odd trailing sample is ignored.
	if n := NewEncoder().Encode(make([]byte, 200), pcm[:33]); n != 16 {
		t.Fatalf("Encode of 33 samples returned %d, want 16", n)
	}

	fullPCM := make([]int16, 320)
	if n := NewDecoder().Decode(fullPCM, full); n != 320 {
		t.Fatalf("Decode returned %d, want 320", n)
	}
	shortPCM := make([]int16, 101)
	shortPCM[100] = 12345
	if n := NewDecoder().Decode(shortPCM, full); n != 100 {
		t.Fatalf("Decode into 101 samples returned %d, want 100", n)
	}
	if !slices.Equal(shortPCM[:100], fullPCM[:100]) {
		t.Fatal("short Decode output is not a prefix of the full output")
	}
	if shortPCM[100] != 12345 {
		t.Fatal("Decode wrote the odd last element of dst")
	}
	if n := NewDecoder().Decode(make([]int16, 1), full); n != 0 {
		t.Fatalf("Decode into 1 sample returned %d, want 0", n)
	}
}

// TestGolden pins the exact output for a fixed input, so that a change of
// the arithmetic is caught without spandsp. The digests were taken from
// output that TestReferenceSpandsp (build tag spandsp) checked bit-exact
// against spandsp 0.0.6; the signal stays clear of the 16-bit output limit.
func TestGolden(t *testing.T) {
	pcm := goldenSignal()
	enc := make([]byte, len(pcm)/2)
	NewEncoder().Encode(enc, pcm)
	dec := make([]int16, len(pcm))
	NewDecoder().Decode(dec, enc)
	gotEnc, gotDec := crc32.ChecksumIEEE(enc), crcPCM(dec)
	const wantEnc, wantDec = 0x4f569062, 0xdc33606e
	if gotEnc != wantEnc || gotDec != wantDec {
		t.Errorf("CRC-32 of encoded %#08x (want %#08x), of decoded %#08x (want %#08x)", gotEnc, wantEnc, gotDec, wantDec)
	}
}

// goldenSignal is the input of TestGolden; the spandsp test checks it too.
func goldenSignal() []int16 {
	var pcm []int16
	pcm = append(pcm, chirp(sampleRate, 20, 7980, dBFS(-6))...)
	pcm = append(pcm, whiteNoise(sampleRate/2, dBFS(-12), 77)...)
	pcm = append(pcm, tone(sampleRate/2, 440, dBFS(-40), 0)...)
	return pcm
}

// extremeSignal drives the codec to its limits: full-scale square waves,
// noise and a clipped tone, whose decoded output exceeds 16 bits before the
// final saturation.
func extremeSignal() []int16 {
	const q = sampleRate / 4
	var pcm []int16
	pcm = append(pcm, square(q, 500, -32768, 32767)...)
	pcm = append(pcm, whiteNoise(q, 32767, 78)...)
	pcm = append(pcm, tone(q, 3400, dBFS(6), 0)...)
	pcm = append(pcm, square(q, 7000, -32768, 32767)...)
	return pcm
}

// extremeCodes is a code word stream no encoder produces, biased to the
// largest quantiser steps so that the scale factors and predictor
// coefficients reach their limits, with runs of the unused codes 0..3.
func extremeCodes() []byte {
	r := rand.New(rand.NewPCG(2, 722))
	palette := []byte{0x00, 0x03, 0x04, 0x20, 0x05, 0x21, 0x3f, 0x3d}
	data := make([]byte, 8000)
	var cur byte
	for i := range data {
		if i%5 == 0 {
			cur = palette[r.IntN(len(palette))] | byte(r.IntN(4))<<6
		}
		data[i] = cur
	}
	return data
}

func crcPCM(pcm []int16) uint32 {
	b := make([]byte, 0, 2*len(pcm))
	for _, v := range pcm {
		b = append(b, byte(v), byte(uint16(v)>>8))
	}
	return crc32.ChecksumIEEE(b)
}

// TestGoldenExtremes pins the output at the limits of the arithmetic
// (saturations, LIMIT, the output saturation); the spandsp test checks the
// same inputs.
func TestGoldenExtremes(t *testing.T) {
	pcm := extremeSignal()
	enc := make([]byte, len(pcm)/2)
	NewEncoder().Encode(enc, pcm)
	dec := make([]int16, len(pcm))
	NewDecoder().Decode(dec, enc)
	codes := extremeCodes()
	decCodes := make([]int16, 2*len(codes))
	NewDecoder().Decode(decCodes, codes)
	got := [3]uint32{crc32.ChecksumIEEE(enc), crcPCM(dec), crcPCM(decCodes)}
	want := [3]uint32{0x18b9810e, 0x60dc4b90, 0xb2f983a9}
	if got != want {
		t.Errorf("CRC-32 of encoded, decoded, decoded extreme codes: %#08x, want %#08x", got, want)
	}
}

// TestNoAllocs enforces what the benchmarks report.
func TestNoAllocs(t *testing.T) {
	pcm := tone(320, 1000, 8000, 0)
	payload := make([]byte, 160)
	out := make([]int16, 320)
	e, d := NewEncoder(), NewDecoder()
	if a := testing.AllocsPerRun(100, func() { e.Encode(payload, pcm) }); a != 0 {
		t.Errorf("Encode: %v allocations per call", a)
	}
	if a := testing.AllocsPerRun(100, func() { d.Decode(out, payload) }); a != 0 {
		t.Errorf("Decode: %v allocations per call", a)
	}
}

// TestTables checks the tables against the relations the Recommendation
// states or implies, to catch a mistyped entry.
func TestTables(t *testing.T) {
	var sum int32
	for i, h := range qmfCoeffs {
		sum += h
		if h != qmfCoeffs[23-i] {
			t.Errorf("QMF coefficient h%d = %d, h%d = %d: not symmetric", i, h, 23-i, qmfCoeffs[23-i])
		}
	}
	if sum != 8192 {
		t.Errorf("QMF coefficients sum to %d, want 8192 (unity gain at 2^13)", sum)
	}
	for i, v := range ilb {
		if want := int32(math.Round(2048 * math.Pow(2, float64(i)/32))); v != want {
			t.Errorf("ILB(%d) = %d, want %d", i, v, want)
		}
	}
	for m := 2; m < len(q6); m++ {
		if q6[m] <= q6[m-1] {
			t.Errorf("Q6 not increasing at %d", m)
		}
	}
	// Each interval maps to distinct code words, the inverse quantisers
	// give the sign of the interval and grow with it.
	seen := map[int32]bool{}
	for m := 1; m <= 30; m++ {
		for _, il := range []int32{iln[m], ilp[m]} {
			if seen[il] || il < 4 || il > 63 {
				t.Errorf("code word %d for mil %d repeated or out of range", il, m)
			}
			seen[il] = true
		}
		if qm6[iln[m]] >= 0 || qm6[ilp[m]] <= 0 || qm6[iln[m]] != -qm6[ilp[m]] {
			t.Errorf("QM6 for mil %d: %d, %d", m, qm6[iln[m]], qm6[ilp[m]])
		}
		if m > 1 && qm6[ilp[m]] <= qm6[ilp[m-1]] {
			t.Errorf("QM6 not increasing at mil %d", m)
		}
		// The reconstruction level lies inside its decision interval:
		// Q6 levels are scaled by 2^-12, QM6 by 2^-15 (times 8).
		if m < 30 && !(8*q6[m-1] <= qm6[ilp[m]] && qm6[ilp[m]] <= 8*q6[m]) {
			t.Errorf("QM6(%d)=%d outside [%d, %d]", ilp[m], qm6[ilp[m]], 8*q6[m-1], 8*q6[m])
		}
	}
	// 4-bit codes 1..7 are negative, 8..14 the positive counterparts.
	for i := 1; i <= 7; i++ {
		if qm4[i] >= 0 || qm4[i] != -qm4[i+7] || rl42[i] != rl42[i+7] || rl42[i] != int32(8-i) {
			t.Errorf("QM4/RL42 entries %d and %d do not mirror", i, i+7)
		}
		if i > 1 && qm4[i] <= qm4[i-1] {
			t.Errorf("QM4 magnitude not decreasing at %d", i)
		}
	}
	if qm4[0] != 0 || qm4[15] != 0 {
		t.Error("QM4 codes 0 and 15 must reconstruct to 0")
	}
}
