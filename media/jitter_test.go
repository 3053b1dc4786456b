package media

import (
	"testing"
)

func TestJitterBuffer(t *testing.T) {
	type pop struct {
		wantStatus JitterStatus
		wantByte   byte
	}
	tests := []struct {
		name  string
		give  []uint16 // sequence numbers pushed before popping
		pops  []pop
		stats JitterStats
	}{
		{
			name: "waits for depth then plays in order",
			give: []uint16{10, 11, 12},
			pops: []pop{{JitterPacket, 10}, {JitterPacket, 11}, {JitterPacket, 12}, {JitterEmpty, 0}},
		},
		{
			name: "reorders packets that arrive out of order",
			give: []uint16{11, 10, 13, 12},
			pops: []pop{{JitterPacket, 10}, {JitterPacket, 11}, {JitterPacket, 12}, {JitterPacket, 13}},
		},
		{
			name: "reports a gap as lost when later packets are there",
			give: []uint16{1, 2, 4},
			pops: []pop{{JitterPacket, 1}, {JitterPacket, 2}, {JitterLost, 0}, {JitterPacket, 4}},
		},
		{
			name: "drops duplicates",
			give: []uint16{1, 1, 2},
			pops: []pop{{JitterPacket, 1}, {JitterPacket, 2}, {JitterEmpty, 0}},
		},
		{
			name: "wraps the sequence number",
			give: []uint16{65534, 65535, 0, 1},
			pops: []pop{{JitterPacket, 254}, {JitterPacket, 255}, {JitterPacket, 0}, {JitterPacket, 1}},
		},
		{
			name: "resyncs on a jump far ahead",
			give: []uint16{1, 2, 1000, 1001},
			pops: []pop{{JitterPacket, 1000 % 256}, {JitterPacket, 1001 % 256}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := NewJitterBuffer(2)
			for _, s := range tt.give {
				j.Push(s, []byte{byte(s)})
			}
			for i, p := range tt.pops {
				got, st := j.Pop()
				if st != p.wantStatus {
					t.Fatalf("pop %d: status %v, want %v", i, st, p.wantStatus)
				}
				if st == JitterPacket && got[0] != p.wantByte {
					t.Fatalf("pop %d: payload %d, want %d", i, got[0], p.wantByte)
				}
			}
		})
	}
}

func TestJitterBufferRefillsAfterUnderrun(t *testing.T) {
	j := NewJitterBuffer(2)
	j.Push(1, []byte{1})
	if _, st := j.Pop(); st != JitterEmpty {
		t.Fatalf("played before depth was reached: %v", st)
	}
	j.Push(2, []byte{2})
	for _, want := range []byte{1, 2} {
		if p, st := j.Pop(); st != JitterPacket || p[0] != want {
			t.Fatalf("got %v %v, want packet %d", p, st, want)
		}
	}
	if _, st := j.Pop(); st != JitterEmpty {
		t.Fatalf("underrun not reported")
	}
	j.Push(3, []byte{3})
	if _, st := j.Pop(); st != JitterEmpty {
		t.Fatalf("played with one packet after underrun")
	}
	if got := j.Stats().Underruns; got != 1 {
		t.Fatalf("underruns = %d, want 1", got)
	}
}

func BenchmarkJitterPushPop(b *testing.B) {
	j := NewJitterBuffer(2)
	p := make([]byte, 160)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		j.Push(uint16(i), p)
		j.Pop()
	}
}
