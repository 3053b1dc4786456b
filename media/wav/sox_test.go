package wav

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// needSox returns the path of sox or skips the test.
func needSox(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("sox")
	if err != nil {
		t.Skip("sox not installed")
	}
	return p
}

func runSox(t *testing.T, sox string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(sox, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sox %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// soxRaw returns the samples of a file as sox decodes them.
func soxRaw(t *testing.T, sox, path string) []int16 {
	t.Helper()
	raw := runSox(t, sox, path, "-t", "raw", "-e", "signed-integer", "-b", "16", "-L", "-")
	s := make([]int16, len(raw)/2)
	for i := range s {
		s[i] = int16(binary.LittleEndian.Uint16(raw[2*i:]))
	}
	return s
}

func zeroCrossings(s []int16, channels, ch int) int {
	n := 0
	for i := ch + channels; i < len(s); i += channels {
		if (s[i-channels] < 0) != (s[i] < 0) {
			n++
		}
	}
	return n
}

func TestReadSoxFiles(t *testing.T) {
	sox := needSox(t)
	dir := t.TempDir()
	for i, tc := range []struct {
		args      []string
		rate, ch  int
		freqs     []int // per channel
		secondsMs int
	}{
		{[]string{"-r", "8000", "-c", "1", "-b", "16"}, 8000, 1, []int{440}, 500},
		{[]string{"-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer"}, 8000, 1, []int{440}, 500},
		{[]string{"-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer"}, 16000, 1, []int{1000}, 500},
		{[]string{"-r", "44100", "-c", "2", "-b", "16"}, 44100, 2, []int{440, 660}, 500},
		{[]string{"-r", "48000", "-c", "2", "-b", "16", "-e", "signed-integer"}, 48000, 2, []int{440, 660}, 500},
	} {
		p := filepath.Join(dir, "sox"+strconv.Itoa(i)+".wav")
		args := append([]string{"-D", "-n"}, tc.args...)
		args = append(args, p, "synth", "0.5")
		for _, f := range tc.freqs {
			args = append(args, "sine", strconv.Itoa(f))
		}
		runSox(t, sox, args...)
		a, err := ReadFile(p)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if a.Rate != tc.rate || a.Channels != tc.ch {
			t.Errorf("%v: rate %d channels %d", tc.args, a.Rate, a.Channels)
		}
		if want := tc.rate * tc.secondsMs / 1000; a.Frames() != want {
			t.Errorf("%v: %d frames, want %d", tc.args, a.Frames(), want)
		}
		if want := soxRaw(t, sox, p); !slices.Equal(a.Samples, want) {
			t.Errorf("%v: samples differ from sox's own decoding", tc.args)
		}
		for ch, f := range tc.freqs {
			// A sine of f Hz crosses zero 2f times a second.
			want := 2 * f * tc.secondsMs / 1000
			if got := zeroCrossings(a.Samples, tc.ch, ch); got < want-3 || got > want+3 {
				t.Errorf("%v: channel %d has %d zero crossings, want about %d", tc.args, ch, got, want)
			}
		}
	}
}

func TestSoxUnsupportedFiles(t *testing.T) {
	sox := needSox(t)
	dir := t.TempDir()
	for i, tc := range []struct {
		args []string
		desc string
	}{
		{[]string{"-b", "8"}, "8-bit PCM"},
		{[]string{"-b", "24"}, "24-bit PCM in WAVE_FORMAT_EXTENSIBLE"},
		{[]string{"-b", "32", "-e", "floating-point"}, "32-bit IEEE float"},
		{[]string{"-e", "mu-law"}, "mu-law (G.711)"},
		{[]string{"-e", "a-law"}, "A-law (G.711)"},
		{[]string{"-e", "ima-adpcm"}, "IMA ADPCM"},
		{[]string{"-c", "3", "-b", "16"}, "3 channels"},
	} {
		p := filepath.Join(dir, "u"+strconv.Itoa(i)+".wav")
		args := append([]string{"-D", "-n", "-r", "8000"}, tc.args...)
		runSox(t, sox, append(args, p, "synth", "0.1", "sine", "440")...)
		_, err := ReadFile(p)
		var fe *FormatError
		if !errors.Is(err, ErrUnsupportedFormat) || !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.desc) {
			t.Errorf("%v: err = %v, want a FormatError mentioning %q", tc.args, err, tc.desc)
		}
	}
}

func TestSoxReadsOurFiles(t *testing.T) {
	sox := needSox(t)
	dir := t.TempDir()
	for _, tc := range []struct{ rate, ch int }{{8000, 1}, {48000, 2}} {
		a := &Audio{Rate: tc.rate, Channels: tc.ch, Samples: testSamples(tc.ch*tc.rate/10, 23)}
		p := filepath.Join(dir, "ours.wav")
		if err := WriteFile(p, a); err != nil {
			t.Fatal(err)
		}
		info := strings.Fields(string(runSox(t, sox, "--i", "-r", p)) + string(runSox(t, sox, "--i", "-c", p)) + string(runSox(t, sox, "--i", "-s", p)))
		want := []string{strconv.Itoa(tc.rate), strconv.Itoa(tc.ch), strconv.Itoa(len(a.Samples) / tc.ch)}
		if !slices.Equal(info, want) {
			t.Errorf("sox --i says %v, want %v", info, want)
		}
		if got := soxRaw(t, sox, p); !slices.Equal(got, a.Samples) {
			t.Errorf("sox decodes different samples")
		}
	}

	// A file whose writer died (placeholder sizes), before and after
	// FixHeader.
	p := filepath.Join(dir, "crash.wav")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	s := testSamples(800, 29)
	crashedWriterFile(t, f, 1, s, []byte{9})
	soxBefore := soxRaw(t, sox, p)
	t.Logf("sox reads %d of %d samples from an unclosed Writer's file", len(soxBefore), len(s))
	if _, err := FixHeader(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if got := soxRaw(t, sox, p); !slices.Equal(got, s) {
		t.Errorf("after FixHeader sox decodes %d samples, want %d", len(got), len(s))
	}
}
