package ivr

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/setbridge/setbridge/ivr/prompts"
	"github.com/setbridge/setbridge/media/wav"
)

// The stock set as committed: 16 kHz 16-bit mono, a 50 ms lead-in and no
// more, about -16 dBFS RMS, never clipped, under 2.5 MiB in all (the dial-out
// prompts took it past 2 MiB).
func TestStockPromptFiles(t *testing.T) {
	names := StockPromptNames()
	for _, n := range append(slices.Clone(sessionPrompts), PromptBeepJoin, PromptBeepLeave) {
		if !slices.Contains(names, n) {
			t.Errorf("stock set lacks %s", n)
		}
	}
	total := 0
	for _, n := range names {
		b, err := prompts.FS.ReadFile(n + ".wav")
		if err != nil {
			t.Fatal(err)
		}
		total += len(b)
		a, err := wav.Read(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if a.Rate != prompts.Rate || a.Channels != 1 {
			t.Errorf("%s: %d Hz, %d channels; want %d Hz mono", n, a.Rate, a.Channels, prompts.Rate)
		}
		onset := slices.IndexFunc(a.Samples, func(v int16) bool { return v != 0 })
		if lead := float64(onset) / float64(a.Rate); lead < 0.045 || lead > 0.055 {
			t.Errorf("%s: lead-in %.1f ms, want about 50", n, lead*1000)
		}
		var sum float64
		clipped := 0
		for _, v := range a.Samples {
			sum += float64(v) * float64(v)
			if v == math.MaxInt16 || v == math.MinInt16 {
				clipped++
			}
		}
		rms := 10 * math.Log10(sum/float64(len(a.Samples))/(32768*32768))
		if rms < -17.5 || rms > -14.5 {
			t.Errorf("%s: %.2f dBFS RMS, want about -16", n, rms)
		}
		if clipped > 0 {
			t.Errorf("%s: %d samples at full scale", n, clipped)
		}
	}
	if total > 5<<19 {
		t.Errorf("stock set is %d bytes, want under 2.5 MiB", total)
	}
	t.Logf("%d stock prompts, %d bytes", len(names), total)
}

// Loading at another rate converts every prompt once, keeping its length
// and its onset: the lead-in is neither eaten nor stretched by the filter.
func TestLoadPromptsConvertsTheStockSet(t *testing.T) {
	base := stockSet(t, 16000)
	for _, rate := range []int{8000, 48000} {
		t.Run(rateName(rate), func(t *testing.T) {
			set := stockSet(t, rate)
			if !slices.Equal(set.Names(), base.Names()) {
				t.Fatal("names differ from the 16 kHz set")
			}
			for _, n := range base.Names() {
				p, _ := set.Get(n)
				q, _ := base.Get(n)
				if want := outLen(len(q.Samples()), 16000, rate); len(p.Samples()) != want {
					t.Errorf("%s: %d samples, want %d", n, len(p.Samples()), want)
				}
				onset := func(v []int16) float64 {
					return float64(slices.IndexFunc(v, func(s int16) bool { return s > 300 || s < -300 }))
				}
				got, want := onset(p.Samples())/float64(rate), onset(q.Samples())/16000
				if math.Abs(got-want) > 0.001 {
					t.Errorf("%s: onset at %.2f ms, at 16 kHz %.2f ms", n, got*1000, want*1000)
				}
				if p.Source() != "embedded" {
					t.Errorf("%s: source %q", n, p.Source())
				}
			}
		})
	}
}

func sine(rate, channels int, freq, seconds, amp float64) *wav.Audio {
	n := int(seconds * float64(rate))
	a := &wav.Audio{Rate: rate, Channels: channels, Samples: make([]int16, n*channels)}
	for i := range n {
		v := int16(amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
		for c := range channels {
			a.Samples[i*channels+c] = v
		}
	}
	return a
}

func writeWAV(t *testing.T, path string, a *wav.Audio) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := wav.WriteFile(path, a); err != nil {
		t.Fatal(err)
	}
}

// zeroCrossings estimates a tone's frequency.
func zeroCrossings(v []int16, rate int) float64 {
	n := 0
	for i := 1; i < len(v); i++ {
		if (v[i-1] < 0) != (v[i] < 0) {
			n++
		}
	}
	return float64(n) / 2 / (float64(len(v)) / float64(rate))
}

func TestLoadPromptsOverlaysOperatorFiles(t *testing.T) {
	dir := t.TempDir()
	files := map[string]*wav.Audio{
		"conf-getpin.wav":   sine(44100, 2, 440, 1.5, 8000), // 44.1 kHz stereo: the sinc converter
		"conf-welcome.WAV":  sine(48000, 1, 500, 1, 8000),   // 48 kHz: media/resample
		"digits/7.wav":      sine(8000, 1, 300, 0.5, 8000),  // 8 kHz
		"conf-muted.wav":    sine(16000, 1, 600, 0.4, 8000), // the set's own rate
		"conf-locked.wav":   sine(22050, 1, 700, 0.6, 8000), // 22.05 kHz
		"vm-goodbye.wav":    sine(11025, 2, 350, 0.6, 8000), // 11.025 kHz stereo
		"conf-unlocked.wav": sine(32000, 1, 800, 0.6, 8000), // 32 kHz
	}
	for name, a := range files {
		writeWAV(t, filepath.Join(dir, name), a)
	}
	// Not prompts: ignored.
	_ = os.WriteFile(filepath.Join(dir, "README.txt"), []byte("operator notes"), 0o644)
	_ = os.MkdirAll(filepath.Join(dir, "fr"), 0o755)

	set, err := LoadPrompts(PromptConfig{Rate: 16000, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	wantOverlaid := []string{"conf-getpin", "conf-locked", "conf-muted", "conf-unlocked", "conf-welcome", "digits/7", "vm-goodbye"}
	if got := set.Overlaid(); !slices.Equal(got, wantOverlaid) {
		t.Fatalf("overlaid %v, want %v", got, wantOverlaid)
	}
	for file, a := range files {
		name := strings.TrimSuffix(strings.TrimSuffix(file, ".wav"), ".WAV")
		p, _ := set.Get(name)
		if want := outLen(a.Frames(), a.Rate, 16000); len(p.Samples()) != want {
			t.Errorf("%s: %d samples, want %d", name, len(p.Samples()), want)
		}
		if !strings.HasSuffix(p.Source(), file) {
			t.Errorf("%s: source %q", name, p.Source())
		}
		// The tone keeps its pitch and level.
		inFreq := zeroCrossings(a.Samples[:a.Frames()], a.Rate) // stereo: the estimate counts both channels
		if a.Channels == 2 {
			inFreq = zeroCrossings(toMono(a), a.Rate)
		}
		if got := zeroCrossings(p.Samples(), 16000); math.Abs(got-inFreq) > 3 {
			t.Errorf("%s: %.1f Hz after conversion, %.1f Hz before", name, got, inFreq)
		}
		mid := p.Samples()[len(p.Samples())/4 : len(p.Samples())*3/4]
		peak := slices.Max(mid)
		if peak < 7900 || peak > 8100 {
			t.Errorf("%s: peak %d after conversion, want about 8000", name, peak)
		}
	}
	// The other prompts are still the stock ones.
	p, _ := set.Get(PromptGetConfNo)
	if p.Source() != "embedded" {
		t.Errorf("%s: source %q, want embedded", PromptGetConfNo, p.Source())
	}
}

// pcm8 is an 8-bit PCM WAV file, which package wav refuses.
func pcm8() []byte {
	var b bytes.Buffer
	data := bytes.Repeat([]byte{0x80, 0xff}, 400)
	b.WriteString("RIFF")
	_ = binary.Write(&b, binary.LittleEndian, uint32(36+len(data)))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(1), uint32(8000), uint32(8000), uint16(1), uint16(8)} {
		_ = binary.Write(&b, binary.LittleEndian, v)
	}
	b.WriteString("data")
	_ = binary.Write(&b, binary.LittleEndian, uint32(len(data)))
	b.Write(data)
	return b.Bytes()
}

func wavBytes(t *testing.T, a *wav.Audio) []byte {
	t.Helper()
	p := filepath.Join(t.TempDir(), "x.wav")
	writeWAV(t, p, a)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLoadPromptsRefusesBadFiles(t *testing.T) {
	good := wavBytes(t, sine(16000, 1, 440, 0.5, 8000))
	empty := slices.Clone(good[:44])
	binary.LittleEndian.PutUint32(empty[40:], 0) // data size 0: "to the end", which is right here
	tests := []struct {
		name     string
		giveFile string
		giveData []byte
		wantErr  error
		wantText string
	}{
		{"a text file named .wav", "conf-getpin.wav", []byte("this is not audio"), ErrPromptFormat, "not a RIFF/WAVE"},
		{"8-bit PCM", "conf-getpin.wav", pcm8(), ErrPromptFormat, "8-bit PCM"},
		{"a truncated file", "conf-getpin.wav", good[:len(good)/2], ErrPromptFormat, "truncated"},
		{"an empty data chunk", "conf-getpin.wav", empty, ErrSilentPrompt, "no samples"},
		{"digital silence", "conf-getpin.wav", wavBytes(t, &wav.Audio{Rate: 16000, Channels: 1, Samples: make([]int16, 8000)}), ErrSilentPrompt, "-60 dBFS"},
		{"a misspelt name", "conf-getpinn.wav", good, ErrUnknownPrompt, `"conf-getpinn"`},
		{"a misspelt digit", "digits/twelve.wav", good, ErrUnknownPrompt, `"digits/twelve"`},
		{"a prompt in another format", "conf-getpin.ulaw", good, ErrPromptFormat, "only .wav"},
		{"an unconvertible rate", "conf-getpin.wav", wavBytes(t, sine(4000, 1, 440, 0.5, 8000)), ErrUnsupportedRate, "4000 Hz"},
		{"a prompt over two minutes", "conf-help.wav", wavBytes(t, sine(8000, 1, 440, 121, 8000)), ErrPromptTooLong, "2m1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, tt.giveFile)
			_ = os.MkdirAll(filepath.Dir(path), 0o755)
			if err := os.WriteFile(path, tt.giveData, 0o644); err != nil {
				t.Fatal(err)
			}
			set, err := LoadPrompts(PromptConfig{Dir: dir})
			if set != nil || !errors.Is(err, tt.wantErr) {
				t.Fatalf("got %v, want %v", err, tt.wantErr)
			}
			var fe *PromptFileError
			if !errors.As(err, &fe) || fe.Path != path {
				t.Fatalf("error does not name %s: %v", path, err)
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.wantText) {
				t.Fatalf("error %q should name %s and say %q", err, path, tt.wantText)
			}
			t.Log(err)
		})
	}
}

func TestLoadPromptsNamesEveryBadFile(t *testing.T) {
	dir := t.TempDir()
	_ = os.WriteFile(filepath.Join(dir, "conf-getpin.wav"), []byte("junk"), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "conf-muted.wav"), []byte("junk"), 0o644)
	_, err := LoadPrompts(PromptConfig{Dir: dir})
	for _, f := range []string{"conf-getpin.wav", "conf-muted.wav"} {
		if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, f)) {
			t.Errorf("error %v does not name %s", err, f)
		}
	}
}

func TestLoadPromptsRefusesAMissingDirectoryAndBadRates(t *testing.T) {
	if _, err := LoadPrompts(PromptConfig{Dir: filepath.Join(t.TempDir(), "nope")}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing directory: %v", err)
	}
	if _, err := LoadPrompts(PromptConfig{Rate: 44100}); !errors.Is(err, ErrUnsupportedRate) {
		t.Errorf("rate 44100: %v", err)
	}
	if os.Geteuid() == 0 {
		return // root reads anything
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "conf-getpin.wav")
	writeWAV(t, p, sine(16000, 1, 440, 0.5, 8000))
	_ = os.Chmod(p, 0)
	var fe *PromptFileError
	if _, err := LoadPrompts(PromptConfig{Dir: dir}); !errors.As(err, &fe) || !errors.Is(err, fs.ErrPermission) {
		t.Errorf("unreadable file: %v", err)
	}
}

// The sinc converter against the ideal: a tone in the passband comes out
// as the same tone, and one above the output's Nyquist frequency does not
// alias into the band.
func TestSincConvert(t *testing.T) {
	tests := []struct {
		in, out  int
		freq     float64
		wantGain float64 // output RMS over input RMS
	}{
		{44100, 16000, 1000, 1},
		{44100, 8000, 3000, 1},
		{22050, 48000, 5000, 1},
		{44100, 16000, 12000, 0},
		{44100, 8000, 6000, 0},
	}
	for _, tt := range tests {
		a := sine(tt.in, 1, tt.freq, 1, 10000)
		got := sincConvert(a.Samples, tt.in, tt.out)
		ideal := sine(tt.out, 1, tt.freq, 1, 10000).Samples
		// Away from the edges, where the kernel runs off the input.
		lo, hi := tt.out/10, len(got)-tt.out/10
		var sig, errp float64
		for i := lo; i < hi; i++ {
			sig += float64(ideal[i]) * float64(ideal[i])
			d := float64(got[i]) - tt.wantGain*float64(ideal[i])
			errp += d * d
		}
		snr := 10 * math.Log10(sig/errp)
		t.Logf("%d → %d Hz, %.0f Hz tone, gain %g: %.1f dB to the error", tt.in, tt.out, tt.freq, tt.wantGain, snr)
		if snr < 60 {
			t.Errorf("%d → %d Hz, %.0f Hz tone: %.1f dB from the ideal, want ≥ 60", tt.in, tt.out, tt.freq, snr)
		}
	}
}

// media/resample's delay is removed: an impulse stays where it was.
func TestResampleAlignedKeepsTime(t *testing.T) {
	for _, r := range [][2]int{{16000, 8000}, {16000, 48000}, {8000, 48000}, {48000, 16000}} {
		in := make([]int16, r[0]/10)
		in[r[0]/20] = 20000
		out, err := resampleAligned(in, r[0], r[1])
		if err != nil {
			t.Fatal(err)
		}
		peak := 0
		for i, v := range out {
			if abs(int(v)) > abs(int(out[peak])) {
				peak = i
			}
		}
		if want := r[1] / 20; abs(peak-want) > 1 || len(out) != r[1]/10 {
			t.Errorf("%d → %d Hz: impulse at %d of %d samples, want %d of %d", r[0], r[1], peak, len(out), want, r[1]/10)
		}
	}
}
