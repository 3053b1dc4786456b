package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/google/uuid"
	"github.com/icholy/digest"
)

// Outbound registration (UAC REGISTER, RFC 3261 §10.2) for trunks that only
// deliver calls to registered contacts.

const (
	// DefaultRegistrationExpires is the expiry requested when
	// RegistrationConfig.Expires is zero.
	DefaultRegistrationExpires = 300 * time.Second
	// DefaultRegistrationBackoffBase and DefaultRegistrationBackoffMax bound
	// the retry delay after failed attempts: base·2^(n-1) capped at max,
	// then jittered to [d/2, d].
	DefaultRegistrationBackoffBase = 2 * time.Second
	DefaultRegistrationBackoffMax  = 5 * time.Minute
	// DefaultUnregisterTimeout bounds the un-REGISTER sent when Run's
	// context is cancelled.
	DefaultUnregisterTimeout = 2 * time.Second

	// Refreshes are sent at a random point between these fractions of the
	// granted expiry, measured from when the REGISTER was sent.
	registrationRefreshMin = 0.5
	registrationRefreshMax = 0.8

	// Per attempt: how many 401/407 challenges are answered (the first one
	// plus stale-nonce re-challenges) and how many 423s are honoured.
	registrationMaxChallenges = 3
	registrationMax423        = 2

	registrationMaxExpiresSec = math.MaxInt32
)

// RegistrationConfig describes one outbound registration of a trunk.
type RegistrationConfig struct {
	Trunk     string        // trunk name, for logs
	Registrar string        // SIP URI of the registrar, e.g. "sip:127.0.0.1:5080"; used as Request-URI and destination (user part dropped)
	AOR       string        // address of record, e.g. "sip:1000@example.com"; used in To and From
	Username  string        // digest user (defaults to AOR user)
	Password  string        // digest password; empty means challenges cannot be answered
	Contact   string        // our contact: "host:port" (AOR user is added) or a full sip:/sips: URI
	Expires   time.Duration // requested expiry, default 300 s, whole seconds
	Transport string        // "udp" (default), "tcp", "tls"; a transport= param of Registrar is used when empty
}

// RegistrationState is the coarse state of a Registration.
type RegistrationState int

const (
	// Unregistered: not started, or stopped (after the un-REGISTER).
	Unregistered RegistrationState = iota
	// Registering: a REGISTER is in flight and no binding is known to exist.
	Registering
	// Registered: the registrar granted a binding that has not expired yet
	// (refreshes happen in this state; a transient refresh failure keeps
	// it until the binding's expiry).
	Registered
	// Failed: the last attempt failed; Run retries with back-off.
	Failed
)

func (s RegistrationState) String() string {
	switch s {
	case Unregistered:
		return "unregistered"
	case Registering:
		return "registering"
	case Registered:
		return "registered"
	case Failed:
		return "failed"
	}
	return "RegistrationState(" + strconv.Itoa(int(s)) + ")"
}

// RegistrationStatus is a snapshot of a Registration.
type RegistrationStatus struct {
	State     RegistrationState
	Expires   time.Time // when the current binding expires; zero unless Registered
	LastError string    // error of the last failed attempt; cleared by a success
	Failures  int       // consecutive failed attempts; reset by a success
}

// RegistrationClock is the time source of a Registration. Tests substitute a
// fake one with WithRegistrationClock.
type RegistrationClock interface {
	Now() time.Time
	NewTimer(d time.Duration) RegistrationTimer
}

// RegistrationTimer is the timer a RegistrationClock creates; it behaves
// like *time.Timer.
type RegistrationTimer interface {
	C() <-chan time.Time
	Stop() bool
}

type regSystemClock struct{}

func (regSystemClock) Now() time.Time { return time.Now() }

func (regSystemClock) NewTimer(d time.Duration) RegistrationTimer {
	return regSystemTimer{time.NewTimer(d)}
}

type regSystemTimer struct{ t *time.Timer }

func (t regSystemTimer) C() <-chan time.Time { return t.t.C }
func (t regSystemTimer) Stop() bool          { return t.t.Stop() }

// RegistrationOption customises a Registration.
type RegistrationOption func(*Registration)

// WithRegistrationLogger sets the logger (default slog.Default()). The
// attributes component=register and trunk=<Trunk> are added.
func WithRegistrationLogger(l *slog.Logger) RegistrationOption {
	return func(r *Registration) {
		if l != nil {
			r.log = l
		}
	}
}

// WithRegistrationClock replaces the wall clock used for refresh and retry
// scheduling (for tests).
func WithRegistrationClock(c RegistrationClock) RegistrationOption {
	return func(r *Registration) {
		if c != nil {
			r.clock = c
		}
	}
}

// WithRegistrationStatusFunc installs a callback called, from Run's
// goroutine and without locks held, after every status change. It must not
// block; calling Status from it is fine.
func WithRegistrationStatusFunc(f func(RegistrationStatus)) RegistrationOption {
	return func(r *Registration) { r.onStatus = f }
}

// WithRegistrationBackoff sets the retry back-off: the n-th consecutive
// failure waits base·2^(n-1), capped at max, jittered to [d/2, d].
// Non-positive values keep the defaults.
func WithRegistrationBackoff(base, max time.Duration) RegistrationOption {
	return func(r *Registration) {
		if base > 0 {
			r.backoffBase = base
		}
		if max > 0 {
			r.backoffMax = max
		}
	}
}

// WithRegistrationUnregisterTimeout bounds the un-REGISTER sent on
// shutdown (default 2 s).
func WithRegistrationUnregisterTimeout(d time.Duration) RegistrationOption {
	return func(r *Registration) {
		if d > 0 {
			r.unregisterTimeout = d
		}
	}
}

// withRegistrationJitter replaces the [0,1) random source (tests).
func withRegistrationJitter(f func() float64) RegistrationOption {
	return func(r *Registration) { r.jitter = f }
}

// withRegistrationDo replaces the transaction function (tests).
func withRegistrationDo(f func(context.Context, *sipmsg.Request) (*sipmsg.Response, error)) RegistrationOption {
	return func(r *Registration) { r.do = f }
}

// Registration keeps one contact registered with a registrar. Create it with
// NewRegistration and drive it with Run.
type Registration struct {
	cfg               RegistrationConfig
	log               *slog.Logger
	clock             RegistrationClock
	onStatus          func(RegistrationStatus)
	jitter            func() float64
	do                func(context.Context, *sipmsg.Request) (*sipmsg.Response, error)
	backoffBase       time.Duration
	backoffMax        time.Duration
	unregisterTimeout time.Duration

	registrar sipmsg.Uri
	aor       sipmsg.Uri
	contact   sipmsg.Uri
	transport string // "UDP", "TCP" or "TLS"
	username  string

	// Constant for the life of the Registration (RFC 3261 §10.2.4).
	callID  string
	fromTag string

	running atomic.Bool

	// Owned by the Run goroutine.
	cseq       uint32
	expiresSec uint32    // requested expiry; raised by 423 Min-Expires
	boundUntil time.Time // expiry of the last granted binding
	uncertain  bool      // last attempt had no definitive answer: a binding may exist

	mu     sync.Mutex
	status RegistrationStatus
}

// NewRegistration validates cfg and returns a Registration that sends its
// requests through client. Configuration errors wrap the ErrRegistration*
// sentinels of register_errors.go.
func NewRegistration(client *sipgo.Client, cfg RegistrationConfig, opts ...RegistrationOption) (*Registration, error) {
	r := &Registration{
		cfg:               cfg,
		log:               slog.Default(),
		clock:             regSystemClock{},
		jitter:            rand.Float64,
		backoffBase:       DefaultRegistrationBackoffBase,
		backoffMax:        DefaultRegistrationBackoffMax,
		unregisterTimeout: DefaultUnregisterTimeout,
		fromTag:           sipmsg.GenerateTagN(16),
		cseq:              rand.Uint32N(1 << 15),
	}
	for _, o := range opts {
		o(r)
	}
	if r.do == nil {
		if client == nil {
			return nil, ErrRegistrationNoClient
		}
		r.do = func(ctx context.Context, req *sipmsg.Request) (*sipmsg.Response, error) {
			return client.Do(ctx, req)
		}
	}
	if r.backoffMax < r.backoffBase {
		r.backoffMax = r.backoffBase
	}
	r.log = r.log.With("component", "register", "trunk", cfg.Trunk)

	if err := sipmsg.ParseUri(strings.TrimSpace(cfg.Registrar), &r.registrar); err != nil || !regIsSIPURI(r.registrar) {
		return nil, fmt.Errorf("%w: %q", ErrRegistrationRegistrar, cfg.Registrar)
	}
	// RFC 3261 §10.2: the Request-URI names the domain, without userinfo.
	r.registrar.User, r.registrar.Password = "", ""
	r.registrar.Headers = nil

	if err := sipmsg.ParseUri(strings.TrimSpace(cfg.AOR), &r.aor); err != nil || !regIsSIPURI(r.aor) {
		return nil, fmt.Errorf("%w: %q", ErrRegistrationAOR, cfg.AOR)
	}
	// To/From carry the AOR without port, params or headers.
	r.aor.Password, r.aor.UriParams, r.aor.Headers = "", nil, nil

	switch tp := strings.ToLower(strings.TrimSpace(cfg.Transport)); tp {
	case "udp", "tcp", "tls":
		r.transport = strings.ToUpper(tp)
	case "":
		r.transport = "UDP"
		if v, ok := r.registrar.UriParams.Get("transport"); ok {
			r.transport = strings.ToUpper(v)
		} else if r.registrar.Scheme == "sips" {
			r.transport = "TLS"
		}
		if r.transport != "UDP" && r.transport != "TCP" && r.transport != "TLS" {
			return nil, fmt.Errorf("%w: registrar transport %q", ErrRegistrationTransport, r.transport)
		}
	default:
		return nil, fmt.Errorf("%w: %q", ErrRegistrationTransport, cfg.Transport)
	}

	contact := strings.TrimSpace(cfg.Contact)
	if contact == "" {
		return nil, fmt.Errorf("%w: empty", ErrRegistrationContact)
	}
	lc := strings.ToLower(contact)
	if !strings.HasPrefix(lc, "sip:") && !strings.HasPrefix(lc, "sips:") {
		if !strings.Contains(contact, "@") && r.aor.User != "" {
			contact = r.aor.User + "@" + contact
		}
		contact = "sip:" + contact
	}
	if err := sipmsg.ParseUri(contact, &r.contact); err != nil || !regIsSIPURI(r.contact) {
		return nil, fmt.Errorf("%w: %q", ErrRegistrationContact, cfg.Contact)
	}
	if _, ok := r.contact.UriParams.Get("transport"); !ok && r.transport != "UDP" {
		if r.contact.UriParams == nil {
			r.contact.UriParams = sipmsg.NewParams()
		}
		r.contact.UriParams.Add("transport", strings.ToLower(r.transport))
	}

	exp := cfg.Expires
	if exp == 0 {
		exp = DefaultRegistrationExpires
	}
	if exp < time.Second || exp/time.Second > registrationMaxExpiresSec {
		return nil, fmt.Errorf("%w: %v", ErrRegistrationExpires, cfg.Expires)
	}
	r.expiresSec = uint32(exp / time.Second)

	r.username = cfg.Username
	if r.username == "" {
		r.username = r.aor.User
	}
	if r.username == "" && cfg.Password != "" {
		return nil, ErrRegistrationUsername
	}

	id, err := uuid.NewRandom()
	if err != nil {
		return nil, fmt.Errorf("sip: registration call-id: %w", err)
	}
	r.callID = id.String()
	return r, nil
}

func regIsSIPURI(u sipmsg.Uri) bool {
	return (u.Scheme == "sip" || u.Scheme == "sips") && u.Host != "" && !u.Wildcard
}

// Status returns a snapshot of the registration status. Safe for concurrent
// use.
func (r *Registration) Status() RegistrationStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status
}

func (r *Registration) setStatus(s RegistrationStatus) {
	r.mu.Lock()
	changed := s != r.status
	r.status = s
	r.mu.Unlock()
	if changed && r.onStatus != nil {
		r.onStatus(s)
	}
}

// Run registers, refreshes before the granted expiry, retries failures with
// exponential back-off and jitter, and when ctx is cancelled sends an
// un-REGISTER (Expires: 0, bounded by the unregister timeout) if a binding
// may exist, then returns nil. It starts no goroutines of its own. It
// returns ErrRegistrationRunning if this Registration is already running.
func (r *Registration) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return ErrRegistrationRunning
	}
	defer r.running.Store(false)

	r.log.Info("registration started", "registrar", r.registrar.String(), "aor", r.aor.String(),
		"contact", r.contact.String(), "transport", r.transport, "expires", time.Duration(r.expiresSec)*time.Second)
	for ctx.Err() == nil {
		delay := r.attempt(ctx)
		if ctx.Err() != nil {
			break
		}
		r.log.Debug("next REGISTER scheduled", "in", delay)
		t := r.clock.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C():
		}
	}
	r.unregister(ctx)
	return nil
}

// attempt sends one REGISTER (with its auth and 423 follow-ups), updates the
// status and returns how long to wait before the next one.
func (r *Registration) attempt(ctx context.Context) time.Duration {
	start := r.clock.Now()
	prev := r.Status()
	if prev.State != Registered {
		r.setStatus(RegistrationStatus{State: Registering, LastError: prev.LastError, Failures: prev.Failures})
	}
	r.uncertain = true
	granted, retryAfter, err := r.exchange(ctx, r.expiresSec)
	if err != nil && ctx.Err() != nil {
		// Shutting down: leave the status alone, Run unregisters.
		return 0
	}
	now := r.clock.Now()
	if err == nil {
		r.uncertain = false
		r.boundUntil = start.Add(granted)
		r.setStatus(RegistrationStatus{State: Registered, Expires: r.boundUntil})
		if prev.State != Registered {
			r.log.Info("registered", "expires_in", granted, "after_failures", prev.Failures)
		} else {
			r.log.Debug("registration refreshed", "expires_in", granted)
		}
		delay := start.Add(registrationRefreshDelay(granted, r.jitter())).Sub(now)
		return max(delay, 0)
	}

	transient := errors.Is(err, ErrRegistrarUnavailable)
	r.uncertain = transient
	failures := prev.Failures + 1
	delay := registrationBackoff(failures, r.backoffBase, r.backoffMax, r.jitter())
	if retryAfter > delay {
		delay = min(retryAfter, r.backoffMax)
	}
	next := RegistrationStatus{State: Failed, LastError: err.Error(), Failures: failures}
	if transient && prev.State == Registered && now.Before(r.boundUntil) {
		// The binding is still valid: stay Registered and retry, at the
		// latest when it lapses.
		next.State, next.Expires = Registered, r.boundUntil
		delay = min(delay, r.boundUntil.Sub(now))
		r.log.Warn("registration refresh failed, binding still valid", "error", err,
			"failures", failures, "retry_in", delay, "binding_expires_in", r.boundUntil.Sub(now))
	} else {
		r.log.Warn("registration failed", "error", err, "failures", failures, "retry_in", delay)
	}
	r.setStatus(next)
	return delay
}

// unregister removes our binding if one may exist, then marks the status
// Unregistered.
func (r *Registration) unregister(parent context.Context) {
	st := r.Status()
	if !r.uncertain && !r.clock.Now().Before(r.boundUntil) {
		r.setStatus(RegistrationStatus{State: Unregistered, LastError: st.LastError, Failures: st.Failures})
		r.log.Info("registration stopped")
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), r.unregisterTimeout)
	defer cancel()
	_, _, err := r.exchange(ctx, 0)
	r.boundUntil, r.uncertain = time.Time{}, false
	next := RegistrationStatus{State: Unregistered, LastError: st.LastError, Failures: st.Failures}
	if err != nil {
		next.LastError = "unregister: " + err.Error()
		r.log.Warn("un-REGISTER failed; the registrar keeps the binding until it expires", "error", err)
	} else {
		r.log.Info("unregistered")
	}
	r.setStatus(next)
}

// exchange runs one REGISTER attempt asking for expires seconds: it answers
// digest challenges and 423 Interval Too Brief. It returns the granted
// expiry on success, or the error and any Retry-After.
func (r *Registration) exchange(ctx context.Context, expires uint32) (granted, retryAfter time.Duration, err error) {
	var auths []registrationAuth
	challenges, briefs := 0, 0
	for {
		req := r.newRequest(expires, auths)
		r.log.Debug("sending REGISTER", "cseq", r.cseq, "expires", expires, "auth", len(auths) > 0)
		res, err := r.do(ctx, req)
		if err != nil {
			return 0, 0, fmt.Errorf("%w: REGISTER transaction: %w", ErrRegistrarUnavailable, err)
		}
		r.log.Debug("REGISTER response", "cseq", r.cseq, "status", res.StatusCode, "reason", res.Reason)
		code := res.StatusCode
		switch {
		case code >= 200 && code < 300:
			if expires == 0 {
				return 0, 0, nil
			}
			g := registrationGranted(res, r.contact, expires)
			if g == 0 {
				return 0, 0, fmt.Errorf("%w: %d %s granted no expiry for our contact", ErrRegistrationRejected, code, res.Reason)
			}
			return time.Duration(g) * time.Second, 0, nil

		case code == sipmsg.StatusUnauthorized || code == sipmsg.StatusProxyAuthRequired:
			challenges++
			if r.cfg.Password == "" {
				return 0, 0, fmt.Errorf("%w: %d %s", ErrRegistrationNoCredentials, code, res.Reason)
			}
			a, stale, err := r.answerChallenge(res, req)
			if err != nil {
				return 0, 0, err
			}
			if (challenges > 1 && !stale) || challenges > registrationMaxChallenges {
				return 0, 0, fmt.Errorf("%w: %d %s for user %q", ErrRegistrationAuthFailed, code, res.Reason, r.username)
			}
			auths = a.replaceIn(auths)

		case code == 423: // Interval Too Brief
			briefs++
			minExp, ok := regLeadingUint(regHeaderValue(res, "Min-Expires"))
			if !ok || minExp <= uint64(expires) || minExp > registrationMaxExpiresSec || briefs > registrationMax423 {
				return 0, 0, fmt.Errorf("%w: 423 with Min-Expires %q for expires %d",
					ErrRegistrationIntervalTooBrief, regHeaderValue(res, "Min-Expires"), expires)
			}
			r.log.Info("registrar requires a longer expiry", "requested", expires, "min_expires", minExp)
			expires = uint32(minExp)
			r.expiresSec = expires

		default:
			ra, _ := regLeadingUint(regHeaderValue(res, "Retry-After"))
			retryAfter = time.Duration(min(ra, registrationMaxExpiresSec)) * time.Second
			if code == 408 || (code >= 500 && code < 600) {
				return 0, retryAfter, fmt.Errorf("%w: %d %s", ErrRegistrarUnavailable, code, res.Reason)
			}
			return 0, retryAfter, fmt.Errorf("%w: %d %s", ErrRegistrationRejected, code, res.Reason)
		}
	}
}

// newRequest builds a REGISTER with the next CSeq, the constant Call-ID and
// From tag, our Contact and the given credentials.
func (r *Registration) newRequest(expires uint32, auths []registrationAuth) *sipmsg.Request {
	req := sipmsg.NewRequest(sipmsg.REGISTER, *r.registrar.Clone())
	req.SetTransport(r.transport)

	from := &sipmsg.FromHeader{Address: *r.aor.Clone(), Params: sipmsg.NewParams()}
	from.Params.Add("tag", r.fromTag)
	to := &sipmsg.ToHeader{Address: *r.aor.Clone(), Params: sipmsg.NewParams()}
	callID := sipmsg.CallIDHeader(r.callID)
	r.cseq++
	cseq := &sipmsg.CSeqHeader{SeqNo: r.cseq, MethodName: sipmsg.REGISTER}
	maxFwd := sipmsg.MaxForwardsHeader(70)
	contact := &sipmsg.ContactHeader{Address: *r.contact.Clone()}
	exp := sipmsg.ExpiresHeader(expires)

	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&callID)
	req.AppendHeader(cseq)
	req.AppendHeader(&maxFwd)
	req.AppendHeader(contact)
	req.AppendHeader(&exp)
	for _, a := range auths {
		req.AppendHeader(sipmsg.NewHeader(a.header, a.value))
	}
	req.SetBody(nil)
	return req
}

// registrationAuth is one Authorization/Proxy-Authorization value.
type registrationAuth struct {
	header string // "Authorization" or "Proxy-Authorization"
	realm  string
	value  string
}

// replaceIn puts a into auths, replacing credentials for the same header
// and realm.
func (a registrationAuth) replaceIn(auths []registrationAuth) []registrationAuth {
	for i, o := range auths {
		if o.header == a.header && o.realm == a.realm {
			auths[i] = a
			return auths
		}
	}
	return append(auths, a)
}

// answerChallenge computes credentials for the first digest challenge of a
// 401/407 we can answer.
func (r *Registration) answerChallenge(res *sipmsg.Response, req *sipmsg.Request) (registrationAuth, bool, error) {
	chName, authName := "WWW-Authenticate", "Authorization"
	if res.StatusCode == sipmsg.StatusProxyAuthRequired {
		chName, authName = "Proxy-Authenticate", "Proxy-Authorization"
	}
	hdrs := res.GetHeaders(chName)
	if len(hdrs) == 0 {
		return registrationAuth{}, false, fmt.Errorf("%w: %d without %s", ErrRegistrationChallenge, res.StatusCode, chName)
	}
	var lastErr error
	for _, h := range hdrs {
		chal, err := digest.ParseChallenge(h.Value())
		if err != nil {
			lastErr = err
			continue
		}
		chal.Algorithm = strings.ToUpper(chal.Algorithm)
		for i := range chal.QOP {
			chal.QOP[i] = strings.TrimSpace(chal.QOP[i])
		}
		if !digest.CanDigest(chal) {
			lastErr = fmt.Errorf("unsupported algorithm %q or qop %q", chal.Algorithm, chal.QOP)
			continue
		}
		cred, err := digest.Digest(chal, digest.Options{
			Method:   string(sipmsg.REGISTER),
			URI:      req.Recipient.String(),
			Username: r.username,
			Password: r.cfg.Password,
		})
		if err != nil {
			lastErr = err
			continue
		}
		return registrationAuth{header: authName, realm: chal.Realm, value: cred.String()}, chal.Stale, nil
	}
	return registrationAuth{}, false, fmt.Errorf("%w: %w", ErrRegistrationChallenge, lastErr)
}

// registrationGranted returns the expiry, in seconds, the registrar granted
// our contact: its Contact expires param in the 2xx, else the Expires
// header, else what we asked for.
func registrationGranted(res *sipmsg.Response, ours sipmsg.Uri, requested uint32) uint64 {
	for _, h := range res.GetHeaders("Contact") {
		var c sipmsg.ContactHeader
		if ch, ok := h.(*sipmsg.ContactHeader); ok {
			c = *ch
		} else if _, err := sipmsg.ParseAddressValue(h.Value(), &c.Address, &c.Params); err != nil {
			continue
		}
		if !regSameContactURI(c.Address, ours) {
			continue
		}
		if v, ok := c.Params.Get("expires"); ok {
			if n, ok := regLeadingUint(v); ok {
				return min(n, registrationMaxExpiresSec)
			}
		}
		break
	}
	if n, ok := regLeadingUint(regHeaderValue(res, "Expires")); ok {
		return min(n, registrationMaxExpiresSec)
	}
	return uint64(requested)
}

// regSameContactURI compares the parts of two contact URIs that identify a
// binding: scheme, user, host and port (default port filled in).
func regSameContactURI(a, b sipmsg.Uri) bool {
	port := func(u sipmsg.Uri) int {
		if u.Port != 0 {
			return u.Port
		}
		if u.Scheme == "sips" {
			return 5061
		}
		if tp, _ := u.UriParams.Get("transport"); strings.EqualFold(tp, "tls") {
			return 5061
		}
		return 5060
	}
	return strings.EqualFold(a.Scheme, b.Scheme) && a.User == b.User &&
		strings.EqualFold(strings.Trim(a.Host, "[]"), strings.Trim(b.Host, "[]")) && port(a) == port(b)
}

func regHeaderValue(res *sipmsg.Response, name string) string {
	if h := res.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}

// regLeadingUint parses the decimal number a header value starts with (as in
// "120" or "120;duration=60").
func regLeadingUint(s string) (uint64, bool) {
	s = strings.TrimSpace(s)
	end := 0
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	if end == 0 {
		return 0, false
	}
	n, err := strconv.ParseUint(s[:end], 10, 64)
	if err != nil {
		return math.MaxUint64, true
	}
	return n, true
}

// registrationRefreshDelay is when to refresh a binding granted for
// granted, for jitter j in [0,1): between 50% and 80% of it.
func registrationRefreshDelay(granted time.Duration, j float64) time.Duration {
	j = min(max(j, 0), 1)
	frac := registrationRefreshMin + (registrationRefreshMax-registrationRefreshMin)*j
	return time.Duration(float64(granted) * frac)
}

// registrationBackoff is the wait after the n-th consecutive failure
// (n >= 1): d = base·2^(n-1) capped at max, jittered to d/2 + j·d/2.
func registrationBackoff(failures int, base, ceiling time.Duration, j float64) time.Duration {
	j = min(max(j, 0), 1)
	d := base
	for i := 1; i < failures && d < ceiling; i++ {
		d *= 2
	}
	d = min(d, ceiling)
	return d/2 + time.Duration(float64(d/2)*j)
}
