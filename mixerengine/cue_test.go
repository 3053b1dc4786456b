package mixerengine

import (
	"testing"

	"github.com/setbridge/setbridge/internal/audiotest"
)

func TestCueIsHeardByTalkersAndListenersOnce(t *testing.T) {
	h := newHarness(t, Config{Rate: rate})
	talker := &tone{rate: rate, freq: 440, amp: 8000}
	listener := &tone{rate: rate, silent: true}
	h.join("talker", talker)
	h.join("listener", listener)
	h.steps(10)
	beep := audiotest.GenTone(rate, 600, 0.3, 100e6) // 100 ms
	h.e.Cue(h.room, beep)
	h.steps(5) // the cue plays in ticks 1 to 5 after it was queued
	for name, p := range map[string]*tone{"talker": talker, "listener": listener} {
		if lv := audiotest.ToneLevelDB(p.last(5), rate, 600); lv < -20 {
			t.Errorf("%s does not hear the cue (%.1f dB)", name, lv)
		}
	}
	h.steps(5)
	if lv := audiotest.ToneLevelDB(listener.last(5), rate, 600); lv > -80 {
		t.Errorf("the cue plays on after its end (%.1f dB)", lv)
	}
}
