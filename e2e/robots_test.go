package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/setbridge/setbridge/internal/audiotest"
	"github.com/setbridge/setbridge/internal/peers"
)

// apiJSON sends a JSON request to the server's API and decodes the answer.
func apiJSON(t *testing.T, s *server, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, "http://"+s.HTTP+path, rd)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

// streamState polls a room's streams until stream id is in state.
func streamState(t *testing.T, s *server, room, id, state string, within time.Duration) {
	t.Helper()
	waitFor(t, within, "stream "+id+" "+state, func() bool {
		code, body := s.get("/api/rooms/" + room + "/streams")
		var list []map[string]any
		if code != 200 || json.Unmarshal([]byte(body), &list) != nil {
			return false
		}
		for _, st := range list {
			if st["id"] == id && st["state"] == state {
				return true
			}
		}
		return false
	})
}

// TestLiveStreamOfARoom: a phone plays 440 Hz in room demo; the API starts
// pushing the room's mix to icecast2 (Ogg/Opus) and to nginx-rtmp (AAC by
// ffmpeg); ffmpeg reads each back and the tone is there. icecast2 is
// killed and started again: the stream reconnects and the tone comes
// back. A bad target gets 400.
func TestLiveStreamOfARoom(t *testing.T) {
	ice := peers.StartIcecast(t)
	ng := peers.StartNginxRTMP(t)
	peers.RequireTool(t, "ffmpeg")
	s := startServer(t, "robots:\n  max_attempts: 20\n")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	b, _ := toneCaller(t, ctx, s, "1000", 440, []string{"PCMU"})
	defer b.Stop()

	if code, out := apiJSON(t, s, "POST", "/api/rooms/demo/streams", map[string]string{"target": "gopher://nowhere"}); code != 400 {
		t.Fatalf("a bad target: %d %v, want 400", code, out)
	}
	if code, _ := apiJSON(t, s, "POST", "/api/rooms/nosuch/streams", map[string]string{"target": "rtmp://127.0.0.1/live/x"}); code != 404 {
		t.Fatalf("a stream of an unknown room: %d, want 404", code)
	}
	code, ic := apiJSON(t, s, "POST", "/api/rooms/demo/streams",
		map[string]string{"target": fmt.Sprintf("http://source:%s@127.0.0.1:%d/demo.opus", peers.IcecastPassword, ice.Port), "name": "demo"})
	if code != 201 {
		t.Fatalf("start icecast stream: %d %v", code, ic)
	}
	code, rt := apiJSON(t, s, "POST", "/api/rooms/demo/streams", map[string]string{"target": fmt.Sprintf("rtmp://127.0.0.1:%d/live/demo", ng.Port)})
	if code != 201 {
		t.Fatalf("start rtmp stream: %d %v", code, rt)
	}
	icID, rtID := ic["id"].(string), rt["id"].(string)
	streamState(t, s, "demo", icID, "live", 15*time.Second)
	streamState(t, s, "demo", rtID, "live", 15*time.Second)

	tone := func(what, url string) {
		t.Helper()
		pcm := peers.ReadBack(t, url, 2*time.Second)
		pcm = pcm[min(len(pcm), 48000*3/10):]
		l440, l1k := audiotest.ToneLevelDB(pcm, 48000, 440), audiotest.ToneLevelDB(pcm, 48000, 1000)
		t.Logf("%s: 440 Hz at %.1f dB, 1000 Hz at %.1f dB over %d samples", what, l440, l1k, len(pcm))
		if len(pcm) < 48000 || l440 < -25 || l440 < l1k+20 {
			t.Errorf("%s: the caller's 440 Hz is not in the stream", what)
		}
	}
	mount := fmt.Sprintf("http://127.0.0.1:%d/demo.opus", ice.Port)
	tone("icecast", mount)
	tone("rtmp", fmt.Sprintf("rtmp://127.0.0.1:%d/live/demo", ng.Port))

	ice.Kill()
	streamState(t, s, "demo", icID, "reconnecting", 10*time.Second)
	ice.Start()
	streamState(t, s, "demo", icID, "live", 20*time.Second)
	tone("icecast after its restart", mount)

	if code, _ := apiJSON(t, s, "DELETE", "/api/rooms/demo/streams/"+rtID, nil); code != 204 {
		t.Fatalf("stop rtmp stream: %d", code)
	}
	if code, _ := apiJSON(t, s, "DELETE", "/api/rooms/demo/streams/"+rtID, nil); code != 404 {
		t.Fatalf("stop a stopped stream: %d, want 404", code)
	}
}
