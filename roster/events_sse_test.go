package roster

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"
)

// streamServer serves r's event stream on a loopback server. Each returned
// request's handler signals on done when it has returned.
func streamServer(t *testing.T, r *Roster, auth func(*http.Request, string) error) (srv *httptest.Server, done chan struct{}) {
	t.Helper()
	done = make(chan struct{}, 8)
	h := r.EventsHandler(auth)
	mux := http.NewServeMux()
	mux.Handle("GET /api/rooms/{room}/events", http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		defer func() { done <- struct{}{} }()
		h.ServeHTTP(w, req)
	}))
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Cleanup(srv.Client().CloseIdleConnections)
	return srv, done
}

// openStream starts a GET of room's events; cancel ends it from the client.
func openStream(t *testing.T, srv *httptest.Server, room string) (resp *http.Response, br *bufio.Reader, cancel context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/rooms/"+room+"/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err = srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp, bufio.NewReader(resp.Body), cancel
}

func next(t *testing.T, br *bufio.Reader) sseEvent {
	t.Helper()
	ev, err := readSSE(br)
	if err != nil {
		t.Fatalf("reading the stream: %v", err)
	}
	return ev
}

func waitDone(t *testing.T, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the stream's handler did not return")
	}
}

func TestEventsStreamStartsWithASnapshotThenCarriesChanges(t *testing.T) {
	r, clock := newTestRoster(t)
	var gotRoom string
	srv, _ := streamServer(t, r, func(_ *http.Request, room string) error { gotRoom = room; return nil })
	r.Join("demo", Participant{ID: "p1", Name: "Ada", Kind: KindPhone, Caller: "+442079460123"})

	resp, br, _ := openStream(t, srv, "demo")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for header, want := range map[string]string{
		"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no",
	} {
		if got := resp.Header.Get(header); got != want {
			t.Errorf("%s: %q, want %q", header, got, want)
		}
	}
	if gotRoom != "demo" {
		t.Errorf("auth asked about room %q", gotRoom)
	}

	ev := next(t, br)
	var snap Snapshot
	if err := json.Unmarshal([]byte(ev.Data), &snap); ev.Type != EventSnapshot || err != nil {
		t.Fatalf("first event %q %s (%v), want a snapshot", ev.Type, ev.Data, err)
	}
	if snap.Room != "demo" || len(snap.Participants) != 1 || snap.Participants[0].Caller != "+44 20 **** 0123" {
		t.Errorf("snapshot %+v", snap)
	}

	r.Join("demo", Participant{ID: "w1", Name: "Bo", Kind: KindBrowser})
	ev = next(t, br)
	var p Participant
	if err := json.Unmarshal([]byte(ev.Data), &p); ev.Type != EventJoined || err != nil || p.ID != "w1" || p.Kind != KindBrowser {
		t.Errorf("event %q %s (%v), want w1 joined", ev.Type, ev.Data, err)
	}

	r.SetSpeaking("demo", []string{"w1", "p1"})
	if ev = next(t, br); ev.Type != EventSpeaking || ev.Data != `{"speaking":["w1","p1"]}` {
		t.Errorf("event %q %s, want speaking", ev.Type, ev.Data)
	}

	clock.Advance(DefaultPing) // returns once the stream has taken the tick
	if ev = next(t, br); ev != (sseEvent{Type: ":", Data: "ping"}) {
		t.Errorf("event %+v, want a ping comment", ev)
	}

	r.Leave("demo", "p1")
	if ev = next(t, br); ev.Type != EventLeft || ev.Data != `{"id":"p1"}` {
		t.Errorf("event %q %s, want p1 left", ev.Type, ev.Data)
	}
}

func TestEventsStreamRefusesAFailedAuth(t *testing.T) {
	r, _ := newTestRoster(t)
	srv, _ := streamServer(t, r, func(*http.Request, string) error { return errors.New("a valid token is required") })
	resp, _, _ := openStream(t, srv, "demo")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("status %d, want 401", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var body struct{ Error string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Error != "a valid token is required" {
		t.Errorf("body %+v (%v)", body, err)
	}
	if got := r.Rooms(); len(got) != 0 {
		t.Errorf("a refused request left rooms %v", got)
	}
}

func TestEventsStreamEndsOnClose(t *testing.T) {
	r, _ := newTestRoster(t)
	srv, done := streamServer(t, r, nil)
	_, br, _ := openStream(t, srv, "demo")
	if ev := next(t, br); ev.Type != EventSnapshot {
		t.Fatalf("first event %q", ev.Type)
	}
	r.Close() // returns once the stream's handler has
	waitDone(t, done)
	if _, err := readSSE(br); err != io.EOF {
		t.Errorf("after Close the stream reads %v, want EOF", err)
	}

	resp, _, _ := openStream(t, srv, "demo")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a stream after Close: status %d, want 503", resp.StatusCode)
	}
}

func TestEventsStreamEndsWhenTheClientGoesAway(t *testing.T) {
	r, _ := newTestRoster(t)
	srv, done := streamServer(t, r, nil)
	_, br, cancel := openStream(t, srv, "demo")
	if ev := next(t, br); ev.Type != EventSnapshot {
		t.Fatalf("first event %q", ev.Type)
	}
	if got := r.Rooms(); !slices.Equal(got, []string{"demo"}) {
		t.Fatalf("rooms %v while streaming", got)
	}
	cancel()
	waitDone(t, done)
	if got := r.Rooms(); len(got) != 0 {
		t.Errorf("rooms %v after the client left, want none", got)
	}
}
