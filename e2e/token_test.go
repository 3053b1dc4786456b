package e2e

import (
	"bufio"
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
