package ivr_test

import (
	"fmt"
	"time"

	"github.com/setbridge/setbridge/ivr"
	"github.com/setbridge/setbridge/media"
	"github.com/setbridge/setbridge/media/dtmf"
)

// A phone leg driving a Session: digits in through Digit, one Read per
// 20 ms tick out, the marker bit on talk-spurt starts.
func Example() {
	set, err := ivr.LoadPrompts(ivr.PromptConfig{Rate: 8000})
	if err != nil {
		fmt.Println(err)
		return
	}
	dir := ivr.DirectoryFunc(func(number string) (ivr.Room, bool) {
		return ivr.Room{ID: "demo"}, number == "1000"
	})
	clock := media.NewFakeClock(time.Unix(0, 0))
	sess, err := ivr.NewSession(ivr.Config{
		Prompts:   set,
		Directory: dir,
		Clock:     clock,
		Handler: ivr.HandlerFuncs{
			OnJoin: func(room ivr.RoomID, role ivr.Role) (int, error) {
				fmt.Println("join", room, "as", role)
				return 1, nil // conf.Join(room, leg); the caller is alone
			},
			OnHangup: func(reason ivr.HangupReason) { fmt.Println("hang up:", reason) },
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sess.Close() // on BYE

	pcm := make([]int16, sess.FrameSamples())
	tick := func() { // the leg's 20 ms playout tick
		f := sess.Read(pcm)
		if f.Marker {
			fmt.Println("RTP marker:", f.Started)
		}
		// encode pcm (or silence when !f.Audio) and send it, timestamp += 160
		clock.Advance(media.FrameDuration)
	}
	for range 40 {
		tick() // the welcome, and the start of "please enter the conference number"
	}
	for _, key := range "1000#" { // RFC 4733, SIP INFO or in-band: each press once
		sess.Digit(dtmf.Digit{Rune: key})
		tick()
	}
	for range 200 {
		tick()
	}
	// Output:
	// RTP marker: conf-welcome
	// join demo as participant
	// RTP marker: conf-onlyperson
}
