package wav

import (
	"bytes"
	"errors"
	"slices"
	"testing"
)

// FuzzRead checks that Read never panics, that what it returns is
// consistent, that a decoded file survives a write/read round trip, and
// that FixHeader leaves a readable file whenever it succeeds. The seed
// corpus is in testdata/fuzz/FuzzRead.
func FuzzRead(f *testing.F) {
	f.Add(riff(chunk{id: "fmt ", body: fmtBody(1, 1, 8000, 16)}, chunk{id: "data", body: pcm(1, -2, 3)}))
	f.Add(riff(chunk{id: "fmt ", body: extBody(1, 2, 48000, 16, 16)}, chunk{id: "data", body: pcm(1, -2, 3, 4)}))
	f.Add(riff(chunk{id: "fmt ", body: fmtBody(1, 1, 8000, 16)}, chunk{id: "data", body: pcm(5, 6), size: u32(0xFFFFFFFF)}))
	f.Fuzz(func(t *testing.T, in []byte) {
		fuzzRead(t, in)
		fuzzFixHeader(t, in)
	})
}

func fuzzRead(t *testing.T, in []byte) {
	a, err := Read(bytes.NewReader(in))
	if err != nil {
		if !errors.Is(err, ErrNotWAV) && !errors.Is(err, ErrUnsupportedFormat) &&
			!errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTruncated) {
			t.Fatalf("error wraps none of the package errors: %v", err)
		}
		if a != nil && !errors.Is(err, ErrTruncated) {
			t.Fatalf("Audio with error %v", err)
		}
		if a == nil {
			return
		}
	}
	if a.Channels != 1 && a.Channels != 2 || a.Rate <= 0 || len(a.Samples)%a.Channels != 0 {
		t.Fatalf("inconsistent Audio: rate %d channels %d samples %d", a.Rate, a.Channels, len(a.Samples))
	}
	if 2*len(a.Samples) > len(in) {
		t.Fatalf("%d samples from %d bytes", len(a.Samples), len(in))
	}
	m := &memFile{}
	w, err := NewWriter(m, a.Rate, a.Channels)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(a.Samples); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := Read(bytes.NewReader(m.b))
	if err != nil || b.Rate != a.Rate || b.Channels != a.Channels || !slices.Equal(a.Samples, b.Samples) {
		t.Fatalf("round trip: %v", err)
	}
}

func fuzzFixHeader(t *testing.T, in []byte) {
	m := &memFile{b: slices.Clone(in)}
	n, err := FixHeader(m)
	if err != nil {
		return
	}
	b, err := Read(bytes.NewReader(m.b))
	if err != nil {
		t.Fatalf("Read after FixHeader: %v", err)
	}
	if int64(2*len(b.Samples)) != n {
		t.Fatalf("FixHeader says %d data bytes, Read finds %d samples", n, len(b.Samples))
	}
}
