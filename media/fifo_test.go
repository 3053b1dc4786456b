package media

import (
	"slices"
	"testing"
)

func TestSampleFIFORechunks30msInto20ms(t *testing.T) {
	f := NewSampleFIFO(960)
	var in []int16
	for i := range 720 { // three 30 ms packets at 8 kHz
		in = append(in, int16(i))
	}
	for p := range 3 {
		f.Write(in[p*240 : (p+1)*240])
	}
	var out []int16
	frame := make([]int16, 160)
	for f.Read(frame) {
		out = append(out, frame...)
	}
	if !slices.Equal(out, in[:640]) {
		t.Fatalf("rechunked samples differ")
	}
	if f.Len() != 80 {
		t.Fatalf("left %d samples", f.Len())
	}
}

func TestSampleFIFODropsOldestWhenFull(t *testing.T) {
	f := NewSampleFIFO(4)
	f.Write([]int16{1, 2, 3})
	if d := f.Write([]int16{4, 5, 6}); d != 2 {
		t.Fatalf("dropped %d, want 2", d)
	}
	got := make([]int16, 4)
	if !f.Read(got) || !slices.Equal(got, []int16{3, 4, 5, 6}) {
		t.Fatalf("got %v", got)
	}
	if f.Read(got[:1]) {
		t.Fatalf("read from an empty FIFO")
	}
	f.Write([]int16{9})
	f.WriteSilence(2)
	if !f.Read(got[:3]) || !slices.Equal(got[:3], []int16{9, 0, 0}) {
		t.Fatalf("silence: got %v", got[:3])
	}
}
