package sip

import (
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/setbridge/setbridge/internal/audiotest"
	"github.com/setbridge/setbridge/internal/peers"
	"github.com/setbridge/setbridge/media"
)

// testRoom is a tiny conference: every 20 ms it reads a frame from each
// participant and writes each the sum of the others (N-1).
type testRoom struct {
	rate int
	mu   sync.Mutex
	ps   map[*testMember]bool // guarded by mu
	log  []string             // joins and leaves; guarded by mu
	stop chan struct{}
	wg   sync.WaitGroup
}

type testMember struct {
	r   *testRoom
	p   media.Participant
	who Caller
	in  []int16
	ok  bool
}

func (m *testMember) Leave() {
	m.r.mu.Lock()
	defer m.r.mu.Unlock()
	if m.r.ps[m] {
		delete(m.r.ps, m)
		m.r.log = append(m.r.log, "leave "+m.who.Number)
	}
}
func (m *testMember) SetMuted(bool) {}
func (m *testMember) Muted() bool   { return false }

func newTestRoom(t testing.TB) *testRoom {
	r := &testRoom{rate: 8000, ps: map[*testMember]bool{}, stop: make(chan struct{})}
	r.wg.Add(1)
	go func() { defer r.wg.Done(); r.run() }()
	t.Cleanup(func() { close(r.stop); r.wg.Wait() })
	return r
}

func (r *testRoom) Rate() int { return r.rate }
func (r *testRoom) Join(room string, p media.Participant, who Caller) (Membership, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := &testMember{r: r, p: p, who: who, in: make([]int16, media.FrameSamples(r.rate))}
	r.ps[m] = true
	r.log = append(r.log, "join "+who.Number)
	return m, nil
}
func (r *testRoom) Participants(string) int { r.mu.Lock(); defer r.mu.Unlock(); return len(r.ps) }
func (r *testRoom) events() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.log, ",")
}

func (r *testRoom) run() {
	t := time.NewTicker(media.FrameDuration)
	defer t.Stop()
	out := make([]int16, media.FrameSamples(r.rate))
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		r.mu.Lock()
		for m := range r.ps {
			m.ok = m.p.ReadFrame(m.in)
		}
		for m := range r.ps {
			clear(out)
			for o := range r.ps {
				if o != m && o.ok {
					for i, s := range o.in {
						out[i] = sat16(int32(out[i]) + int32(s))
					}
				}
			}
			m.p.WriteFrame(out)
		}
		r.mu.Unlock()
	}
}

// toneParticipant plays a tone into the room and records what it hears.
type toneParticipant struct {
	tone []int16
	pos  int
	mu   sync.Mutex
	rec  []int16 // guarded by mu
}

func (p *toneParticipant) ReadFrame(dst []int16) bool {
	for i := range dst {
		dst[i] = p.tone[p.pos%len(p.tone)]
		p.pos++
	}
	return true
}
func (p *toneParticipant) WriteFrame(pcm []int16) {
	p.mu.Lock()
	p.rec = append(p.rec, pcm...)
	p.mu.Unlock()
}
func (p *toneParticipant) heard() []int16 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int16(nil), p.rec...)
}

// dialEvents collects a call's events.
type dialEvents struct {
	mu  sync.Mutex
	evs []DialEvent
	ch  chan struct{}
}

func newDialEvents() *dialEvents { return &dialEvents{ch: make(chan struct{}, 64)} }
func (d *dialEvents) on(e DialEvent) {
	d.mu.Lock()
	d.evs = append(d.evs, e)
	d.mu.Unlock()
	d.ch <- struct{}{}
}
func (d *dialEvents) states() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var s []string
	for _, e := range d.evs {
		s = append(s, e.State)
	}
	return strings.Join(s, ",")
}

// wait returns the first event in state, failing the test after timeout.
func (d *dialEvents) wait(t testing.TB, state string, timeout time.Duration) DialEvent {
	t.Helper()
	deadline := time.After(timeout)
	for {
		d.mu.Lock()
		for _, e := range d.evs {
			if e.State == state {
				d.mu.Unlock()
				return e
			}
		}
		d.mu.Unlock()
		select {
		case <-d.ch:
		case <-deadline:
			t.Fatalf("no %q event in %v; events: %s", state, timeout, d.states())
			return DialEvent{}
		}
	}
}

type testLogWriter struct{ t testing.TB }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// newDialServer starts a gateway on 127.0.0.1 with trunk "carrier" placing
// calls to host.
func newDialServer(t testing.TB, conf Conference, out TrunkOutbound) *Server {
	t.Helper()
	var w io.Writer = testLogWriter{t}
	if _, ok := t.(*testing.B); ok {
		w = io.Discard
	}
	log := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
	s, err := NewServer(Config{UDP: "127.0.0.1:0", TCP: "-", MediaAddress: "127.0.0.1", RTPPortMin: 42000, RTPPortMax: 46000,
		Trunks: []Trunk{{Name: "carrier", AllowedAddresses: []string{"127.0.0.1"}, Codecs: []string{"PCMU", "PCMA"}, Outbound: &out}}},
		conf, Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	waitServing(t, s.Addr("udp").String())
	return s
}

// waitServing waits until the UDP listener answers OPTIONS: only then is
// it in sipgo's connection pool, for requests to leave from it.
func waitServing(t testing.TB, addr string) {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	la := c.LocalAddr().String()
	buf := make([]byte, 2048)
	for i := 0; i < 50; i++ {
		msg := "OPTIONS sip:" + addr + " SIP/2.0\r\nVia: SIP/2.0/UDP " + la + ";branch=z9hG4bKwait" + strconv.Itoa(i) +
			"\r\nFrom: <sip:t@127.0.0.1>;tag=w\r\nTo: <sip:" + addr + ">\r\nCall-ID: wait" + strconv.Itoa(i) +
			"\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
		_, _ = c.Write([]byte(msg))
		_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if n, err := c.Read(buf); err == nil && strings.HasPrefix(string(buf[:n]), "SIP/2.0 200") {
			return
		}
	}
	t.Fatalf("server on %s does not answer OPTIONS", addr)
}

func startUAS(t testing.TB, scenario string, keys map[string]string) *peers.Sipp {
	t.Helper()
	sc := scenario
	if !strings.Contains(sc, "/") && sc != "uas" {
		p, err := filepath.Abs(filepath.Join("testdata", "dialout", sc+".xml"))
		if err != nil {
			t.Fatal(err)
		}
		sc = p
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	sp, err := peers.StartSipp(ctx, peers.SippOptions{T: t, Scenario: sc, Calls: 1, Keys: keys, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

func checkSipp(t *testing.T, sp *peers.Sipp) {
	t.Helper()
	done := make(chan struct{})
	var res peers.SippResult
	go func() { defer close(done); res, _ = sp.Wait() }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		res, _ = sp.Stop()
	}
	if err := res.Check(1); err != nil {
		t.Fatalf("sipp: %v", err)
	}
}

func TestDialAnsweredJoinsAndHangsUp(t *testing.T) {
	room := newTestRoom(t)
	sp := startUAS(t, "uas", nil)
	s := newDialServer(t, room, TrunkOutbound{Host: sp.Addr})
	ev := newDialEvents()
	o, err := s.Dial(context.Background(), DialRequest{Room: "r1", Trunk: "carrier", Number: "1000", DisplayName: "Bob"}, ev.on)
	if err != nil {
		t.Fatal(err)
	}
	e := ev.wait(t, DialAnswered, 10*time.Second)
	if e.Code != 200 || e.CallID != o.ID() {
		t.Fatalf("answered event %+v", e)
	}
	if got := room.events(); got != "join 1000" {
		t.Fatalf("room log %q, want the callee joined", got)
	}
	o.Hangup()
	ev.wait(t, DialEnded, 5*time.Second)
	if got := room.events(); got != "join 1000,leave 1000" {
		t.Fatalf("room log %q", got)
	}
	if got := ev.states(); got != "trying,ringing,answered,ended" {
		t.Fatalf("events %s", got)
	}
	checkSipp(t, sp) // the BYE reached sipp
}

func TestDialBusy(t *testing.T) {
	room := newTestRoom(t)
	sp := startUAS(t, "busy", nil)
	s := newDialServer(t, room, TrunkOutbound{Host: sp.Addr})
	ev := newDialEvents()
	if _, err := s.Dial(context.Background(), DialRequest{Room: "r1", Trunk: "carrier", Number: "1000"}, ev.on); err != nil {
		t.Fatal(err)
	}
	if e := ev.wait(t, DialBusy, 10*time.Second); e.Code != 486 {
		t.Fatalf("busy event %+v", e)
	}
	checkSipp(t, sp)
	if room.events() != "" {
		t.Fatalf("room log %q", room.events())
	}
}

func TestDialNoAnswerCancels(t *testing.T) {
	room := newTestRoom(t)
	sp := startUAS(t, "noanswer", nil)
	s := newDialServer(t, room, TrunkOutbound{Host: sp.Addr})
	ev := newDialEvents()
	start := time.Now()
	if _, err := s.Dial(context.Background(), DialRequest{Room: "r1", Trunk: "carrier", Number: "1000", RingTimeout: 2 * time.Second}, ev.on); err != nil {
		t.Fatal(err)
	}
	ev.wait(t, DialRinging, 5*time.Second)
	ev.wait(t, DialNoAnswer, 10*time.Second)
	if d := time.Since(start); d < 2*time.Second {
		t.Fatalf("gave up after %v, before the ring timeout", d)
	}
	checkSipp(t, sp) // sipp saw the CANCEL and the ACK of its 487
}

func TestDialEarlyMedia(t *testing.T) {
	room := newTestRoom(t)
	sp := startUAS(t, "early", nil)
	s := newDialServer(t, room, TrunkOutbound{Host: sp.Addr})
	ev := newDialEvents()
	o, err := s.Dial(context.Background(), DialRequest{Room: "r1", Trunk: "carrier", Number: "1000"}, ev.on)
	if err != nil {
		t.Fatal(err)
	}
	if e := ev.wait(t, DialEarlyMedia, 5*time.Second); e.Code != 183 {
		t.Fatalf("early media event %+v", e)
	}
	ev.wait(t, DialAnswered, 5*time.Second)
	if got := ev.states(); got != "trying,early_media,answered" {
		t.Fatalf("events %s", got)
	}
	o.Hangup()
	checkSipp(t, sp)
}

func TestDialDigestChallenge(t *testing.T) {
	room := newTestRoom(t)
	sp := startUAS(t, "auth", nil)
	s := newDialServer(t, room, TrunkOutbound{Host: sp.Addr, Username: "setbridge", Password: "s3cret", Realm: "carrier.test"})
	ev := newDialEvents()
	o, err := s.Dial(context.Background(), DialRequest{Room: "r1", Trunk: "carrier", Number: "1000"}, ev.on)
	if err != nil {
		t.Fatal(err)
	}
	ev.wait(t, DialAnswered, 10*time.Second)
	o.Hangup()
	checkSipp(t, sp)
}

func TestDialWrongRealmIsNotAnswered(t *testing.T) {
	room := newTestRoom(t)
	sp := startUAS(t, "auth", nil)
	s := newDialServer(t, room, TrunkOutbound{Host: sp.Addr, Username: "setbridge", Password: "s3cret", Realm: "other.test"})
	ev := newDialEvents()
	if _, err := s.Dial(context.Background(), DialRequest{Room: "r1", Trunk: "carrier", Number: "1000"}, ev.on); err != nil {
		t.Fatal(err)
	}
	e := ev.wait(t, DialFailed, 10*time.Second)
	if !strings.Contains(e.Reason, "realm") {
		t.Fatalf("failed event %+v", e)
	}
	_, _ = sp.Stop()
}

func TestDialRejectsBadRequests(t *testing.T) {
	room := newTestRoom(t)
	s := newDialServer(t, room, TrunkOutbound{Host: "127.0.0.1:9"})
	for _, r := range []DialRequest{
		{Room: "r", Trunk: "nope", Number: "1"},
		{Room: "r", Trunk: "carrier"},
		{Room: "r", Trunk: "carrier", Number: "1", Digits: "12x"},
		{Room: "r", Trunk: "carrier", Number: "1@evil"},
		{Room: "r", Trunk: "carrier", Number: "1", DigitMode: "smoke"},
	} {
		if _, err := s.Dial(context.Background(), r, nil); err == nil {
			t.Errorf("Dial(%+v) succeeded", r)
		}
	}
}

// rtpDigits reads RFC 4733 events arriving at conn until want digits or
// the deadline, and returns the digits in order (one per event timestamp).
func rtpDigits(t *testing.T, conn *net.UDPConn, want int, deadline time.Time) string {
	t.Helper()
	const keys = "0123456789*#ABCD"
	var got []byte
	seen := map[uint32]bool{}
	buf := make([]byte, 1500)
	_ = conn.SetReadDeadline(deadline)
	for len(got) < want {
		n, _, err := conn.ReadFromUDP(buf)
		if err != nil {
			break
		}
		var p rtp.Packet
		if p.Unmarshal(buf[:n]) != nil || p.PayloadType != 101 || len(p.Payload) < 4 {
			continue
		}
		if !seen[p.Timestamp] && int(p.Payload[0]) < len(keys) {
			seen[p.Timestamp] = true
			got = append(got, keys[p.Payload[0]])
		}
	}
	return string(got)
}

// The connector: the far "conference" (sipp) receives the conference
// digits in order as RFC 4733 events, puts the call on hold and resumes
// it; the call stays up until we hang up.
func TestConnectorSendsDigitsAndSurvivesHold(t *testing.T) {
	room := newTestRoom(t)
	media, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer media.Close()
	port := media.LocalAddr().(*net.UDPAddr).Port
	sp := startUAS(t, "connector", map[string]string{"rtp_port": strconv.Itoa(port)})
	s := newDialServer(t, room, TrunkOutbound{Host: sp.Addr})
	// Another participant so the room has something to send.
	if _, err := room.Join("r1", &toneParticipant{tone: audiotest.GenTone(8000, 440, 8000, time.Second)}, Caller{Number: "alice"}); err != nil {
		t.Fatal(err)
	}
	ev := newDialEvents()
	o, err := s.Dial(context.Background(), DialRequest{Room: "r1", Trunk: "carrier", Number: "7000", Digits: "123w45#"}, ev.on)
	if err != nil {
		t.Fatal(err)
	}
	ev.wait(t, DialAnswered, 5*time.Second)
	if got := rtpDigits(t, media, 6, time.Now().Add(4*time.Second)); got != "12345#" {
		t.Fatalf("conference received digits %q, want 12345#", got)
	}
	time.Sleep(2500 * time.Millisecond) // hold and resume
	if st := o.State(); st != DialAnswered {
		t.Fatalf("state after hold and resume %q", st)
	}
	o.Hangup()
	ev.wait(t, DialEnded, 5*time.Second)
	checkSipp(t, sp)
}

// The connector against an auto-answering baresip: baresip plays 1 kHz and
// records; a room participant plays 440 Hz. Each side hears the other
// (Goertzel), and the conference digits reach baresip as RFC 4733.
func TestConnectorBaresipAudioBothWays(t *testing.T) {
	room := newTestRoom(t)
	dir := t.TempDir()
	wav := filepath.Join(dir, "far.wav")
	if err := audiotest.WriteMonoWAV(wav, 8000, audiotest.GenTone(8000, 1000, 8000, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	rec := filepath.Join(dir, "heard.wav")
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	b, err := peers.StartBaresip(ctx, peers.BaresipOptions{T: t, AutoAnswer: true, PlayWAV: wav, RecordWAV: rec})
	if err != nil {
		t.Fatal(err)
	}
	s := newDialServer(t, room, TrunkOutbound{Host: b.Addr})
	near := &toneParticipant{tone: audiotest.GenTone(8000, 440, 8000, time.Second)}
	if _, err := room.Join("r1", near, Caller{Number: "alice"}); err != nil {
		t.Fatal(err)
	}
	ev := newDialEvents()
	user := strings.TrimPrefix(strings.SplitN(b.URI, "@", 2)[0], "sip:")
	o, err := s.Dial(ctx, DialRequest{Room: "r1", Trunk: "carrier", Number: user, Digits: "4w2#"}, ev.on)
	if err != nil {
		t.Fatal(err)
	}
	ev.wait(t, DialAnswered, 10*time.Second)
	time.Sleep(3 * time.Second)
	o.Hangup()
	ev.wait(t, DialEnded, 5*time.Second)
	if _, err := b.WaitClosed(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	if got := b.ReceivedDTMF(); got != "42#" {
		t.Errorf("baresip received digits %q, want 42#", got)
	}
	heard := near.heard()
	if len(heard) > 8000*2 {
		heard = heard[len(heard)-8000*2:]
	}
	if !audiotest.HasTone(heard, 8000, 1000, -30) {
		t.Errorf("the room did not hear baresip's 1 kHz (level %.1f dB)", audiotest.ToneLevelDB(heard, 8000, 1000))
	}
	a, err := audiotest.ReadWAV(rec)
	if err != nil {
		t.Fatal(err)
	}
	far := a.Mono()
	if n := len(far); n > 0 {
		far = far[n/2:]
	}
	if !audiotest.HasTone(far, a.Rate, 440, -30) {
		t.Errorf("baresip did not hear the room's 440 Hz (level %.1f dB)", audiotest.ToneLevelDB(far, a.Rate, 440))
	}
	if audiotest.HasTone(far, a.Rate, 1000, -30) {
		t.Errorf("baresip hears its own 1 kHz: the room sent it back")
	}
}

// BenchmarkDialSetupRate places calls to a sipp UAS, 8 at a time, each
// until answered (INVITE, 180, 200, ACK, joined) and then hung up (BYE);
// it reports answered calls per second.
func BenchmarkDialSetupRate(b *testing.B) {
	room := newTestRoom(b)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sp, err := peers.StartSipp(ctx, peers.SippOptions{T: b, Scenario: "uas", NoMessageTrace: true})
	if err != nil {
		b.Fatal(err)
	}
	s := newDialServer(b, room, TrunkOutbound{Host: sp.Addr})
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	var failed atomic.Int64
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			answered := make(chan bool, 1)
			o, err := s.Dial(ctx, DialRequest{Room: "bench", Trunk: "carrier", Number: "1000"}, func(e DialEvent) {
				if e.State == DialAnswered || e.terminal() {
					select {
					case answered <- e.State == DialAnswered:
					default:
					}
				}
			})
			if err != nil {
				failed.Add(1)
				return
			}
			if !<-answered {
				failed.Add(1)
			}
			o.Hangup()
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "calls/s")
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d calls not answered", n, b.N)
	}
}
