package g722

import (
	"slices"
	"testing"
)

// FuzzDecode decodes arbitrary bytes: every byte is a valid code word, so
// Decode must never panic, must return exactly two samples per byte, must
// be deterministic, and must give the same samples when the payload is
// split across calls or dst is short.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x00})
	f.Add([]byte{0xff, 0x00, 0xff, 0x00})
	f.Add([]byte{0x04, 0xc4, 0x20, 0xe0, 0x3f, 0x44, 0x84})
	f.Fuzz(func(t *testing.T, payload []byte) {
		out := make([]int16, 2*len(payload))
		if n := NewDecoder().Decode(out, payload); n != 2*len(payload) {
			t.Fatalf("Decode returned %d for %d bytes", n, len(payload))
		}

		// Split at the middle: same samples.
		d := NewDecoder()
		half := len(payload) / 2
		split := make([]int16, 2*len(payload))
		n1 := d.Decode(split, payload[:half])
		n2 := d.Decode(split[n1:], payload[half:])
		if n1 != 2*half || n1+n2 != len(split) || !slices.Equal(split, out) {
			t.Fatalf("split decode differs (%d+%d samples)", n1, n2)
		}

		// A destination one sample short decodes all but the last byte.
		if len(payload) > 0 {
			short := make([]int16, 2*len(payload)-1)
			n := NewDecoder().Decode(short, payload)
			if n != 2*len(payload)-2 || !slices.Equal(short[:n], out[:n]) || short[n] != 0 {
				t.Fatalf("short decode returned %d samples", n)
			}
		}
	})
}
