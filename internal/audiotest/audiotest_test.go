package audiotest

import (
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func near(got, want, tol float64) bool { return math.Abs(got-want) <= tol }

func TestToneLevelFullScaleAndHalf(t *testing.T) {
	for _, rate := range []int{8000, 16000, 48000} {
		// 1234.5 Hz is deliberately not on a DFT bin centre.
		for _, f := range []float64{300, 1000, 1234.5, 3400} {
			full := GenTone(rate, f, 1.0, 200*time.Millisecond)
			if l := ToneLevelDB(full, rate, f); !near(l, 0, 0.2) {
				t.Errorf("rate %d f %.1f: full-scale level %.2f dB, want ≈ 0", rate, f, l)
			}
			half := GenTone(rate, f, 0.5, 200*time.Millisecond)
			if l := ToneLevelDB(half, rate, f); !near(l, -6.02, 0.2) {
				t.Errorf("rate %d f %.1f: half-scale level %.2f dB, want ≈ -6.02", rate, f, l)
			}
			if g := Goertzel(full, rate, f); !near(g, 1, 0.05) {
				t.Errorf("rate %d f %.1f: Goertzel %.3f, want ≈ 1", rate, f, g)
			}
		}
	}
}

func TestAbsentToneBelowThreshold(t *testing.T) {
	const rate = 8000
	s := GenTone(rate, 1000, 1.0, 100*time.Millisecond)
	for _, f := range []float64{400, 697, 852, 1200, 1336, 2000, 3000} {
		if HasTone(s, rate, f, -40) {
			t.Errorf("1000 Hz tone: %.0f Hz reported present (%.1f dB)", f, ToneLevelDB(s, rate, f))
		}
	}
	if !HasTone(s, rate, 1000, -1) {
		t.Errorf("1000 Hz tone not found (%.1f dB)", ToneLevelDB(s, rate, 1000))
	}
	if l := ToneLevelDB(GenSilence(rate, time.Second), rate, 1000); !math.IsInf(l, -1) {
		t.Errorf("silence: 1000 Hz at %.1f dB, want -Inf", l)
	}
	noise := GenNoise(rate, -20, time.Second, 7)
	if l := ToneLevelDB(noise, rate, 1000); l > -40 {
		t.Errorf("noise at -20 dBFS: 1000 Hz bin at %.1f dB, want < -40", l)
	}
}

func TestDominantTone(t *testing.T) {
	const rate = 16000
	cands := []float64{400, 697, 1000, 1209, 2000}
	for _, f := range cands {
		// Target tone at -12 dBFS plus a weaker off-list tone and noise.
		s := Mix(GenTone(rate, f, 0.25, 300*time.Millisecond),
			GenTone(rate, 3100, 0.1, 300*time.Millisecond),
			GenNoise(rate, -35, 300*time.Millisecond, 3))
		got, lvl := DominantTone(s, rate, cands)
		if got != f {
			t.Errorf("dominant of %.0f Hz mix: got %.0f Hz (%.1f dB)", f, got, lvl)
		}
		if !near(lvl, -12.04, 1) {
			t.Errorf("dominant %.0f Hz level %.1f dB, want ≈ -12", f, lvl)
		}
	}
	if f, l := DominantTone(GenTone(rate, 500, 1, 0), rate, nil); f != 0 || !math.IsInf(l, -1) {
		t.Errorf("no candidates: got %v %v", f, l)
	}
}

func TestRMS(t *testing.T) {
	if l := RMSdBFS(GenTone(8000, 1000, 1, time.Second)); !near(l, 0, 0.05) {
		t.Errorf("full-scale sine RMS %.2f dBFS, want 0", l)
	}
	if l := RMSdBFS(GenTone(8000, 1000, 0.1, time.Second)); !near(l, -20, 0.05) {
		t.Errorf("0.1 sine RMS %.2f dBFS, want -20", l)
	}
	if l := RMSdBFS(GenNoise(8000, -30, time.Second, 1)); !near(l, -30, 0.3) {
		t.Errorf("noise RMS %.2f dBFS, want -30", l)
	}
	if l := RMSdBFS(GenSilence(8000, time.Second)); !math.IsInf(l, -1) {
		t.Errorf("silence RMS %v, want -Inf", l)
	}
	if p := PeakDBFS(GenTone(8000, 1000, 0.5, time.Second)); !near(p, -6.02, 0.05) {
		t.Errorf("peak %.2f, want -6.02", p)
	}
}

func TestCrossCorrelateRecoversLag(t *testing.T) {
	const rate = 8000
	a := GenNoise(rate, -20, 500*time.Millisecond, 11)
	for _, shift := range []int{0, 1, 137, 800, -250} {
		b := make([]int16, len(a))
		for i := range b {
			if j := i - shift; j >= 0 && j < len(a) {
				b[i] = a[j]
			}
		}
		lag, c := CrossCorrelate(a, b, 1000)
		if lag != shift {
			t.Errorf("shift %d: got lag %d (coeff %.3f)", shift, lag, c)
		}
		if c < 0.75 {
			t.Errorf("shift %d: coeff %.3f, want > 0.75", shift, c)
		}
	}
	// Different lengths, with noise added to the delayed copy.
	b := Mix(Concat(GenSilence(rate, 40*time.Millisecond), a), GenNoise(rate, -40, time.Second, 99))
	if lag, c := CrossCorrelate(a, b, 800); lag != 320 || c < 0.7 {
		t.Errorf("padded noisy copy: lag %d coeff %.3f, want 320, > 0.7", lag, c)
	}
	// Lag outside the search window is not found.
	if lag, c := CrossCorrelate(a, b, 100); lag == 320 || c > 0.3 {
		t.Errorf("maxLag 100: got lag %d coeff %.3f, want a poor match", lag, c)
	}
	// Unrelated signals.
	if _, c := CrossCorrelate(a, GenNoise(rate, -20, 500*time.Millisecond, 12), 400); c > 0.2 {
		t.Errorf("unrelated noise: coeff %.3f, want < 0.2", c)
	}
	// Inverted copy: the best (signed) match is weak.
	inv := make([]int16, len(a))
	for i, v := range a {
		inv[i] = -v
	}
	if _, c := CrossCorrelate(a, inv, 50); c > 0.2 {
		t.Errorf("inverted copy: coeff %.3f, want low", c)
	}
	if lag, c := CrossCorrelate(a, GenSilence(rate, time.Second), 10); lag != 0 || c != 0 {
		t.Errorf("silence: %d %.3f", lag, c)
	}
}

func TestToneOnset(t *testing.T) {
	const rate = 8000
	s := Concat(GenSilence(rate, 300*time.Millisecond), GenTone(rate, 1000, 0.5, 500*time.Millisecond))
	at, ok := ToneOnset(s, rate, 1000, -20, 20*time.Millisecond)
	if !ok || at < 280*time.Millisecond || at > 320*time.Millisecond {
		t.Errorf("onset %v %v, want ≈ 300ms", at, ok)
	}
	if _, ok := ToneOnset(s, rate, 1500, -20, 20*time.Millisecond); ok {
		t.Error("onset found for an absent tone")
	}
}

func TestWAVRoundTrip(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "st.wav")
	left := GenTone(16000, 440, 0.5, 100*time.Millisecond)
	right := GenTone(16000, 1000, 0.5, 100*time.Millisecond)
	inter := make([]int16, 2*len(left))
	for i := range left {
		inter[2*i], inter[2*i+1] = left[i], right[i]
	}
	if err := WriteWAV(p, &Audio{Rate: 16000, Channels: 2, Samples: inter}); err != nil {
		t.Fatal(err)
	}
	a, err := ReadWAV(p)
	if err != nil {
		t.Fatal(err)
	}
	if a.Rate != 16000 || a.Channels != 2 || len(a.Samples) != len(inter) {
		t.Fatalf("got %d Hz %d ch %d samples", a.Rate, a.Channels, len(a.Samples))
	}
	if a.Duration() != 100*time.Millisecond {
		t.Errorf("duration %v", a.Duration())
	}
	if f, _ := DominantTone(a.Channel(1), a.Rate, []float64{440, 1000}); f != 1000 {
		t.Errorf("right channel dominant %v", f)
	}
	if len(a.Mono()) != len(left) {
		t.Errorf("mono length %d", len(a.Mono()))
	}

	// A recording whose header sizes were never updated is still read.
	raw := EncodeWAV(&Audio{Rate: 8000, Channels: 1, Samples: left})
	for i := 40; i < 44; i++ {
		raw[i] = 0
	}
	b, err := ParseWAV(raw)
	if err != nil || len(b.Samples) != len(left) {
		t.Fatalf("unfinalised: %v, %d samples", err, len(b.Samples))
	}
	if _, err := ParseWAV([]byte("RIFF\x00\x00\x00\x00WAVEjunk")); err == nil {
		t.Error("junk parsed")
	}
}

// TestReadSoxWAV checks the reader and the detector against a file made by
// an independent writer.
func TestReadSoxWAV(t *testing.T) {
	sox, err := exec.LookPath("sox")
	if err != nil {
		t.Skip("sox not installed")
	}
	p := filepath.Join(t.TempDir(), "sox.wav")
	out, err := exec.Command(sox, "-n", "-r", "16000", "-c", "1", "-b", "16", p, "synth", "0.5", "sine", "1000", "vol", "0.5").CombinedOutput()
	if err != nil {
		t.Fatalf("sox: %v\n%s", err, out)
	}
	a, err := ReadWAV(p)
	if err != nil {
		t.Fatal(err)
	}
	if a.Rate != 16000 || a.Channels != 1 || a.Frames() != 8000 {
		t.Fatalf("sox wav: %d Hz %d ch %d frames", a.Rate, a.Channels, a.Frames())
	}
	if l := ToneLevelDB(a.Samples, a.Rate, 1000); !near(l, -6.02, 0.3) {
		t.Errorf("sox 1000 Hz at vol 0.5: %.2f dB", l)
	}
	if HasTone(a.Samples, a.Rate, 1300, -40) {
		t.Error("1300 Hz found in a 1000 Hz sox tone")
	}
	_ = os.Remove(p)
}

// TestG711MatchesSox decodes all 256 A-law and µ-law codes and compares
// with sox's decoding of the same bytes.
func TestG711MatchesSox(t *testing.T) {
	sox, err := exec.LookPath("sox")
	if err != nil {
		t.Skip("sox not installed")
	}
	dir := t.TempDir()
	raw := make([]byte, 256)
	for i := range raw {
		raw[i] = byte(i)
	}
	for _, law := range []struct {
		typ    string
		decode func([]byte) []int16
	}{{"al", DecodeALaw}, {"ul", DecodeULaw}} {
		enc := filepath.Join(dir, "x."+law.typ)
		dec := filepath.Join(dir, law.typ+".wav")
		if err := os.WriteFile(enc, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(sox, "-t", law.typ, "-r", "8000", "-c", "1", enc, "-b", "16", "-e", "signed-integer", dec).CombinedOutput(); err != nil {
			t.Fatalf("sox decode: %v\n%s", err, out)
		}
		want, err := ReadWAV(dec)
		if err != nil {
			t.Fatal(err)
		}
		got := law.decode(raw)
		if len(got) != len(want.Samples) {
			t.Fatalf("%s: %d samples, sox %d", law.typ, len(got), len(want.Samples))
		}
		for i := range got {
			if got[i] != want.Samples[i] {
				t.Errorf("%s: code %#02x: got %d, sox %d", law.typ, i, got[i], want.Samples[i])
			}
		}
	}
}
