package livestream

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/setbridge/setbridge/auth"
	"github.com/setbridge/setbridge/media"
	"github.com/setbridge/setbridge/mixerengine"
	"github.com/setbridge/setbridge/webrtc"
)

// whipKeys sign the tokens the test edge accepts.
var whipKeys = auth.Keys{"KEY": "whip-test-secret"}

func whipToken(t *testing.T, room string) string {
	t.Helper()
	tok, err := whipKeys.Sign("KEY", auth.Claims{Identity: "livestream", Name: "Live stream",
		Grant: auth.Grant{Room: room, Join: true, Publish: true}, Expires: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// engineConf is a webrtc.Conference on the real mixer engine.
type engineConf struct{ e *mixerengine.Engine }

type engineMember struct{ *mixerengine.Member }

func (m engineMember) ID() string { return string(m.Member.ID()) }

func (c engineConf) Rate() int { return c.e.Rate() }

func (c engineConf) Join(room string, p media.Participant, _ webrtc.Identity) (webrtc.Membership, error) {
	m, err := c.e.Join(mixerengine.RoomID(room), p)
	if err != nil {
		return nil, err
	}
	return engineMember{m}, nil
}

// capture is a silent participant that records what it hears.
type capture struct {
	mu    sync.Mutex
	heard []int16
}

func (c *capture) ReadFrame([]int16) bool { return false }

func (c *capture) WriteFrame(pcm []int16) {
	c.mu.Lock()
	c.heard = append(c.heard, pcm...)
	c.mu.Unlock()
}

func (c *capture) mark() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.heard)
}

// since waits up to 10 s for d of audio heard after mark and returns it.
func (c *capture) since(t *testing.T, mark int, d time.Duration) []int16 {
	t.Helper()
	n := int(d.Seconds() * 48000)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.mu.Lock()
		if len(c.heard)-mark >= n {
			out := append([]int16(nil), c.heard[mark:mark+n]...)
			c.mu.Unlock()
			return out
		}
		c.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("heard only %d samples", c.mark()-mark)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// whipEdge is the project's WHIP server on a real engine, its HTTP server
// on a fixed address so that it can be restarted there.
type whipEdge struct {
	t    *testing.T
	eng  *mixerengine.Engine
	addr string

	mu        sync.Mutex
	edge      *webrtc.Edge
	srv       *http.Server
	serveDone chan struct{}
	locations []string // of every session created
}

func newWHIPEdge(t *testing.T) *whipEdge {
	t.Helper()
	w := &whipEdge{t: t, eng: mixerengine.New(mixerengine.Config{Rate: 48000, Logger: testLogger(t)})}
	w.start("127.0.0.1:0")
	t.Cleanup(func() {
		w.stop()
		w.eng.Close()
	})
	return w
}

func freeUDP(t *testing.T) int {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// start starts an Edge and its HTTP server on addr.
func (w *whipEdge) start(addr string) {
	w.t.Helper()
	edge, err := webrtc.New(webrtc.Config{Logger: testLogger(w.t), UDPMuxPort: freeUDP(w.t), ListenIP: "127.0.0.1",
		IncludeLoopback: true, IPFilter: func(ip net.IP) bool { return ip.IsLoopback() && ip.To4() != nil }},
		engineConf{w.eng}, webrtc.KeysAuthorizer(whipKeys, nil))
	if err != nil {
		w.t.Fatal(err)
	}
	var ln net.Listener
	for range 50 { // the port of a stopped server may take a moment
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		edge.Close()
		w.t.Fatal(err)
	}
	h := edge.Handler()
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rec := &locationRecorder{ResponseWriter: rw}
		h.ServeHTTP(rec, r)
		if rec.location != "" {
			w.mu.Lock()
			w.locations = append(w.locations, rec.location)
			w.mu.Unlock()
		}
	})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	w.mu.Lock()
	w.edge, w.srv, w.serveDone, w.addr = edge, srv, done, ln.Addr().String()
	w.mu.Unlock()
}

// stop closes the HTTP server and the Edge (every session ends).
func (w *whipEdge) stop() {
	w.mu.Lock()
	edge, srv, done := w.edge, w.srv, w.serveDone
	w.edge, w.srv = nil, nil
	w.mu.Unlock()
	if srv == nil {
		return
	}
	_ = srv.Close()
	<-done
	_ = edge.Close()
}

func (w *whipEdge) sessions() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.edge == nil {
		return 0
	}
	return w.edge.Sessions()
}

func (w *whipEdge) lastLocation() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.locations) == 0 {
		return ""
	}
	return w.locations[len(w.locations)-1]
}

type locationRecorder struct {
	http.ResponseWriter
	location string
}

func (r *locationRecorder) WriteHeader(code int) {
	if code == http.StatusCreated {
		r.location = r.Header().Get("Location")
	}
	r.ResponseWriter.WriteHeader(code)
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWHIPToneReachesRoomAndSurvivesServerLoss: the room's 440 Hz mix is
// pushed by WHIP into room "demo" of the project's own WHIP server, where
// a participant hears it; the server then ends the session (as a DELETE
// would), and later restarts on the same port: each time the stream goes
// reconnecting, then live again with a new session, and the tone comes
// back. Stop deletes the session.
func TestWHIPToneReachesRoomAndSurvivesServerLoss(t *testing.T) {
	w := newWHIPEdge(t)
	listener := &capture{}
	mem, err := w.eng.Join("demo", listener)
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Leave()

	tap := newSineTap(48000, 440)
	defer tap.close()
	states := newStateLog()
	m := New(Config{Tap: tap.tap, Logger: testLogger(t), OnState: states.onState,
		BackoffMin: 100 * time.Millisecond, BackoffMax: 500 * time.Millisecond, MaxAttempts: 100})
	defer m.Close()

	tok := whipToken(t, "demo")
	in, err := m.Start("studio", Request{Target: fmt.Sprintf("whip+http://:%s@%s/whip/demo", tok, w.addr), Name: "demo out"})
	if err != nil {
		t.Fatal(err)
	}
	if in.Kind != KindWHIP || in.Target != fmt.Sprintf("http://:xxxxx@%s/whip/demo", w.addr) || strings.Contains(in.Target, tok) {
		t.Errorf("Start returned %+v", in)
	}
	n, _ := states.wait(t, in.ID, StateLive, 0, 15*time.Second)
	checkTone(t, "whip, first session", listener.since(t, listener.mark(), 2*time.Second))
	first := w.lastLocation()
	if first == "" || w.sessions() != 1 {
		t.Fatalf("location %q, %d sessions", first, w.sessions())
	}

	// The server ends the session (its DELETE handler is the server's own
	// teardown: leave the room, close the peer connection).
	req, _ := http.NewRequest(http.MethodDelete, "http://"+w.addr+first, nil)
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	lost := time.Now()
	n, rec := states.wait(t, in.ID, StateReconnecting, n, 15*time.Second)
	t.Logf("session end noticed after %v: %s", time.Since(lost).Round(time.Millisecond), rec.LastError)
	n, _ = states.wait(t, in.ID, StateLive, n, 15*time.Second)
	if second := w.lastLocation(); second == first {
		t.Errorf("no new session after the server ended the first")
	}
	checkTone(t, "whip, second session", listener.since(t, listener.mark(), 2*time.Second))

	// The server goes away and comes back on the same port.
	addr := w.addr
	w.stop()
	lost = time.Now()
	n, rec = states.wait(t, in.ID, StateReconnecting, n, 15*time.Second)
	t.Logf("server loss noticed after %v: %s", time.Since(lost).Round(time.Millisecond), rec.LastError)
	w.start(addr)
	_, live := states.wait(t, in.ID, StateLive, n, 15*time.Second)
	if live.LiveSince.IsZero() || live.Attempts != 0 {
		t.Errorf("live again: %+v", live)
	}
	checkTone(t, "whip, after server restart", listener.since(t, listener.mark(), 2*time.Second))

	got, _ := m.Get(in.ID)
	if got.BytesSent == 0 {
		t.Errorf("Get = %+v", got)
	}
	if st := m.Stats(); st.OpusEncodes == 0 || st.OpusEncodes > st.Ticks {
		t.Errorf("stats %+v: want one Opus encode per tick at most", st)
	}
	if err := m.Stop(in.ID); err != nil {
		t.Fatal(err)
	}
	// Stop returns after the DELETE.
	if s := w.sessions(); s != 0 {
		t.Errorf("%d sessions left on the server after Stop", s)
	}
}

// TestWHIPUnauthorizedFails: a 401 counts as a failed connect, and after
// MaxAttempts the stream fails with the server's answer as its last error.
func TestWHIPUnauthorizedFails(t *testing.T) {
	w := newWHIPEdge(t)
	tap := newSineTap(48000, 440)
	defer tap.close()
	states := newStateLog()
	m := New(Config{Tap: tap.tap, Logger: testLogger(t), OnState: states.onState,
		BackoffMin: 10 * time.Millisecond, BackoffMax: 20 * time.Millisecond, MaxAttempts: 3})
	defer m.Close()
	for _, target := range []string{
		"whip+http://" + w.addr + "/whip/demo",
		"http://:not-a-token@" + w.addr + "/whip/demo",
	} {
		in, err := m.Start("studio", Request{Target: target, Kind: "whip"})
		if err != nil {
			t.Fatal(err)
		}
		_, failed := states.wait(t, in.ID, StateFailed, 0, 10*time.Second)
		if failed.Attempts != 3 || !strings.Contains(failed.LastError, "401 Unauthorized") ||
			!strings.Contains(failed.LastError, "rejected") || strings.Contains(failed.LastError, "not-a-token") {
			t.Errorf("failed with %+v", failed)
		}
		t.Logf("last error: %s", failed.LastError)
	}
	if w.sessions() != 0 {
		t.Errorf("%d sessions on the server", w.sessions())
	}
}

// TestWHIPRequests checks the client's side of the protocol on a scripted
// server: the POST (content type, bearer token, an offer with every
// candidate and a sendonly Opus track), a 201 with a relative Location,
// and the DELETE of that Location, with the token, when the stream stops
// (here: when it cannot connect, the answer being unusable).
func TestWHIPRequests(t *testing.T) {
	type seen struct{ method, path, ctype, authz, body string }
	var (
		mu  sync.Mutex
		got []seen
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, seen{r.Method, r.URL.RequestURI(), r.Header.Get("Content-Type"), r.Header.Get("Authorization"), string(b)})
		mu.Unlock()
		if r.Method == http.MethodPost {
			w.Header().Set("Location", "sessions/abc")
			w.Header().Set("Content-Type", "application/sdp")
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte("v=0\r\nnot an answer\r\n"))
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	tap := newSineTap(48000, 440)
	defer tap.close()
	states := newStateLog()
	m := New(Config{Tap: tap.tap, Logger: testLogger(t), OnState: states.onState, MaxAttempts: 1})
	defer m.Close()
	u, _ := url.Parse(srv.URL)
	in, err := m.Start("r", Request{Target: "whip+http://:s3cr%2Ft@" + u.Host + "/ingest/x?key=1"})
	if err != nil {
		t.Fatal(err)
	}
	_, failed := states.wait(t, in.ID, StateFailed, 0, 10*time.Second)
	if !strings.Contains(failed.LastError, "answer") {
		t.Errorf("last error %q", failed.LastError)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("requests: %+v", got)
	}
	post, del := got[0], got[1]
	if post.method != http.MethodPost || post.path != "/ingest/x?key=1" || post.ctype != "application/sdp" ||
		post.authz != "Bearer s3cr/t" {
		t.Errorf("POST: %+v", post)
	}
	for _, want := range []string{"a=sendonly", "opus/48000/2", "a=candidate:", "a=end-of-candidates"} {
		if !strings.Contains(post.body, want) {
			t.Errorf("offer lacks %q:\n%s", want, post.body)
		}
	}
	if del.method != http.MethodDelete || del.path != "/ingest/sessions/abc" || del.authz != "Bearer s3cr/t" {
		t.Errorf("DELETE: %+v", del)
	}
}
