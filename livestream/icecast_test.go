package livestream

import (
	"fmt"
	"github.com/setbridge/setbridge/internal/peers"
	"log/slog"
	"os"
	"testing"
	"time"
)

func testLogger(testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(discard{}, nil))
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestIcecastToneSurvivesServerRestart: a 440 Hz tone in the room is
// pushed to a real icecast2, ffmpeg reads the mount back and finds the
// tone; icecast2 is killed mid-stream, the stream goes reconnecting, and
// when icecast2 is back on the same port the stream is live again and the
// tone comes back.
func TestIcecastToneSurvivesServerRestart(t *testing.T) {
	ice := peers.StartIcecast(t)
	peers.RequireTool(t, "ffmpeg")
	tap := newSineTap(48000, 440)
	defer tap.close()
	states := newStateLog()
	m := New(Config{Tap: tap.tap, Logger: testLogger(t), OnState: states.onState,
		BackoffMin: 100 * time.Millisecond, BackoffMax: 500 * time.Millisecond, MaxAttempts: 100})
	defer m.Close()

	in, err := m.Start("room1", Request{
		Target: fmt.Sprintf("http://source:%s@127.0.0.1:%d/room1.opus", peers.IcecastPassword, ice.Port),
		Name:   "Room one",
	})
	if err != nil {
		t.Fatal(err)
	}
	if in.State != StateConnecting || in.Kind != KindIcecast || in.Target != fmt.Sprintf("http://source:xxxxx@127.0.0.1:%d/room1.opus", ice.Port) {
		t.Errorf("Start returned %+v", in)
	}
	n, _ := states.wait(t, in.ID, StateLive, 0, 10*time.Second)
	mount := fmt.Sprintf("http://127.0.0.1:%d/room1.opus", ice.Port)
	checkTone(t, "icecast before restart", peers.ReadBack(t, mount, 2*time.Second))

	ice.Kill()
	n, _ = states.wait(t, in.ID, StateReconnecting, n, 10*time.Second)
	ice.Start()
	_, live := states.wait(t, in.ID, StateLive, n, 15*time.Second)
	if live.LiveSince.IsZero() || live.Attempts != 0 {
		t.Errorf("live again: %+v", live)
	}
	checkTone(t, "icecast after restart", peers.ReadBack(t, mount, 2*time.Second))

	got, ok := m.Get(in.ID)
	if !ok || got.State != StateLive || got.BytesSent == 0 {
		t.Errorf("Get = %+v, %v", got, ok)
	}
	if st := m.Stats(); st.OpusEncodes == 0 || st.OpusEncodes > st.Ticks {
		t.Errorf("stats %+v: want one Opus encode per tick at most", st)
	}
	if err := m.Stop(in.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Get(in.ID); ok {
		t.Error("stopped stream still listed")
	}
}

// TestIcecastWrongPasswordFails: a refused source counts as a failed
// connect, and after MaxAttempts the stream fails with the server's
// answer as its last error.
func TestIcecastWrongPasswordFails(t *testing.T) {
	ice := peers.StartIcecast(t)
	tap := newSineTap(48000, 440)
	defer tap.close()
	states := newStateLog()
	m := New(Config{Tap: tap.tap, Logger: testLogger(t), OnState: states.onState,
		BackoffMin: 10 * time.Millisecond, BackoffMax: 20 * time.Millisecond, MaxAttempts: 2})
	defer m.Close()
	in, err := m.Start("room1", Request{Target: fmt.Sprintf("http://source:wrong@127.0.0.1:%d/x.opus", ice.Port)})
	if err != nil {
		t.Fatal(err)
	}
	_, failed := states.wait(t, in.ID, StateFailed, 0, 10*time.Second)
	if failed.Attempts != 2 || failed.LastError == "" {
		t.Errorf("failed with %+v", failed)
	}
	t.Logf("last error: %s", failed.LastError)
}
