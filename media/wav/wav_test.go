package wav

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func testSamples(n int, seed uint64) []int16 {
	rng := rand.New(rand.NewPCG(seed, 1))
	s := make([]int16, n)
	for i := range s {
		s[i] = int16(rng.IntN(65536) - 32768)
	}
	if n >= 2 {
		s[0], s[1] = math.MaxInt16, math.MinInt16
	}
	return s
}

func TestRoundTripFile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ rate, ch, frames int }{
		{8000, 1, 4000}, {16000, 1, 1}, {48000, 2, 48000}, {44100, 2, 0}, {22050, 1, 100001},
	} {
		a := &Audio{Rate: tc.rate, Channels: tc.ch, Samples: testSamples(tc.frames*tc.ch, uint64(tc.rate))}
		p := filepath.Join(dir, "rt.wav")
		if err := WriteFile(p, a); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if want := int64(44 + 2*len(a.Samples)); st.Size() != want {
			t.Errorf("%+v: file size %d, want %d", tc, st.Size(), want)
		}
		b, err := ReadFile(p)
		if err != nil {
			t.Fatalf("%+v: %v", tc, err)
		}
		if b.Rate != a.Rate || b.Channels != a.Channels || !slices.Equal(a.Samples, b.Samples) {
			t.Errorf("%+v: round trip mismatch: got rate %d ch %d len %d", tc, b.Rate, b.Channels, len(b.Samples))
		}
		if b.Frames() != tc.frames {
			t.Errorf("Frames() = %d, want %d", b.Frames(), tc.frames)
		}
	}
}

func TestWriterHeaderAndChunks(t *testing.T) {
	m := &memFile{}
	m.Write([]byte("prefix")) // the header may start anywhere
	w, err := NewWriter(m, 16000, 2)
	if err != nil {
		t.Fatal(err)
	}
	s := testSamples(2*1000, 7)
	for i := 0; i < len(s); i += 2 * 37 {
		if err := w.Write(s[i:min(i+2*37, len(s))]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Write(s[:1]); !errors.Is(err, ErrPartialFrame) {
		t.Errorf("odd stereo write: err = %v, want ErrPartialFrame", err)
	}
	if w.Frames() != 1000 {
		t.Errorf("Frames() = %d", w.Frames())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if m.pos != int64(len(m.b)) {
		t.Errorf("Close left position %d, want end %d", m.pos, len(m.b))
	}
	if err := w.Write(s[:2]); !errors.Is(err, ErrClosed) {
		t.Errorf("write after close: %v", err)
	}
	file := m.b[6:]
	want := make([]byte, 44)
	putCanonicalHeader(want, 16000, 2, uint32(36+4000), 4000)
	if !bytes.Equal(file[:44], want) {
		t.Errorf("header\n got % x\nwant % x", file[:44], want)
	}
	a, err := Read(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.Samples, s) {
		t.Error("samples differ")
	}
}

func TestWriterNoAlloc(t *testing.T) {
	m := &memFile{b: make([]byte, 0, 1<<22)}
	w, err := NewWriter(m, 48000, 1)
	if err != nil {
		t.Fatal(err)
	}
	frame := testSamples(960, 3)
	if n := testing.AllocsPerRun(100, func() { w.Write(frame) }); n != 0 {
		t.Errorf("Write allocates %v times per call", n)
	}
}

func TestWriterBadParams(t *testing.T) {
	for _, tc := range []struct{ rate, ch int }{{8000, 0}, {8000, 3}, {0, 1}, {-1, 2}, {math.MaxInt32, 2}} {
		if _, err := NewWriter(&memFile{}, tc.rate, tc.ch); !errors.Is(err, ErrUnsupportedFormat) {
			t.Errorf("NewWriter(%d, %d): err = %v", tc.rate, tc.ch, err)
		}
	}
}

func TestStreamingDataSize(t *testing.T) {
	s := testSamples(301, 9)
	for _, size := range []uint32{0, 0xFFFFFFFF} {
		b := riff(chunk{id: "fmt ", body: fmtBody(1, 1, 8000, 16)}, chunk{id: "data", body: pcm(s...), size: u32(size)})
		binary.LittleEndian.PutUint32(b[4:], size) // streaming writers leave the RIFF size unset too
		a, err := Read(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("size %#x: %v", size, err)
		}
		if !slices.Equal(a.Samples, s) {
			t.Errorf("size %#x: got %d samples, want %d", size, len(a.Samples), len(s))
		}
	}
	// A data chunk that declares fewer bytes than follow stops there.
	b := riff(chunk{id: "fmt ", body: fmtBody(1, 1, 8000, 16)}, chunk{id: "data", body: pcm(s...), size: u32(20)})
	a, err := Read(bytes.NewReader(b))
	if err != nil || !slices.Equal(a.Samples, s[:10]) {
		t.Errorf("short declared data: %v, %d samples", err, len(a.Samples))
	}
}

func TestSkipChunksAndPadding(t *testing.T) {
	s := testSamples(64, 11)
	list := []byte("INFOISFT\x05\x00\x00\x00sbox\x00") // 17 bytes: odd
	for _, tc := range []struct {
		name   string
		chunks []chunk
	}{
		{"LIST before fmt", []chunk{{id: "LIST", body: list}, {id: "fmt ", body: fmtBody(1, 2, 48000, 16)}, {id: "data", body: pcm(s...)}}},
		{"odd chunk between", []chunk{{id: "fmt ", body: fmtBody(1, 2, 48000, 16)}, {id: "junk", body: []byte{1, 2, 3}}, {id: "data", body: pcm(s...)}}},
		{"odd chunk without pad", []chunk{{id: "fmt ", body: fmtBody(1, 2, 48000, 16)}, {id: "junk", body: []byte{1, 2, 3}, noPad: true}, {id: "data", body: pcm(s...)}}},
		{"odd LIST without pad", []chunk{{id: "LIST", body: list, noPad: true}, {id: "fmt ", body: fmtBody(1, 2, 48000, 16)}, {id: "data", body: pcm(s...)}}},
		{"empty chunk", []chunk{{id: "fmt ", body: fmtBody(1, 2, 48000, 16)}, {id: "fact", body: nil}, {id: "data", body: pcm(s...)}}},
		{"long fmt", []chunk{{id: "fmt ", body: append(fmtBody(1, 2, 48000, 16), 0, 0, 9)}, {id: "data", body: pcm(s...)}}},
		{"chunks after data", []chunk{{id: "fmt ", body: fmtBody(1, 2, 48000, 16)}, {id: "data", body: pcm(s...)}, {id: "LIST", body: list}}},
		{"extensible", []chunk{{id: "fmt ", body: extBody(1, 2, 48000, 16, 16)}, {id: "data", body: pcm(s...)}}},
		{"extensible 12 valid bits", []chunk{{id: "fmt ", body: extBody(1, 2, 48000, 16, 12)}, {id: "data", body: pcm(s...)}}},
	} {
		a, err := Read(bytes.NewReader(riff(tc.chunks...)))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if a.Rate != 48000 || a.Channels != 2 || !slices.Equal(a.Samples, s) {
			t.Errorf("%s: got rate %d channels %d %d samples", tc.name, a.Rate, a.Channels, len(a.Samples))
		}
	}

	// Odd-sized data chunk: the stray byte is not a sample.
	b := riff(chunk{id: "fmt ", body: fmtBody(1, 1, 8000, 16)}, chunk{id: "data", body: append(pcm(1, 2, 3), 0x7f)})
	a, err := Read(bytes.NewReader(b))
	if err != nil || !slices.Equal(a.Samples, []int16{1, 2, 3}) {
		t.Errorf("odd data chunk: %v %v", a, err)
	}
	// Stereo data with a partial frame: the partial frame is dropped.
	b = riff(chunk{id: "fmt ", body: fmtBody(1, 2, 8000, 16)}, chunk{id: "data", body: pcm(1, 2, 3)})
	a, err = Read(bytes.NewReader(b))
	if err != nil || !slices.Equal(a.Samples, []int16{1, 2}) {
		t.Errorf("partial stereo frame: %v %v", a, err)
	}
}

func TestUnsupportedAndMalformed(t *testing.T) {
	data := chunk{id: "data", body: pcm(1, 2, 3, 4)}
	badGUID := extBody(1, 1, 8000, 16, 16)
	badGUID[30] ^= 0xFF
	shortExt := append(fmtBody(tagExtensible, 1, 8000, 16), 0, 0)
	wrongAlign := fmtBody(1, 2, 8000, 16)
	wrongAlign[12] = 2
	for _, tc := range []struct {
		name string
		in   []byte
		want error
		desc string // substring of the message
		tag  uint16
	}{
		{"empty", nil, ErrNotWAV, "too short", 0},
		{"garbage", []byte("hello world, this is not a wav file"), ErrNotWAV, `"hell"`, 0},
		{"AIFF", []byte("FORM\x00\x00\x00\x10AIFFCOMM"), ErrNotWAV, "", 0},
		{"not WAVE", []byte("RIFF\x04\x00\x00\x00AVI LIST"), ErrNotWAV, "AVI", 0},
		{"RIFX", []byte("RIFX\x00\x00\x00\x24WAVE"), ErrUnsupportedFormat, "big-endian", 0},
		{"RF64", []byte("RF64\xff\xff\xff\xffWAVEds64"), ErrUnsupportedFormat, "RF64", 0},
		{"8-bit", riff(chunk{id: "fmt ", body: fmtBody(1, 1, 8000, 8)}, data), ErrUnsupportedFormat, "8-bit PCM", 1},
		{"24-bit", riff(chunk{id: "fmt ", body: fmtBody(1, 1, 8000, 24)}, data), ErrUnsupportedFormat, "24-bit PCM", 1},
		{"24-bit extensible", riff(chunk{id: "fmt ", body: extBody(1, 1, 8000, 24, 24)}, data), ErrUnsupportedFormat, "24-bit PCM in WAVE_FORMAT_EXTENSIBLE", 1},
		{"float", riff(chunk{id: "fmt ", body: fmtBody(3, 1, 8000, 32)}, data), ErrUnsupportedFormat, "32-bit IEEE float", 3},
		{"float extensible", riff(chunk{id: "fmt ", body: extBody(3, 1, 8000, 32, 32)}, data), ErrUnsupportedFormat, "IEEE float (format tag 0x0003) in WAVE_FORMAT_EXTENSIBLE", 3},
		{"mu-law", riff(chunk{id: "fmt ", body: fmtBody(7, 1, 8000, 8)}, data), ErrUnsupportedFormat, "mu-law", 7},
		{"A-law", riff(chunk{id: "fmt ", body: fmtBody(6, 1, 8000, 8)}, data), ErrUnsupportedFormat, "A-law", 6},
		{"IMA ADPCM", riff(chunk{id: "fmt ", body: fmtBody(0x11, 1, 8000, 4)}, data), ErrUnsupportedFormat, "IMA ADPCM", 0x11},
		{"unknown tag", riff(chunk{id: "fmt ", body: fmtBody(0x1234, 1, 8000, 16)}, data), ErrUnsupportedFormat, "0x1234", 0x1234},
		{"3 channels", riff(chunk{id: "fmt ", body: fmtBody(1, 3, 8000, 16)}, data), ErrUnsupportedFormat, "3 channels", 1},
		{"bad GUID", riff(chunk{id: "fmt ", body: badGUID}, data), ErrUnsupportedFormat, "GUID", tagExtensible},
		{"short extensible", riff(chunk{id: "fmt ", body: shortExt}, data), ErrMalformed, "EXTENSIBLE", 0},
		{"0 channels", riff(chunk{id: "fmt ", body: fmtBody(1, 0, 8000, 16)}, data), ErrMalformed, "zero channels", 0},
		{"0 Hz", riff(chunk{id: "fmt ", body: fmtBody(1, 1, 0, 16)}, data), ErrMalformed, "sample rate 0", 0},
		{"block align", riff(chunk{id: "fmt ", body: wrongAlign}, data), ErrMalformed, "block align", 0},
		{"short fmt", riff(chunk{id: "fmt ", body: make([]byte, 14)}, data), ErrMalformed, "fmt chunk is 14 bytes", 0},
		{"two fmt", riff(chunk{id: "fmt ", body: fmtBody(1, 1, 8000, 16)}, chunk{id: "fmt ", body: fmtBody(1, 1, 8000, 16)}, data), ErrMalformed, "more than one", 0},
		{"data first", riff(data, chunk{id: "fmt ", body: fmtBody(1, 1, 8000, 16)}), ErrMalformed, "before fmt", 0},
		{"no fmt", riff(chunk{id: "LIST", body: []byte("INFO")}), ErrMalformed, "no fmt", 0},
		{"no data", riff(chunk{id: "fmt ", body: fmtBody(1, 1, 8000, 16)}), ErrMalformed, "no data", 0},
	} {
		a, err := Read(bytes.NewReader(tc.in))
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
			continue
		}
		if a != nil {
			t.Errorf("%s: non-nil Audio with error", tc.name)
		}
		if !bytes.Contains([]byte(err.Error()), []byte(tc.desc)) {
			t.Errorf("%s: error %q does not mention %q", tc.name, err, tc.desc)
		}
		var fe *FormatError
		if errors.As(err, &fe) != (tc.want == ErrUnsupportedFormat) {
			t.Errorf("%s: FormatError = %v", tc.name, fe)
		} else if fe != nil && fe.Tag != tc.tag {
			t.Errorf("%s: FormatError.Tag = %#x, want %#x", tc.name, fe.Tag, tc.tag)
		}
	}
}

func TestTruncated(t *testing.T) {
	s := testSamples(2*50, 5)
	full := riff(chunk{id: "LIST", body: []byte("INFOISFT\x03\x00\x00\x00ab\x00\x00")},
		chunk{id: "fmt ", body: fmtBody(1, 2, 16000, 16)}, chunk{id: "data", body: pcm(s...)})
	dataOff := len(full) - 2*len(s)
	for cut := 0; cut < len(full); cut++ {
		a, err := Read(bytes.NewReader(full[:cut]))
		switch {
		case cut < 4:
			if !errors.Is(err, ErrNotWAV) || a != nil {
				t.Errorf("cut %d: %v, %v", cut, a, err)
			}
		case cut < dataOff:
			if !errors.Is(err, ErrTruncated) || a != nil {
				t.Errorf("cut %d (header): %v, %v", cut, a, err)
			}
		default:
			if !errors.Is(err, ErrTruncated) || a == nil {
				t.Errorf("cut %d (data): %v, %v", cut, a, err)
				continue
			}
			frames := (cut - dataOff) / 4
			if !slices.Equal(a.Samples, s[:2*frames]) {
				t.Errorf("cut %d: got %d samples, want %d", cut, len(a.Samples), 2*frames)
			}
		}
	}
	// The error names what was expected.
	_, err := Read(bytes.NewReader(full[:dataOff+10]))
	if want := "data chunk declares 200 bytes, stream holds 10"; !bytes.Contains([]byte(err.Error()), []byte(want)) {
		t.Errorf("message %q lacks %q", err, want)
	}
}

type errReader struct{ r io.Reader }

var errBoom = errors.New("boom")

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		return n, errBoom
	}
	return n, err
}

func TestReadError(t *testing.T) {
	b := riff(chunk{id: "fmt ", body: fmtBody(1, 1, 8000, 16)}, chunk{id: "data", body: pcm(1, 2, 3)})
	for _, cut := range []int{0, 2, 20, len(b) - 1} {
		a, err := Read(&errReader{bytes.NewReader(b[:cut])})
		if !errors.Is(err, errBoom) || a != nil {
			t.Errorf("cut %d: %v, %v; want the reader's error", cut, a, err)
		}
	}
}

// crashedWriterFile writes frames with a Writer and never closes it, then
// appends extra raw bytes (a partial frame).
func crashedWriterFile(t *testing.T, f io.WriteSeeker, channels int, s []int16, extra []byte) {
	t.Helper()
	w, err := NewWriter(f, 8000, channels)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(s); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(extra); err != nil {
		t.Fatal(err)
	}
}

func TestFixHeader(t *testing.T) {
	s := testSamples(2*333, 13)
	for _, tc := range []struct {
		ch    int
		extra []byte
	}{{1, nil}, {1, []byte{0x12}}, {2, []byte{1, 2, 3}}, {2, nil}} {
		m := &memFile{}
		crashedWriterFile(t, m, tc.ch, s, tc.extra)
		n, err := FixHeader(m)
		if err != nil {
			t.Fatal(err)
		}
		if n != int64(2*len(s)) {
			t.Errorf("ch %d extra %d: dataBytes %d, want %d", tc.ch, len(tc.extra), n, 2*len(s))
		}
		if len(m.b) != 44+2*len(s) {
			t.Errorf("partial frame not truncated: len %d", len(m.b))
		}
		if got, want := binary.LittleEndian.Uint32(m.b[4:]), uint32(36+2*len(s)); got != want {
			t.Errorf("RIFF size %d, want %d", got, want)
		}
		if got := binary.LittleEndian.Uint32(m.b[40:]); got != uint32(2*len(s)) {
			t.Errorf("data size %d", got)
		}
		a, err := Read(bytes.NewReader(m.b))
		if err != nil || !slices.Equal(a.Samples, s) {
			t.Errorf("after FixHeader: %v", err)
		}
		// Idempotent.
		before := slices.Clone(m.b)
		if n2, err := FixHeader(m); err != nil || n2 != n || !bytes.Equal(before, m.b) {
			t.Errorf("second FixHeader changed the file: %d %v", n2, err)
		}
	}
}

func TestFixHeaderOSFileCutMidData(t *testing.T) {
	p := filepath.Join(t.TempDir(), "crash.wav")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := testSamples(1600, 17)
	crashedWriterFile(t, f, 1, s, nil)
	// The process died while the kernel had written only part of the
	// last write: cut mid-sample.
	if err := f.Truncate(44 + 2*1000 + 1); err != nil {
		t.Fatal(err)
	}
	n, err := FixHeader(f)
	if err != nil || n != 2000 {
		t.Fatalf("FixHeader = %d, %v; want 2000", n, err)
	}
	a, err := ReadFile(p)
	if err != nil || !slices.Equal(a.Samples, s[:1000]) {
		t.Fatalf("read after fix: %v", err)
	}
	if st, _ := f.Stat(); st.Size() != 44+2000 {
		t.Errorf("size %d", st.Size())
	}
}

func TestFixHeaderKeepsGoodFile(t *testing.T) {
	s := testSamples(100, 19)
	list := chunk{id: "LIST", body: []byte("INFOISFT\x05\x00\x00\x00sbox\x00")}
	good := riff(chunk{id: "fmt ", body: fmtBody(1, 1, 8000, 16)}, chunk{id: "data", body: pcm(s...)}, list, chunk{id: "id3 ", body: []byte{1, 2, 3, 4}})
	m := &memFile{b: slices.Clone(good)}
	n, err := FixHeader(m)
	if err != nil || n != 200 || !bytes.Equal(m.b, good) {
		t.Errorf("FixHeader on a good file with trailing chunks: %d %v changed=%v", n, err, !bytes.Equal(m.b, good))
	}

	// A header with a stale real size (a writer that updates it now and
	// then) followed by audio, not chunks: the file length wins.
	stale := riff(chunk{id: "fmt ", body: fmtBody(1, 1, 8000, 16)}, chunk{id: "data", body: pcm(s...), size: u32(50)})
	m = &memFile{b: stale}
	n, err = FixHeader(m)
	if err != nil || n != 200 {
		t.Errorf("stale size: %d %v", n, err)
	}
	if a, err := Read(bytes.NewReader(m.b)); err != nil || !slices.Equal(a.Samples, s) {
		t.Errorf("stale size: read %v", err)
	}
}

func TestFixHeaderErrors(t *testing.T) {
	for _, in := range [][]byte{nil, []byte("RIFF\x00\x00"), []byte("not a wav file at all")} {
		if _, err := FixHeader(&memFile{b: in}); err == nil {
			t.Errorf("FixHeader(%q) succeeded", in)
		}
	}
	m := &memFile{b: riff(chunk{id: "fmt ", body: fmtBody(7, 1, 8000, 8)}, chunk{id: "data", body: []byte{1, 2}})}
	if _, err := FixHeader(m); !errors.Is(err, ErrUnsupportedFormat) {
		t.Errorf("mu-law: %v", err)
	}
}

func TestAudioHelpers(t *testing.T) {
	a := &Audio{Rate: 8000, Channels: 2, Samples: make([]int16, 2*4000)}
	if a.Frames() != 4000 || a.Duration().Milliseconds() != 500 {
		t.Errorf("Frames %d Duration %v", a.Frames(), a.Duration())
	}
	if (&Audio{}).Duration() != 0 || (&Audio{}).Frames() != 0 {
		t.Error("zero Audio")
	}
}
