package media

import (
	"testing"

	"github.com/zaf/g711"
)

// The table-driven G.711 codecs agree with zaf/g711 on every code and
// every sample.
func TestG711MatchesZafG711(t *testing.T) {
	for _, tt := range []struct {
		name string
		c    Codec
		dec  func(uint8) int16
		enc  func(int16) uint8
	}{
		{"PCMU", PCMU, g711.DecodeUlawFrame, g711.EncodeUlawFrame},
		{"PCMA", PCMA, g711.DecodeAlawFrame, g711.EncodeAlawFrame},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dec, _ := tt.c.NewDecoder()
			enc, _ := tt.c.NewEncoder()
			codes := make([]byte, 256)
			for i := range codes {
				codes[i] = byte(i)
			}
			pcm := make([]int16, 256)
			if n, err := dec.Decode(pcm, codes); err != nil || n != 256 {
				t.Fatal(n, err)
			}
			for i, v := range pcm {
				if v != tt.dec(uint8(i)) {
					t.Fatalf("code %d decodes to %d, want %d", i, v, tt.dec(uint8(i)))
				}
			}
			samples := make([]int16, 0, 65536)
			for v := -32768; v <= 32767; v++ {
				samples = append(samples, int16(v))
			}
			out := make([]byte, len(samples))
			enc.Encode(out, samples)
			for i, s := range samples {
				if out[i] != tt.enc(s) {
					t.Fatalf("sample %d encodes to %d, want %d", s, out[i], tt.enc(s))
				}
			}
			if _, err := dec.Decode(pcm[:1], codes); err != ErrShortBuffer {
				t.Fatalf("short buffer: %v", err)
			}
		})
	}
}
