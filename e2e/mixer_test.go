package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/setbridge/setbridge/internal/audiotest"
	"github.com/setbridge/setbridge/internal/peers"
)

// TestLoudestTalkersAreHeard: with top_k 2 and three open microphones, a
// listener hears the two loud talkers and not the quiet one, even though
// the quiet one spoke first.
func TestLoudestTalkersAreHeard(t *testing.T) {
	s := startServer(t, "mixer:\n  top_k: 2\n")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	talker := func(freq, amp float64) *peers.Baresip {
		src := filepath.Join(t.TempDir(), fmt.Sprintf("%.0f.wav", freq))
		if err := audiotest.WriteMonoWAV(src, 8000, audiotest.GenTone(8000, freq, amp, 15*time.Second)); err != nil {
			t.Fatal(err)
		}
		b := phone(t, ctx, peers.BaresipOptions{T: t, Dial: "sip:1000@" + s.SIPUDP, PlayWAV: src, Codecs: []string{"PCMU"}})
		return b
	}
	// 1730 Hz sits clear of the μ-law intermodulation products of 440 and
	// 1000 Hz (4×1000−5×440 = 1800 would be heard at about -48 dB).
	quiet := talker(1730, 0.03) // about -30 dBFS: active, but 20 dB below the others
	time.Sleep(300 * time.Millisecond)
	loud1 := talker(440, 0.4)
	loud2 := talker(1000, 0.4)
	rec := filepath.Join(t.TempDir(), "listener.wav")
	listener := phone(t, ctx, peers.BaresipOptions{T: t, Dial: "sip:1000@" + s.SIPUDP, RecordWAV: rec, Codecs: []string{"PCMU"}})
	time.Sleep(3 * time.Second)
	listener.Stop()
	for _, b := range []*peers.Baresip{loud1, loud2, quiet} {
		b.Stop()
	}
	pcm, rate := heard(t, rec, 500*time.Millisecond)
	lv := func(f float64) float64 { return audiotest.ToneLevelDB(pcm, rate, f) }
	t.Logf("listener hears 440 Hz at %.1f dB, 1000 Hz at %.1f dB, 1730 Hz at %.1f dB", lv(440), lv(1000), lv(1730))
	if lv(440) < -25 || lv(1000) < -25 {
		t.Errorf("the loud talkers are not both heard")
	}
	if lv(1730) > -60 {
		t.Errorf("the quiet third talker is heard (%.1f dB) though only 2 are mixed", lv(1730))
	}
}
