package ivr

import (
	"testing"

	"github.com/setbridge/setbridge/media"
	"github.com/setbridge/setbridge/media/dtmf"
)

// BenchmarkSessionReadFrame measures one 20 ms frame of a joined caller
// listening to the stock help prompt over and over: the digit inbox, the
// timers, the state machine and the copy of a frame.
func BenchmarkSessionReadFrame(b *testing.B) {
	for _, rate := range []int{8000, 16000, 48000} {
		b.Run(rateName(rate), func(b *testing.B) {
			room := Room{ID: "demo"}
			clk := media.NewFakeClock(testEpoch)
			s, err := NewSession(Config{Prompts: stockSet(b, rate), Room: &room, Clock: clk,
				Handler: HandlerFuncs{OnJoin: func(RoomID, Role) (int, error) { return 1, nil }}})
			if err != nil {
				b.Fatal(err)
			}
			dst := make([]int16, s.FrameSamples())
			b.ReportAllocs()
			for b.Loop() {
				if !s.ReadFrame(dst) {
					s.Digit(dtmf.Digit{Rune: '*'})
					s.Digit(dtmf.Digit{Rune: '0'})
				}
			}
		})
	}
}
