package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/setbridge/setbridge/webhook"
)

// TestWebhooks: a real HTTP receiver checks every request's Standard
// Webhooks signature and answers the first try of each message 500; the
// server retries, and the receiver gets a phone's room starting, the
// participant joining, a recording starting and ending, the participant
// leaving and the room finishing, each exactly once.
func TestWebhooks(t *testing.T) {
	secret, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	tries := map[string]int{}
	var got []string
	bad := 0
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if err := webhook.Verify(secret, r.Header, body, time.Now(), time.Minute); err != nil {
			bad++
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		id := r.Header.Get("webhook-id")
		tries[id]++
		if tries[id] == 1 {
			http.Error(w, "try again", http.StatusInternalServerError)
			return
		}
		var ev struct {
			Type string `json:"type"`
			Data struct {
				Room string `json:"room"`
			} `json:"data"`
		}
		_ = json.Unmarshal(body, &ev)
		got = append(got, ev.Type+" "+ev.Data.Room)
	})}
	go srv.Serve(ln)
	defer srv.Close()

	s := startServer(t, fmt.Sprintf("webhooks:\n  - url: http://%s/hooks\n    secret: %s\n", ln.Addr(), secret))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, _ := toneCaller(t, ctx, s, "1000", 440, []string{"PCMU"})
	code, rec := apiPost(t, s, "/api/rooms/demo/recordings")
	if code != 201 && code != 200 {
		t.Fatalf("start recording: %d %v", code, rec)
	}
	time.Sleep(500 * time.Millisecond)
	if code, _ := apiPost(t, s, "/api/recordings/"+rec["id"].(string)+"/stop"); code != 200 {
		t.Fatalf("stop recording: %d", code)
	}
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	want := []string{"room_started demo", "participant_joined demo", "recording_started demo", "recording_ended demo",
		"participant_left demo", "room_finished demo"}
	waitFor(t, 15*time.Second, "every event delivered after a retry", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= len(want)
	})
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(got, want) || bad != 0 {
		t.Fatalf("received %q (%d with bad signatures), want %q", got, bad, want)
	}
	for id, n := range tries {
		if n != 2 {
			t.Errorf("message %s tried %d times, want 2 (a 500, then delivered)", id, n)
		}
	}
}
