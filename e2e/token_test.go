package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestJoinTokens: with open rooms turned off, a browser needs a token; one
// from `setbridge token create` opens the room's event stream, a missing
// or forged one gets 401 and no session.
func TestJoinTokens(t *testing.T) {
	cfg := "webrtc:\n  open_rooms: []\n  keys:\n    APIk1: \"0123456789abcdef0123456789abcdef\"\n"
	s := startServer(t, cfg)
	code, body := s.get("/api/rooms/demo/lobby")
	if code != 200 || !strings.Contains(body, `"needs_token":true`) {
		t.Fatalf("lobby: %d %s; want needs_token", code, body)
	}
	post := func(path, ctype, auth, body string) (int, string) {
		req, _ := http.NewRequest("POST", "http://"+s.HTTP+path, strings.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var sb strings.Builder
		_, _ = bufio.NewReader(res.Body).WriteTo(&sb)
		return res.StatusCode, sb.String()
	}
	if code, body := post("/api/rooms/demo/session", "application/json", "", `{"name":"Ada"}`); code != 401 {
		t.Fatalf("session without a PIN or token in a closed room: %d %s, want 401", code, body)
	}
	if code, body := post("/whip/demo", "application/sdp", "", "v=0\r\n"); code != 401 || !strings.Contains(body, "error") {
		t.Fatalf("WHIP without a token: %d %s, want 401 with an error", code, body)
	}
	if code, _ := post("/whip/demo", "application/sdp", "forged.token.here", "v=0\r\n"); code != 401 {
		t.Fatalf("WHIP with a forged token: %d, want 401", code)
	}

	out, err := exec.Command(binPath, "token", "create", "--config", filepath.Join(s.Dir, "setbridge.yaml"),
		"--room", "demo", "--identity", "ada", "--name", "Ada").Output()
	if err != nil {
		t.Fatalf("token create: %v", err)
	}
	tok := strings.TrimSpace(string(out))
	other, err := exec.Command(binPath, "token", "create", "--config", filepath.Join(s.Dir, "setbridge.yaml"),
		"--room", "board", "--identity", "ada").Output()
	if err != nil {
		t.Fatal(err)
	}
	stream := func(tok string) (int, string) {
		c := &http.Client{Timeout: 2 * time.Second}
		res, err := c.Get("http://" + s.HTTP + "/api/rooms/demo/events?access_token=" + tok)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		line, _ := bufio.NewReader(res.Body).ReadString('\n')
		return res.StatusCode, line
	}
	if code, line := stream(tok); code != 200 || line != "event: snapshot\n" {
		t.Fatalf("event stream with a token: %d %q, want 200 and a snapshot", code, line)
	}
	if code, _ := stream(strings.TrimSpace(string(other))); code != 401 {
		t.Fatalf("event stream with another room's token: %d, want 401", code)
	}
	if code, _ := post("/whip/demo", "text/plain", tok, "x"); code != 415 {
		t.Fatalf("WHIP with a token and the wrong content type: %d, want 415", code)
	}
}

// TestPINRoomAndLiveEvents: a room with a PIN makes the lobby ask for it;
// a wrong PIN gets 403 and no token, the right one a token that opens the
// event stream; the stream shows a phone joining (masked number), a
// recording starting and stopping, and the phone leaving.
func TestPINRoomAndLiveEvents(t *testing.T) {
	s := startServer(t, "rooms:\n  - id: demo\n    conference_number: \"1000\"\n  - id: board\n    conference_number: \"4321\"\n    pin: \"2468\"\n")
	code, body := s.get("/api/rooms/4321/lobby") // by conference number
	if code != 200 || !strings.Contains(body, `"needs_pin":true`) || !strings.Contains(body, `"room":"board"`) {
		t.Fatalf("lobby of a PIN room: %d %s", code, body)
	}
	session := func(pin string) (int, map[string]any) {
		res, err := http.Post("http://"+s.HTTP+"/api/rooms/board/session", "application/json", strings.NewReader(`{"name":"Ada","pin":"`+pin+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(res.Body).Decode(&out)
		return res.StatusCode, out
	}
	if code, out := session("1111"); code != 403 || out["error"] != "wrong PIN" || out["token"] != nil {
		t.Fatalf("wrong PIN: %d %v, want 403 wrong PIN and no token", code, out)
	}
	code, out := session("2468")
	tok, _ := out["token"].(string)
	if code != 200 || tok == "" {
		t.Fatalf("right PIN: %d %v", code, out)
	}

	// The demo room's event stream, as an operator on loopback reads it.
	res, err := http.Get("http://" + s.HTTP + "/api/rooms/demo/events")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	events := make(chan string, 64)
	go func() {
		defer close(events)
		rd := bufio.NewReader(res.Body)
		var ev string
		for {
			l, err := rd.ReadString('\n')
			if err != nil {
				return
			}
			switch {
			case strings.HasPrefix(l, "event: "):
				ev = strings.TrimSpace(l[7:])
			case strings.HasPrefix(l, "data: "):
				events <- ev + " " + strings.TrimSpace(l[6:])
			}
		}
	}()
	want := func(prefix, contains string) string {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case e, ok := <-events:
				if !ok {
					t.Fatalf("event stream ended waiting for %s", prefix)
				}
				if strings.HasPrefix(e, prefix) && strings.Contains(e, contains) {
					return e
				}
			case <-deadline:
				t.Fatalf("no %s event containing %q within 10 s", prefix, contains)
			}
		}
	}
	want("snapshot", `"participants":[]`)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, _ := toneCaller(t, ctx, s, "1000", 440, []string{"PCMU"})
	joined := want("participant_joined", `"kind":"phone"`)
	t.Logf("%s", joined)
	want("speaking", `"speaking":["`)
	code, rec := apiPost(t, s, "/api/rooms/demo/recordings")
	if code != 201 && code != 200 {
		t.Fatalf("start recording: %d %v", code, rec)
	}
	id, _ := rec["id"].(string)
	want("recording", `"active":true`)
	if code, _ := apiPost(t, s, "/api/recordings/"+id+"/stop"); code != 200 {
		t.Fatalf("stop recording: %d", code)
	}
	want("recording", `"active":false`)
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	want("participant_left", `"id":"`)
}
