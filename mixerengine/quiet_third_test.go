package mixerengine

import (
	"testing"

	"github.com/setbridge/setbridge/internal/audiotest"
)

// TestAThirdQuietTalkerIsNotHeardWithTopK2 is the in-process twin of the
// e2e test: the quiet talker spoke first, then two loud ones took the two
// places; a listener must not hear the quiet one at all.
func TestAThirdQuietTalkerIsNotHeardWithTopK2(t *testing.T) {
	h := newHarness(t, Config{Rate: rate, TopK: 2})
	h.join("quiet", &tone{rate: rate, freq: 1800, amp: 1000})
	h.steps(10)
	h.join("loud1", &tone{rate: rate, freq: 440, amp: 13000})
	h.steps(10)
	h.join("loud2", &tone{rate: rate, freq: 1000, amp: 13000})
	listener := &tone{rate: rate, silent: true}
	h.join("listener", listener)
	h.steps(60)
	t.Logf("talkers %v", h.talkers())
	heard := listener.last(25)
	for _, f := range []float64{440, 1000, 1800} {
		t.Logf("%v Hz: %.1f dB", f, audiotest.ToneLevelDB(heard, rate, f))
	}
	if l := audiotest.ToneLevelDB(heard, rate, 1800); l > -70 {
		t.Fatalf("quiet third talker heard at %.1f dB", l)
	}
}
