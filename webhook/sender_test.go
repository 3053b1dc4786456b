package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/setbridge/setbridge/media"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	start  = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	quiet  = slog.New(slog.DiscardHandler)
	secret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("a test secret of 32 bytes length"))
)

// spyClock is a FakeClock that reports each wait the sender starts, so
// that a test advances exactly when the sender is waiting.
type spyClock struct {
	*media.FakeClock
	waits chan time.Duration
}

func newSpyClock() spyClock {
	return spyClock{FakeClock: media.NewFakeClock(start), waits: make(chan time.Duration, 100)}
}

func (c spyClock) AfterFunc(d time.Duration, f func()) media.Timer {
	t := c.FakeClock.AfterFunc(d, f)
	c.waits <- d
	return t
}

// nextWait returns the next wait the sender starts.
func (c spyClock) nextWait(t *testing.T) time.Duration {
	t.Helper()
	select {
	case d := <-c.waits:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("sender started no wait")
		return 0
	}
}

// hit is one request the receiver got.
type hit struct {
	header http.Header
	body   []byte
	event  struct {
		Type      string         `json:"type"`
		Timestamp string         `json:"timestamp"`
		Data      map[string]any `json:"data"`
	}
}

// receiver is an httptest server that checks every request's signature
// (with Verify and by recomputing the HMAC itself) and answers with the
// statuses given, then 200.
type receiver struct {
	t     *testing.T
	srv   *httptest.Server
	clock media.Clock
	hits  chan hit

	mu       sync.Mutex
	statuses []int // guarded by mu
	header   http.Header
	block    chan struct{} // when set, each request waits on it
}

func newReceiver(t *testing.T, clock media.Clock, statuses ...int) *receiver {
	r := &receiver{t: t, clock: clock, hits: make(chan hit, 1000), statuses: statuses, header: http.Header{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		r.t.Errorf("read body: %v", err)
		return
	}
	if err := Verify(secret, req.Header, body, r.clock.Now(), time.Minute); err != nil {
		r.t.Errorf("Verify: %v", err)
	}
	if got, want := req.Header.Get("webhook-signature"), recompute(req.Header, body); got != want {
		r.t.Errorf("signature %q, recomputed %q", got, want)
	}
	h := hit{header: req.Header.Clone(), body: body}
	if err := json.Unmarshal(body, &h.event); err != nil {
		r.t.Errorf("body %s: %v", body, err)
	}
	r.hits <- h
	r.mu.Lock()
	status := http.StatusOK
	if len(r.statuses) > 0 {
		status, r.statuses = r.statuses[0], r.statuses[1:]
	}
	block := r.block
	for k, v := range r.header {
		w.Header()[k] = v
	}
	r.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-req.Context().Done():
		}
	}
	w.WriteHeader(status)
}

// recompute signs the request independently of the package's code.
func recompute(h http.Header, body []byte) string {
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s.%s.%s", h.Get("webhook-id"), h.Get("webhook-timestamp"), body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func (r *receiver) next(t *testing.T) hit {
	t.Helper()
	select {
	case h := <-r.hits:
		return h
	case <-time.After(10 * time.Second):
		t.Fatal("receiver got no request")
		return hit{}
	}
}

func newSender(t *testing.T, cfg Config) *Sender {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	tr := &http.Transport{}
	cfg.Client = &http.Client{Transport: tr, Timeout: 10 * time.Second}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = s.Close(ctx) // a no-op if the test closed it
		tr.CloseIdleConnections()
	})
	return s
}

func closeWithin(t *testing.T, s *Sender, d time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return s.Close(ctx)
}

func TestRetriedUntilDelivered(t *testing.T) {
	clock := newSpyClock()
	recv := newReceiver(t, clock, 500, 500)
	s := newSender(t, Config{Endpoints: []Endpoint{{URL: recv.srv.URL + "/hook", Secret: secret}}, Clock: clock})

	s.Send(Event{Type: ParticipantJoined, Room: "board", Data: map[string]any{"participant": "alice"}})

	first := recv.next(t)
	d1 := clock.nextWait(t)
	clock.Advance(d1)
	second := recv.next(t)
	d2 := clock.nextWait(t)
	clock.Advance(d2)
	third := recv.next(t)

	if err := closeWithin(t, s, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if d1 < 500*time.Millisecond || d1 > time.Second || d2 < time.Second || d2 > 2*time.Second || d2 < d1 {
		t.Errorf("waits %v then %v, want in [0.5s,1s] then [1s,2s]", d1, d2)
	}
	id := first.header.Get("webhook-id")
	if !strings.HasPrefix(id, "msg_") || second.header.Get("webhook-id") != id || third.header.Get("webhook-id") != id {
		t.Errorf("webhook-id across attempts: %q %q %q", id, second.header.Get("webhook-id"), third.header.Get("webhook-id"))
	}
	ts := func(h hit) int64 { v, _ := strconv.ParseInt(h.header.Get("webhook-timestamp"), 10, 64); return v }
	if ts(first) != start.Unix() || ts(third) != start.Add(d1+d2).Unix() {
		t.Errorf("timestamps %d, %d, %d: want each attempt signed at its own time", ts(first), ts(second), ts(third))
	}
	if string(first.body) != string(third.body) {
		t.Errorf("body changed across attempts:\n%s\n%s", first.body, third.body)
	}
	ev := third.event
	if ev.Type != ParticipantJoined || ev.Timestamp != start.Format(time.RFC3339Nano) ||
		ev.Data["room"] != "board" || ev.Data["participant"] != "alice" {
		t.Errorf("event = %+v", ev)
	}
	if got, want := s.Stats(), (Stats{Queued: 1, Delivered: 1, Retries: 2}); got != want {
		t.Errorf("stats = %+v, want %+v", got, want)
	}
}

func TestPermanentFailures(t *testing.T) {
	tests := []struct {
		name       string
		giveStatus []int
		giveMax    int
		wantHits   int
	}{
		{name: "a 400 is not retried", giveStatus: []int{400}, wantHits: 1},
		{name: "a 404 is not retried", giveStatus: []int{404}, wantHits: 1},
		{name: "a 302 is not followed or retried", giveStatus: []int{302}, wantHits: 1},
		{name: "a 503 is retried until MaxAttempts", giveStatus: []int{503, 503, 503, 503}, giveMax: 3, wantHits: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newSpyClock()
			recv := newReceiver(t, clock, tt.giveStatus...)
			s := newSender(t, Config{Endpoints: []Endpoint{{URL: recv.srv.URL, Secret: secret}}, Clock: clock, MaxAttempts: tt.giveMax})
			s.Send(Event{Type: RoomStarted, Room: "board"})
			for i := range tt.wantHits {
				recv.next(t)
				if i < tt.wantHits-1 {
					clock.Advance(clock.nextWait(t))
				}
			}
			if err := closeWithin(t, s, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			if len(recv.hits) != 0 || len(clock.waits) != 0 {
				t.Errorf("%d more requests and %d more waits after the last", len(recv.hits), len(clock.waits))
			}
			want := Stats{Queued: 1, Failed: 1, Retries: uint64(tt.wantHits - 1)}
			if got := s.Stats(); got != want {
				t.Errorf("stats = %+v, want %+v", got, want)
			}
		})
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	clock := newSpyClock()
	recv := newReceiver(t, clock, 429)
	recv.header.Set("Retry-After", "7")
	s := newSender(t, Config{Endpoints: []Endpoint{{URL: recv.srv.URL, Secret: secret}}, Clock: clock})
	s.Send(Event{Type: RoomStarted, Room: "board"})
	recv.next(t)
	if d := clock.nextWait(t); d != 7*time.Second {
		t.Errorf("wait = %v, want Retry-After's 7s", d)
	}
	clock.Advance(7 * time.Second)
	recv.next(t)
	if err := closeWithin(t, s, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := s.Stats(); got.Delivered != 1 {
		t.Errorf("stats = %+v", got)
	}
}

func TestNetworkErrorsAreRetried(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens: connection refused
	clock := newSpyClock()
	s := newSender(t, Config{Endpoints: []Endpoint{{URL: "http://" + addr + "/hook", Secret: secret}}, Clock: clock, MaxAttempts: 2})
	s.Send(Event{Type: RoomStarted, Room: "board"})
	clock.Advance(clock.nextWait(t))
	if err := closeWithin(t, s, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if got, want := s.Stats(), (Stats{Queued: 1, Retries: 1, Failed: 1}); got != want {
		t.Errorf("stats = %+v, want %+v", got, want)
	}
}

func TestFullQueueDropsWithoutBlocking(t *testing.T) {
	clock := newSpyClock()
	recv := newReceiver(t, clock)
	release := make(chan struct{})
	recv.block = release
	s := newSender(t, Config{Endpoints: []Endpoint{{URL: recv.srv.URL, Secret: secret}}, Clock: clock, QueueSize: 2})

	s.Send(Event{Type: ParticipantJoined, Room: "board", Data: map[string]int{"n": 0}})
	recv.next(t) // the worker is stuck on it
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for i := 1; i <= 10; i++ {
			s.Send(Event{Type: ParticipantJoined, Room: "board", Data: map[string]int{"n": i}})
		}
	}()
	select {
	case <-sent:
	case <-time.After(5 * time.Second):
		t.Fatal("Send blocked on a full queue")
	}
	if got, want := s.Stats(), (Stats{Queued: 3, Dropped: 8, Pending: 2}); got != want {
		t.Errorf("stats = %+v, want %+v", got, want)
	}
	close(release)
	if err := closeWithin(t, s, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	var ns []float64
	for range 2 {
		ns = append(ns, recv.next(t).event.Data["n"].(float64))
	}
	if ns[0] != 1 || ns[1] != 2 {
		t.Errorf("delivered after the first: %v, want the first two queued", ns)
	}
	if got := s.Stats(); got.Delivered != 3 || got.Dropped != 8 {
		t.Errorf("stats after close = %+v", got)
	}
}

func TestCloseDrainsInOrder(t *testing.T) {
	clock := newSpyClock()
	recv := newReceiver(t, clock)
	s := newSender(t, Config{Endpoints: []Endpoint{{URL: recv.srv.URL, Secret: secret}}, Clock: clock})
	const n = 50
	for i := range n {
		s.Send(Event{Type: ParticipantJoined, Room: "board", Data: map[string]int{"n": i}})
	}
	if err := closeWithin(t, s, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if len(recv.hits) != n {
		t.Fatalf("receiver got %d, want %d", len(recv.hits), n)
	}
	for i := range n {
		if got := recv.next(t).event.Data["n"]; got != float64(i) {
			t.Fatalf("message %d is n=%v: order lost", i, got)
		}
	}
	s.Send(Event{Type: ParticipantLeft, Room: "board"})
	if got, want := s.Stats(), (Stats{Queued: n, Delivered: n, Dropped: 1}); got != want {
		t.Errorf("stats = %+v, want %+v (a Send after Close is dropped)", got, want)
	}
}

func TestCloseAbandonsWhenItsContextEnds(t *testing.T) {
	clock := newSpyClock()
	recv := newReceiver(t, clock, 500, 500, 500, 500)
	s := newSender(t, Config{Endpoints: []Endpoint{{URL: recv.srv.URL, Secret: secret}}, Clock: clock})
	for range 3 {
		s.Send(Event{Type: RoomStarted, Room: "board"})
	}
	recv.next(t)
	clock.nextWait(t) // in back-off, which the fake clock never ends
	if err := closeWithin(t, s, 100*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("close = %v, want DeadlineExceeded", err)
	}
	if got, want := s.Stats(), (Stats{Queued: 3, Retries: 1, Abandoned: 3}); got != want {
		t.Errorf("stats = %+v, want %+v", got, want)
	}
}

func TestEventFilter(t *testing.T) {
	clock := newSpyClock()
	all, joins := newReceiver(t, clock), newReceiver(t, clock)
	s := newSender(t, Config{Clock: clock, Endpoints: []Endpoint{
		{URL: all.srv.URL, Secret: secret},
		{URL: joins.srv.URL, Secret: secret, Events: []string{ParticipantJoined}},
	}})
	for _, typ := range []string{RoomStarted, ParticipantJoined, ParticipantLeft, RoomFinished} {
		s.Send(Event{Type: typ, Room: "board"})
	}
	if err := closeWithin(t, s, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if len(all.hits) != 4 || len(joins.hits) != 1 {
		t.Fatalf("unfiltered got %d, filtered got %d; want 4 and 1", len(all.hits), len(joins.hits))
	}
	if got := joins.next(t).event.Type; got != ParticipantJoined {
		t.Errorf("filtered endpoint got %s", got)
	}
	per := s.EndpointStats()
	if len(per) != 2 || per[0].Delivered != 4 || per[1].Delivered != 1 {
		t.Errorf("endpoint stats = %+v", per)
	}
}

func TestBadEventsAreDropped(t *testing.T) {
	clock := newSpyClock()
	recv := newReceiver(t, clock)
	s := newSender(t, Config{Endpoints: []Endpoint{{URL: recv.srv.URL, Secret: secret}}, Clock: clock})
	s.Send(Event{Room: "board"})                                       // no type
	s.Send(Event{Type: RoomStarted, Room: "board", Data: []int{1, 2}}) // not an object
	s.Send(Event{Type: RoomStarted, Room: "board", Data: func() {}})   // not JSON
	if err := closeWithin(t, s, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if got, want := s.Stats(), (Stats{Dropped: 3}); got != want {
		t.Errorf("stats = %+v, want %+v", got, want)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		give Endpoint
	}{
		{"a url that is not http", Endpoint{URL: "ftp://x/y", Secret: secret}},
		{"a url without a host", Endpoint{URL: "/hook", Secret: secret}},
		{"no secret", Endpoint{URL: "http://x/y"}},
		{"a secret that is not base64", Endpoint{URL: "http://x/y", Secret: "whsec_not base64!"}},
		{"an unknown event", Endpoint{URL: "http://x/y", Secret: secret, Events: []string{"participant_joind"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(Config{Endpoints: []Endpoint{tt.give}, Logger: quiet}); !errors.Is(err, ErrConfig) {
				t.Errorf("New = %v, want ErrConfig", err)
			}
		})
	}
}
