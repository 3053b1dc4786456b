package livestream

import (
	"fmt"
	"github.com/setbridge/setbridge/internal/peers"
	"testing"
	"time"
)

// TestRTMPToneSurvivesServerRestart is the Icecast test against nginx
// with the RTMP module, through the child ffmpeg.
func TestRTMPToneSurvivesServerRestart(t *testing.T) {
	ng := peers.StartNginxRTMP(t)
	peers.RequireTool(t, "ffmpeg")
	tap := newSineTap(48000, 440)
	defer tap.close()
	states := newStateLog()
	m := New(Config{Tap: tap.tap, Logger: testLogger(t), OnState: states.onState,
		BackoffMin: 100 * time.Millisecond, BackoffMax: 500 * time.Millisecond, MaxAttempts: 100})
	defer m.Close()

	target := fmt.Sprintf("rtmp://127.0.0.1:%d/live/room1", ng.Port)
	in, err := m.Start("room1", Request{Target: target})
	if err != nil {
		t.Fatal(err)
	}
	n, _ := states.wait(t, in.ID, StateLive, 0, 10*time.Second)
	checkTone(t, "rtmp before restart", peers.ReadBack(t, target, 2*time.Second))

	ng.Kill()
	n, _ = states.wait(t, in.ID, StateReconnecting, n, 10*time.Second)
	ng.Start()
	states.wait(t, in.ID, StateLive, n, 15*time.Second)
	checkTone(t, "rtmp after restart", peers.ReadBack(t, target, 2*time.Second))
	if st := m.Stats(); st.PCMFrames == 0 || st.OpusEncodes != 0 {
		t.Errorf("stats %+v: want PCM frames and no Opus encodes for RTMP only", st)
	}
}

// TestRTMPClosedPortFails: ffmpeg cannot connect, exits, is restarted
// with back-off, and after MaxAttempts the stream fails.
func TestRTMPClosedPortFails(t *testing.T) {
	peers.RequireTool(t, "ffmpeg")
	tap := newSineTap(48000, 440)
	defer tap.close()
	states := newStateLog()
	m := New(Config{Tap: tap.tap, Logger: testLogger(t), OnState: states.onState,
		BackoffMin: 10 * time.Millisecond, BackoffMax: 20 * time.Millisecond, MaxAttempts: 2})
	defer m.Close()
	in, err := m.Start("room1", Request{Target: fmt.Sprintf("rtmp://127.0.0.1:%d/live/x", peers.FreeTCPPort(t))})
	if err != nil {
		t.Fatal(err)
	}
	_, failed := states.wait(t, in.ID, StateFailed, 0, 20*time.Second)
	if failed.Attempts != 2 || failed.LastError == "" {
		t.Errorf("failed with %+v", failed)
	}
	t.Logf("last error: %s", failed.LastError)
}
