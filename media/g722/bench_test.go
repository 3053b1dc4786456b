package g722

import "testing"

// 20 ms at 16 kHz: 320 samples, 160 bytes (the usual RTP packetisation).

func BenchmarkEncode20ms(b *testing.B) {
	pcm := chirp(320, 200, 6000, dBFS(-10))
	dst := make([]byte, 160)
	e := NewEncoder()
	b.ReportAllocs()
	b.SetBytes(int64(2 * len(pcm)))
	for b.Loop() {
		e.Encode(dst, pcm)
	}
}

func BenchmarkDecode20ms(b *testing.B) {
	pcm := chirp(320, 200, 6000, dBFS(-10))
	payload := make([]byte, 160)
	NewEncoder().Encode(payload, pcm)
	dst := make([]int16, 320)
	d := NewDecoder()
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		d.Decode(dst, payload)
	}
}
