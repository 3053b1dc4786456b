package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
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

// TestDialOutFromTheShell: `setbridge dial demo NUMBER` calls an
// auto-answering baresip through the trunk's outbound settings; the callee
// hears the room's caller and the caller hears the callee; DELETE hangs
// up. A sipp UAS answering 486 makes the command report busy and fail.
func TestDialOutFromTheShell(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	wav := filepath.Join(dir, "callee.wav")
	if err := audiotest.WriteMonoWAV(wav, 8000, audiotest.GenTone(8000, 1000, 0.3, 20*time.Second)); err != nil {
		t.Fatal(err)
	}
	calleeRec := filepath.Join(dir, "callee-heard.wav")
	callee, err := peers.StartBaresip(ctx, peers.BaresipOptions{T: t, AutoAnswer: true, PlayWAV: wav, RecordWAV: calleeRec})
	if err != nil {
		t.Fatal(err)
	}
	busy, err := peers.StartSipp(ctx, peers.SippOptions{T: t, Scenario: filepath.Join("..", "sip", "testdata", "dialout", "busy.xml"), Calls: 1, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, fmt.Sprintf(`sip:
  trunks:
    - name: local
      allowed_addresses: ["127.0.0.0/8"]
    - name: carrier
      outbound: {host: "%s"}
    - name: busyline
      outbound: {host: "%s"}
`, callee.Addr, busy.Addr))
	caller, callerRec := toneCaller(t, ctx, s, "1000", 440, []string{"PCMU"})
	user := strings.TrimPrefix(strings.SplitN(callee.URI, "@", 2)[0], "sip:")
	out, err := exec.CommandContext(ctx, binPath, "dial", "--server", "http://"+s.HTTP, "--trunk", "carrier", "--name", "Bob",
		"--ring-timeout", "10s", "demo", user).CombinedOutput()
	if err != nil {
		t.Fatalf("setbridge dial: %v\n%s", err, out)
	}
	fields := strings.Fields(string(out))
	if len(fields) < 2 || fields[1] != "answered" {
		t.Fatalf("setbridge dial printed %q, want CALLID answered", out)
	}
	id := fields[0]
	time.Sleep(3 * time.Second)
	if code, _ := apiJSON(t, s, "DELETE", "/api/rooms/demo/calls/"+id, nil); code != 204 {
		t.Fatalf("hang up: %d", code)
	}
	if _, err := callee.WaitClosed(ctx); err != nil {
		t.Fatalf("the callee's call did not end: %v", err)
	}
	code, body := s.get("/api/rooms/demo/calls")
	if code != 200 || !strings.Contains(body, `"state":"ended"`) || !strings.Contains(body, `"state":"answered"`) {
		t.Fatalf("calls of demo: %d %s", code, body)
	}
	if err := caller.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := callee.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		who, path  string
		want, hers float64
	}{{"the callee", calleeRec, 440, 1000}, {"the room's caller", callerRec, 1000, 440}} {
		pcm, rate := heard(t, c.path, 0)
		pcm = pcm[max(0, len(pcm)-2*rate):]
		other, own := audiotest.ToneLevelDB(pcm, rate, c.want), audiotest.ToneLevelDB(pcm, rate, c.hers)
		t.Logf("%s hears %.0f Hz at %.1f dB and its own %.0f Hz at %.1f dB", c.who, c.want, other, c.hers, own)
		if other < -25 || own > other-30 {
			t.Errorf("%s: the other side is not heard clearly (%.1f dB) or itself is (%.1f dB)", c.who, other, own)
		}
	}

	out, err = exec.CommandContext(ctx, binPath, "dial", "--server", "http://"+s.HTTP, "--trunk", "busyline", "demo", "2000").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "busy 486") {
		t.Fatalf("dialling a busy line: %v %q, want a failure saying busy 486", err, out)
	}
	if code, res := apiJSON(t, s, "POST", "/api/rooms/demo/dial", map[string]string{"number": "1", "trunk": "local"}); code != 400 {
		t.Fatalf("dialling through a trunk without outbound settings: %d %v, want 400", code, res)
	}
}
