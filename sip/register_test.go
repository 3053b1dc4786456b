package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// regFakeClock is a manual RegistrationClock: timers fire only when the
// test advances the time. Every NewTimer is announced on created, which is
// how tests read the schedule Run chose.
type regFakeClock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*regFakeTimer
	created chan *regFakeTimer
}

type regFakeTimer struct {
	clock *regFakeClock
	d     time.Duration
	when  time.Time
	ch    chan time.Time
	done  bool
}

func newRegFakeClock() *regFakeClock {
	return &regFakeClock{
		now:     time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC),
		created: make(chan *regFakeTimer, 16),
	}
}

func (c *regFakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *regFakeClock) NewTimer(d time.Duration) RegistrationTimer {
	c.mu.Lock()
	t := &regFakeTimer{clock: c, d: d, when: c.now.Add(d), ch: make(chan time.Time, 1)}
	c.timers = append(c.timers, t)
	c.mu.Unlock()
	c.created <- t
	return t
}

// Advance moves the clock and fires the timers that are due.
func (c *regFakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for _, t := range c.timers {
		if !t.done && !t.when.After(c.now) {
			t.done = true
			t.ch <- c.now
		}
	}
}

func (t *regFakeTimer) C() <-chan time.Time { return t.ch }

func (t *regFakeTimer) Stop() bool {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	active := !t.done
	t.done = true
	return active
}

// nextTimer waits for Run to schedule its next REGISTER.
func (c *regFakeClock) nextTimer(t *testing.T) *regFakeTimer {
	t.Helper()
	select {
	case tm := <-c.created:
		return tm
	case <-time.After(5 * time.Second):
		t.Fatal("Run scheduled no timer within 5s")
		return nil
	}
}

// regReply builds the registrar's answer to one REGISTER.
type regReply func(t *testing.T, req *sipmsg.Request) (*sipmsg.Response, error)

// regFakeRegistrar answers REGISTERs from a script, one reply per request,
// and records the requests.
type regFakeRegistrar struct {
	t       *testing.T
	mu      sync.Mutex
	script  []regReply
	reqs    []*sipmsg.Request
	handled chan struct{}
}

func newRegFakeRegistrar(t *testing.T, script ...regReply) *regFakeRegistrar {
	return &regFakeRegistrar{t: t, script: script, handled: make(chan struct{}, 64)}
}

func (f *regFakeRegistrar) do(ctx context.Context, req *sipmsg.Request) (*sipmsg.Response, error) {
	f.mu.Lock()
	f.reqs = append(f.reqs, req.Clone())
	n := len(f.reqs)
	var reply regReply
	if len(f.script) > 0 {
		reply, f.script = f.script[0], f.script[1:]
	}
	f.mu.Unlock()
	defer func() { f.handled <- struct{}{} }()
	if reply == nil {
		f.t.Errorf("unexpected REGISTER #%d:\n%s", n, req)
		return nil, errors.New("script exhausted")
	}
	return reply(f.t, req)
}

func (f *regFakeRegistrar) requests() []*sipmsg.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*sipmsg.Request(nil), f.reqs...)
}

func (f *regFakeRegistrar) remaining() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.script)
}

const regTestPassword = "s3cret"

func regResponse(req *sipmsg.Request, code int, reason string, hdrs ...sipmsg.Header) *sipmsg.Response {
	res := sipmsg.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	return res
}

// ok answers 200 with our contact carrying contactExpires (skipped when
// negative) and an Expires header (skipped when negative).
func regOK(contactExpires, expiresHdr int) regReply {
	return func(t *testing.T, req *sipmsg.Request) (*sipmsg.Response, error) {
		var hdrs []sipmsg.Header
		other := &sipmsg.ContactHeader{Address: sipmsg.Uri{Scheme: "sip", User: "other", Host: "192.0.2.9", Port: 5060}, Params: sipmsg.NewParams()}
		other.Params.Add("expires", "3333")
		hdrs = append(hdrs, other)
		if c := req.Contact(); c != nil {
			ours := c.Clone()
			ours.Params = sipmsg.NewParams()
			if contactExpires >= 0 {
				ours.Params.Add("expires", fmt.Sprint(contactExpires))
			}
			hdrs = append(hdrs, ours)
		}
		if expiresHdr >= 0 {
			hdrs = append(hdrs, sipmsg.NewHeader("Expires", fmt.Sprint(expiresHdr)))
		}
		return regResponse(req, 200, "OK", hdrs...), nil
	}
}

func regStatus(code int, reason string, hdrs ...sipmsg.Header) regReply {
	return func(t *testing.T, req *sipmsg.Request) (*sipmsg.Response, error) {
		return regResponse(req, code, reason, hdrs...), nil
	}
}

func regTransportError() regReply {
	return func(t *testing.T, req *sipmsg.Request) (*sipmsg.Response, error) {
		return nil, errors.New("transaction timed out")
	}
}

// challenge answers 401 with a digest challenge (qop=auth).
func regChallenge(stale bool) regReply {
	return func(t *testing.T, req *sipmsg.Request) (*sipmsg.Response, error) {
		v := `Digest realm="setbridge.test", nonce="n-` + fmt.Sprint(req.CSeq().SeqNo) + `", qop="auth", algorithm=MD5`
		if stale {
			v += ", stale=true"
		}
		return regResponse(req, 401, "Unauthorized", sipmsg.NewHeader("WWW-Authenticate", v)), nil
	}
}

// authorized checks the request's digest response against regTestPassword
// and then replies with next.
func regAuthorized(next regReply) regReply {
	return func(t *testing.T, req *sipmsg.Request) (*sipmsg.Response, error) {
		h := req.GetHeader("Authorization")
		if h == nil {
			t.Errorf("REGISTER CSeq %d has no Authorization", req.CSeq().SeqNo)
			return regResponse(req, 400, "No Auth"), nil
		}
		cred, err := digest.ParseCredentials(h.Value())
		if err != nil {
			t.Errorf("bad Authorization %q: %v", h.Value(), err)
			return regResponse(req, 400, "Bad Auth"), nil
		}
		if want := req.Recipient.String(); cred.URI != want {
			t.Errorf("digest uri %q, want Request-URI %q", cred.URI, want)
		}
		want, err := digest.Digest(&digest.Challenge{Realm: cred.Realm, Nonce: cred.Nonce, QOP: []string{"auth"}, Algorithm: "MD5"},
			digest.Options{Method: "REGISTER", URI: cred.URI, Username: cred.Username, Password: regTestPassword, Cnonce: cred.Cnonce, Count: cred.Nc})
		if err != nil {
			t.Fatal(err)
		}
		if cred.Response != want.Response {
			t.Errorf("digest response %q, want %q (user %q)", cred.Response, want.Response, cred.Username)
		}
		return next(t, req)
	}
}

type regTestWriter struct{ t *testing.T }

func (w regTestWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func regTestLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(regTestWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func regTestConfig() RegistrationConfig {
	return RegistrationConfig{
		Trunk:     "test",
		Registrar: "sip:127.0.0.1:5080",
		AOR:       "sip:1000@setbridge.test",
		Password:  regTestPassword,
		Contact:   "127.0.0.1:5062",
		Expires:   100 * time.Second,
	}
}

// regStep is what Run must do after one round of REGISTERs: wait wait
// before the next one, with the status in state with failures.
type regStep struct {
	wait     time.Duration
	state    RegistrationState
	failures int
	errIs    error // LastError must start with this sentinel's text
	expires  uint32
}

func TestRegistrationSchedule(t *testing.T) {
	const j = 0.5 // jitter: refresh at 65% of the grant, back-off at 75% of d
	tests := []struct {
		name       string
		cfg        func(*RegistrationConfig)
		backoff    [2]time.Duration
		script     []regReply
		steps      []regStep
		unregister bool // an un-REGISTER is expected on cancel
	}{
		{
			name:   "it refreshes at 65% of the expiry granted in our Contact and keeps doing so",
			script: []regReply{regOK(100, 600), regOK(90, -1), regOK(80, -1)},
			steps: []regStep{
				{wait: 65 * time.Second, state: Registered, expires: 100},
				{wait: 58500 * time.Millisecond, state: Registered, expires: 100},
				{wait: 52 * time.Second, state: Registered, expires: 100},
			},
			unregister: true,
		},
		{
			name:       "it falls back to the Expires header when our Contact has no expires",
			script:     []regReply{regOK(-1, 200)},
			steps:      []regStep{{wait: 130 * time.Second, state: Registered, expires: 100}},
			unregister: true,
		},
		{
			name:       "it assumes the requested expiry when the registrar states none",
			script:     []regReply{regOK(-1, -1)},
			steps:      []regStep{{wait: 65 * time.Second, state: Registered, expires: 100}},
			unregister: true,
		},
		{
			name:   "it answers a 401 challenge with digest credentials",
			script: []regReply{regChallenge(false), regAuthorized(regOK(100, -1)), regChallenge(false), regAuthorized(regOK(100, -1))},
			steps: []regStep{
				{wait: 65 * time.Second, state: Registered, expires: 100},
				{wait: 65 * time.Second, state: Registered, expires: 100},
			},
			unregister: true,
		},
		{
			name:       "it retries a stale nonce with the new challenge",
			script:     []regReply{regChallenge(false), regChallenge(true), regAuthorized(regOK(100, -1))},
			steps:      []regStep{{wait: 65 * time.Second, state: Registered, expires: 100}},
			unregister: true,
		},
		{
			name:    "a wrong password is Failed after the challenge repeats and backs off exponentially",
			backoff: [2]time.Duration{2 * time.Second, 8 * time.Second},
			script: []regReply{
				regChallenge(false), regAuthorized(regChallenge(false)),
				regChallenge(false), regAuthorized(regChallenge(false)),
				regChallenge(false), regAuthorized(regChallenge(false)),
				regChallenge(false), regAuthorized(regChallenge(false)),
			},
			steps: []regStep{
				{wait: 1500 * time.Millisecond, state: Failed, failures: 1, errIs: ErrRegistrationAuthFailed, expires: 100},
				{wait: 3 * time.Second, state: Failed, failures: 2, errIs: ErrRegistrationAuthFailed, expires: 100},
				{wait: 6 * time.Second, state: Failed, failures: 3, errIs: ErrRegistrationAuthFailed, expires: 100},
				{wait: 6 * time.Second, state: Failed, failures: 4, errIs: ErrRegistrationAuthFailed, expires: 100},
			},
		},
		{
			name:    "a 403 is Failed with back-off and a later success resets the failures",
			backoff: [2]time.Duration{10 * time.Second, time.Hour},
			script:  []regReply{regStatus(403, "Forbidden"), regStatus(403, "Forbidden"), regOK(100, -1)},
			steps: []regStep{
				{wait: 7500 * time.Millisecond, state: Failed, failures: 1, errIs: ErrRegistrationRejected, expires: 100},
				{wait: 15 * time.Second, state: Failed, failures: 2, errIs: ErrRegistrationRejected, expires: 100},
				{wait: 65 * time.Second, state: Registered, expires: 100},
			},
			unregister: true,
		},
		{
			name:   "a challenge without a configured password is Failed",
			cfg:    func(c *RegistrationConfig) { c.Password = "" },
			script: []regReply{regChallenge(false)},
			steps:  []regStep{{wait: 1500 * time.Millisecond, state: Failed, failures: 1, errIs: ErrRegistrationNoCredentials, expires: 100}},
		},
		{
			name:   "423 Interval Too Brief raises the expiry to Min-Expires for this and later requests",
			script: []regReply{regStatus(423, "Interval Too Brief", sipmsg.NewHeader("Min-Expires", "600")), regOK(600, -1), regOK(600, -1)},
			steps: []regStep{
				{wait: 390 * time.Second, state: Registered, expires: 600},
				{wait: 390 * time.Second, state: Registered, expires: 600},
			},
			unregister: true,
		},
		{
			name:   "423 without Min-Expires is Failed",
			script: []regReply{regStatus(423, "Interval Too Brief")},
			steps:  []regStep{{wait: 1500 * time.Millisecond, state: Failed, failures: 1, errIs: ErrRegistrationIntervalTooBrief, expires: 100}},
		},
		{
			name:    "503 with Retry-After waits that long",
			backoff: [2]time.Duration{time.Second, 10 * time.Minute},
			script:  []regReply{regStatus(503, "Service Unavailable", sipmsg.NewHeader("Retry-After", "120")), regOK(100, -1)},
			steps: []regStep{
				{wait: 120 * time.Second, state: Failed, failures: 1, errIs: ErrRegistrarUnavailable, expires: 100},
				{wait: 65 * time.Second, state: Registered, expires: 100},
			},
			unregister: true,
		},
		{
			name:    "a timed-out refresh stays Registered until the binding lapses, then is Failed",
			backoff: [2]time.Duration{time.Minute, time.Hour},
			script:  []regReply{regOK(100, -1), regTransportError(), regTransportError(), regOK(100, -1)},
			steps: []regStep{
				{wait: 65 * time.Second, state: Registered, expires: 100},
				// back-off 45 s is cut to the 35 s left on the binding
				{wait: 35 * time.Second, state: Registered, failures: 1, errIs: ErrRegistrarUnavailable, expires: 100},
				{wait: 90 * time.Second, state: Failed, failures: 2, errIs: ErrRegistrarUnavailable, expires: 100},
				{wait: 65 * time.Second, state: Registered, expires: 100},
			},
			unregister: true,
		},
		{
			name:       "a 2xx granting zero seconds is a rejection",
			script:     []regReply{regOK(0, -1)},
			steps:      []regStep{{wait: 1500 * time.Millisecond, state: Failed, failures: 1, errIs: ErrRegistrationRejected, expires: 100}},
			unregister: false,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := regTestConfig()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			script := tc.script
			if tc.unregister {
				script = append(script, regOK(0, -1))
			}
			reg := newRegFakeRegistrar(t, script...)
			clock := newRegFakeClock()
			var (
				seenMu sync.Mutex
				seen   []RegistrationStatus
			)
			opts := []RegistrationOption{
				WithRegistrationLogger(regTestLogger(t)),
				WithRegistrationClock(clock),
				withRegistrationJitter(func() float64 { return j }),
				withRegistrationDo(reg.do),
				WithRegistrationStatusFunc(func(s RegistrationStatus) {
					seenMu.Lock()
					seen = append(seen, s)
					seenMu.Unlock()
				}),
			}
			if tc.backoff[0] > 0 {
				opts = append(opts, WithRegistrationBackoff(tc.backoff[0], tc.backoff[1]))
			}
			r, err := NewRegistration(nil, cfg, opts...)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- r.Run(ctx) }()
			var stopOnce sync.Once
			stop := func() {
				stopOnce.Do(func() {
					cancel()
					select {
					case err := <-done:
						if err != nil {
							t.Errorf("Run returned %v", err)
						}
					case <-time.After(5 * time.Second):
						t.Error("Run did not return after cancel")
					}
				})
			}
			defer stop()

			nreq := 0
			for i, step := range tc.steps {
				tm := clock.nextTimer(t)
				if tm.d != step.wait {
					t.Errorf("step %d: next REGISTER in %v, want %v", i, tm.d, step.wait)
				}
				st := r.Status()
				if st.State != step.state || st.Failures != step.failures {
					t.Errorf("step %d: status %v with %d failures, want %v with %d", i, st.State, st.Failures, step.state, step.failures)
				}
				if step.errIs != nil && !strings.HasPrefix(st.LastError, step.errIs.Error()) {
					t.Errorf("step %d: LastError %q, want it to start with %q", i, st.LastError, step.errIs)
				}
				if step.errIs == nil && st.LastError != "" {
					t.Errorf("step %d: LastError %q, want none", i, st.LastError)
				}
				if st.State == Registered && st.Expires.IsZero() {
					t.Errorf("step %d: Registered without Expires", i)
				}
				reqs := reg.requests()
				if len(reqs) == nreq {
					t.Fatalf("step %d: no REGISTER sent", i)
				}
				if got := reqs[len(reqs)-1].GetHeader("Expires").Value(); got != fmt.Sprint(step.expires) {
					t.Errorf("step %d: last REGISTER asks Expires %s, want %d", i, got, step.expires)
				}
				nreq = len(reqs)
				if i < len(tc.steps)-1 {
					clock.Advance(tm.d)
				}
			}
			stop()

			if n := reg.remaining(); n != 0 {
				t.Errorf("%d scripted replies left unused", n)
			}
			reqs := reg.requests()
			last := reqs[len(reqs)-1]
			isUnreg := last.GetHeader("Expires").Value() == "0"
			if isUnreg != tc.unregister {
				t.Errorf("last request is un-REGISTER: %v, want %v", isUnreg, tc.unregister)
			}
			if st := r.Status(); st.State != Unregistered || !st.Expires.IsZero() {
				t.Errorf("after Run: %+v, want Unregistered without Expires", st)
			}
			checkRegistrationRequests(t, reqs)

			seenMu.Lock()
			defer seenMu.Unlock()
			for i := 1; i < len(seen); i++ {
				if seen[i] == seen[i-1] {
					t.Errorf("status func called twice with %+v", seen[i])
				}
			}
			if len(seen) == 0 || seen[len(seen)-1] != r.Status() {
				t.Errorf("status func did not see the final status")
			}
		})
	}
}

// checkRegistrationRequests asserts RFC 3261 §10.2.4: one Call-ID and From
// tag, CSeq strictly increasing, To = AOR, Request-URI without user.
func checkRegistrationRequests(t *testing.T, reqs []*sipmsg.Request) {
	t.Helper()
	if len(reqs) == 0 {
		t.Fatal("no REGISTER sent")
	}
	first := reqs[0]
	tag, _ := first.From().Params.Get("tag")
	if tag == "" {
		t.Error("From has no tag")
	}
	for i, req := range reqs {
		if req.Method != sipmsg.REGISTER {
			t.Errorf("request %d is %s", i, req.Method)
		}
		if req.Recipient.User != "" || req.Recipient.String() != "sip:127.0.0.1:5080" {
			t.Errorf("request %d Request-URI %s", i, req.Recipient.String())
		}
		if req.CallID().Value() != first.CallID().Value() {
			t.Errorf("request %d Call-ID %s, want %s", i, req.CallID().Value(), first.CallID().Value())
		}
		if got, _ := req.From().Params.Get("tag"); got != tag {
			t.Errorf("request %d From tag %s, want %s", i, got, tag)
		}
		if req.To().Address.String() != "sip:1000@setbridge.test" || req.From().Address.String() != "sip:1000@setbridge.test" {
			t.Errorf("request %d To %s From %s", i, req.To().Address.String(), req.From().Address.String())
		}
		if c := req.Contact(); c == nil || c.Address.String() != "sip:1000@127.0.0.1:5062" {
			t.Errorf("request %d Contact %v", i, c)
		}
		if i > 0 && req.CSeq().SeqNo <= reqs[i-1].CSeq().SeqNo {
			t.Errorf("request %d CSeq %d after %d", i, req.CSeq().SeqNo, reqs[i-1].CSeq().SeqNo)
		}
		if req.CSeq().MethodName != sipmsg.REGISTER {
			t.Errorf("request %d CSeq method %s", i, req.CSeq().MethodName)
		}
	}
}

func TestRegistrationDelays(t *testing.T) {
	refresh := []struct {
		name    string
		granted time.Duration
		jitter  float64
		want    time.Duration
	}{
		{"the earliest refresh is at half the granted expiry", 300 * time.Second, 0, 150 * time.Second},
		{"the latest refresh is at 80% of the granted expiry", 300 * time.Second, 1, 240 * time.Second},
		{"a refresh with mid jitter is at 65%", 60 * time.Second, 0.5, 39 * time.Second},
		{"jitter out of range is clamped", 100 * time.Second, 7, 80 * time.Second},
	}
	for _, tc := range refresh {
		t.Run(tc.name, func(t *testing.T) {
			if got := registrationRefreshDelay(tc.granted, tc.jitter); got != tc.want {
				t.Errorf("registrationRefreshDelay(%v, %v) = %v, want %v", tc.granted, tc.jitter, got, tc.want)
			}
		})
	}
	backoff := []struct {
		name     string
		failures int
		jitter   float64
		want     time.Duration
	}{
		{"the first failure waits between half the base and the base", 1, 0, time.Second},
		{"the first failure with full jitter waits the base", 1, 1, 2 * time.Second},
		{"the third failure waits four times the base", 3, 1, 8 * time.Second},
		{"the back-off stops growing at the maximum", 30, 1, 5 * time.Minute},
		{"the capped back-off is still jittered", 1000, 0, 150 * time.Second},
	}
	for _, tc := range backoff {
		t.Run(tc.name, func(t *testing.T) {
			got := registrationBackoff(tc.failures, DefaultRegistrationBackoffBase, DefaultRegistrationBackoffMax, tc.jitter)
			if got != tc.want {
				t.Errorf("registrationBackoff(%d, jitter %v) = %v, want %v", tc.failures, tc.jitter, got, tc.want)
			}
		})
	}
}

func TestNewRegistrationValidates(t *testing.T) {
	tests := []struct {
		name string
		edit func(*RegistrationConfig)
		want error
	}{
		{"a registrar that is not a SIP URI is refused", func(c *RegistrationConfig) { c.Registrar = "http://x" }, ErrRegistrationRegistrar},
		{"an empty registrar is refused", func(c *RegistrationConfig) { c.Registrar = "" }, ErrRegistrationRegistrar},
		{"an AOR without host is refused", func(c *RegistrationConfig) { c.AOR = "sip:" }, ErrRegistrationAOR},
		{"a missing contact is refused", func(c *RegistrationConfig) { c.Contact = "" }, ErrRegistrationContact},
		{"an unknown transport is refused", func(c *RegistrationConfig) { c.Transport = "sctp" }, ErrRegistrationTransport},
		{"a negative expiry is refused", func(c *RegistrationConfig) { c.Expires = -time.Second }, ErrRegistrationExpires},
		{"a sub-second expiry is refused", func(c *RegistrationConfig) { c.Expires = time.Millisecond }, ErrRegistrationExpires},
		{"a password without any username is refused", func(c *RegistrationConfig) { c.AOR = "sip:setbridge.test" }, ErrRegistrationUsername},
		{"a valid config is accepted", func(c *RegistrationConfig) {}, nil},
		{"an AOR without user is fine without password", func(c *RegistrationConfig) { c.AOR = "sip:setbridge.test"; c.Password = "" }, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := regTestConfig()
			tc.edit(&cfg)
			_, err := NewRegistration(nil, cfg, withRegistrationDo(newRegFakeRegistrar(t).do))
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("NewRegistration: %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("a nil client is refused", func(t *testing.T) {
		if _, err := NewRegistration(nil, regTestConfig()); !errors.Is(err, ErrRegistrationNoClient) {
			t.Errorf("NewRegistration(nil): %v", err)
		}
	})
}

func TestNewRegistrationBuildsURIs(t *testing.T) {
	tests := []struct {
		name        string
		edit        func(*RegistrationConfig)
		wantContact string
		wantTP      string
		wantExpires string
	}{
		{"a host:port contact gets the AOR user", func(c *RegistrationConfig) {}, "sip:1000@127.0.0.1:5062", "UDP", "100"},
		{"a full contact URI is kept", func(c *RegistrationConfig) { c.Contact = "sip:trunk-a@10.0.0.1:5070" }, "sip:trunk-a@10.0.0.1:5070", "UDP", "100"},
		{"tcp adds transport=tcp to the contact", func(c *RegistrationConfig) { c.Transport = "TCP" }, "sip:1000@127.0.0.1:5062;transport=tcp", "TCP", "100"},
		{"the registrar's transport param is used when none is configured", func(c *RegistrationConfig) { c.Registrar = "sip:127.0.0.1:5080;transport=tls" }, "sip:1000@127.0.0.1:5062;transport=tls", "TLS", "100"},
		{"zero expiry requests 300 seconds", func(c *RegistrationConfig) { c.Expires = 0 }, "sip:1000@127.0.0.1:5062", "UDP", "300"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := regTestConfig()
			tc.edit(&cfg)
			r, err := NewRegistration(nil, cfg, withRegistrationDo(newRegFakeRegistrar(t).do))
			if err != nil {
				t.Fatal(err)
			}
			req := r.newRequest(r.expiresSec, nil)
			if got := req.Contact().Address.String(); got != tc.wantContact {
				t.Errorf("Contact %s, want %s", got, tc.wantContact)
			}
			if got := req.Transport(); got != tc.wantTP {
				t.Errorf("transport %s, want %s", got, tc.wantTP)
			}
			if got := req.GetHeader("Expires").Value(); got != tc.wantExpires {
				t.Errorf("Expires %s, want %s", got, tc.wantExpires)
			}
		})
	}
}

func TestRegistrationRun(t *testing.T) {
	t.Run("cancelling during an attempt still sends the un-REGISTER", func(t *testing.T) {
		started := make(chan struct{})
		blocked := func(t *testing.T, req *sipmsg.Request) (*sipmsg.Response, error) {
			close(started)
			return nil, errors.New("never answered")
		}
		reg := newRegFakeRegistrar(t, blocked, regOK(0, -1))
		ctx, cancel := context.WithCancel(t.Context())
		do := func(c context.Context, req *sipmsg.Request) (*sipmsg.Response, error) {
			if len(reg.requests()) == 0 {
				res, err := reg.do(c, req)
				<-c.Done()
				return res, err
			}
			return reg.do(c, req)
		}
		r, err := NewRegistration(nil, regTestConfig(), withRegistrationDo(do), WithRegistrationLogger(regTestLogger(t)), WithRegistrationClock(newRegFakeClock()))
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx) }()
		<-started
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		reqs := reg.requests()
		if len(reqs) != 2 || reqs[1].GetHeader("Expires").Value() != "0" {
			t.Fatalf("want REGISTER then un-REGISTER, got %d requests", len(reqs))
		}
		if r.Status().State != Unregistered {
			t.Errorf("status %v", r.Status())
		}
	})
	t.Run("a second concurrent Run is refused", func(t *testing.T) {
		reg := newRegFakeRegistrar(t, regOK(100, -1), regOK(0, -1))
		clock := newRegFakeClock()
		r, err := NewRegistration(nil, regTestConfig(), withRegistrationDo(reg.do), WithRegistrationClock(clock), WithRegistrationLogger(regTestLogger(t)))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx) }()
		clock.nextTimer(t)
		if err := r.Run(ctx); !errors.Is(err, ErrRegistrationRunning) {
			t.Errorf("second Run: %v", err)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a failed un-REGISTER is reported in LastError and Run still returns nil", func(t *testing.T) {
		reg := newRegFakeRegistrar(t, regOK(100, -1), regStatus(500, "Server Error"))
		clock := newRegFakeClock()
		r, err := NewRegistration(nil, regTestConfig(), withRegistrationDo(reg.do), WithRegistrationClock(clock), WithRegistrationLogger(regTestLogger(t)))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx) }()
		clock.nextTimer(t)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		st := r.Status()
		if st.State != Unregistered || !strings.HasPrefix(st.LastError, "unregister: "+ErrRegistrarUnavailable.Error()) {
			t.Errorf("status %+v", st)
		}
	})
}
