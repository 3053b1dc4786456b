package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"

	"github.com/setbridge/setbridge/media"
	"github.com/setbridge/setbridge/media/dtmf"
)

// Dial-out errors.
var (
	// ErrNoOutbound means the trunk does not exist or has no outbound settings.
	ErrNoOutbound = errors.New("trunk cannot place calls")
	// ErrBadDialRequest means a dial request lacks a room or number, or
	// has digits that cannot be sent.
	ErrBadDialRequest = errors.New("bad dial request")
)

// Dial-out call states, in DialEvent.State.
const (
	DialTrying     = "trying"      // the INVITE is sent
	DialRinging    = "ringing"     // 180 (or a 18x without SDP)
	DialEarlyMedia = "early_media" // a 18x with SDP: the far end's media flows
	DialAnswered   = "answered"    // 200: the callee is a participant
	DialBusy       = "busy"        // 486 or 600
	DialNoAnswer   = "no_answer"   // the ring timeout passed (CANCEL sent)
	DialRejected   = "rejected"    // any other final 3xx-6xx; Code says which
	DialFailed     = "failed"      // no response, transport error, no media
	DialEnded      = "ended"       // an answered (or cancelled) call ended
)

// Digit modes of DialRequest.DigitMode.
const (
	DigitsRFC4733 = "rfc4733"
	DigitsInband  = "inband"
	DigitsInfo    = "info"
)

// DialRequest is one call to place.
type DialRequest struct {
	// Room the callee joins when it answers.
	Room string
	// Trunk names the trunk whose outbound settings place the call.
	Trunk string
	// Number is the Request-URI user.
	Number string
	// CallerID is the From user (default: the trunk's caller_id, else
	// "setbridge"); DisplayName its display name, also the participant's name.
	CallerID, DisplayName string
	// Digits are sent once the call is answered: 0-9 * # A-D, and 'w' for
	// a pause of 500 ms (a connector enters a conference number and PIN).
	Digits string
	// DigitMode is "rfc4733" (the default; in-band when the answer has no
	// telephone-event), "inband" (tones in the audio) or "info" (SIP INFO,
	// application/dtmf-relay).
	DigitMode string
	// RingTimeout ends an unanswered call with CANCEL (default 60 s).
	RingTimeout time.Duration
}

// DialEvent is a change of a dial-out call's state.
type DialEvent struct {
	CallID string
	State  string
	// Code is the SIP status that caused the state (0 if none); Reason its
	// reason phrase or why we ended the call.
	Code   int
	Reason string
	At     time.Time
}

// terminal reports whether no event follows e.
func (e DialEvent) terminal() bool {
	switch e.State {
	case DialBusy, DialNoAnswer, DialRejected, DialFailed, DialEnded:
		return true
	}
	return false
}

// pauseDuration is what a 'w' in DialRequest.Digits waits.
const pauseDuration = 500 * time.Millisecond

// defaultRingTimeout applies when DialRequest.RingTimeout is zero.
const defaultRingTimeout = 60 * time.Second

// errRingTimeout and errHungUp are the causes that end a call's set-up.
var (
	errRingTimeout = errors.New("ring timeout")
	errHungUp      = errors.New("hung up")
)

// Outbound is a call placed by Dial.
type Outbound struct {
	s      *Server
	log    *slog.Logger
	callID string
	req    DialRequest
	trunk  *Trunk
	client *sipgo.Client
	dialog *sipgo.DialogClientSession
	leg    *rtpLeg
	player *digitPlayer
	local  netip.Addr
	events *eventQueue

	cancelSetup context.CancelCauseFunc
	state       atomic.Value   // string
	done        chan struct{}  // closed when the call ends
	wg          sync.WaitGroup // the set-up and INFO goroutines

	mu         sync.Mutex
	id         string     // dialog id, UAC view; guarded by mu; "" until answered
	dir        Direction  // our direction; guarded by mu
	sdpVersion uint64     // guarded by mu
	member     Membership // guarded by mu
	started    time.Time  // guarded by mu
	answered   bool       // guarded by mu
	endOnce    sync.Once
}

// ID returns the call's SIP Call-ID.
func (o *Outbound) ID() string { return o.callID }

// State returns the call's current state (one of the Dial* constants).
func (o *Outbound) State() string { return o.state.Load().(string) }

// Done is closed when the call has ended (or failed to connect).
func (o *Outbound) Done() <-chan struct{} { return o.done }

// Hangup cancels the call if it is not answered yet, else sends BYE; the
// last event is "ended" (or the outcome that raced it). It returns once
// the call has been released.
func (o *Outbound) Hangup() {
	o.cancelSetup(errHungUp)
	o.mu.Lock()
	answered := o.answered
	o.mu.Unlock()
	if answered {
		o.bye("hangup")
	}
	o.wg.Wait()
}

// dialouts are a server's outbound calls.
type dialouts struct {
	mu    sync.Mutex
	calls map[string]*Outbound // answered calls by dialog id (UAC view); guarded by mu
	all   map[*Outbound]struct{}
	wg    sync.WaitGroup // every call's event goroutine
}

func newDialouts() *dialouts {
	return &dialouts{calls: map[string]*Outbound{}, all: map[*Outbound]struct{}{}}
}

func (d *dialouts) hangupAll() {
	d.mu.Lock()
	all := make([]*Outbound, 0, len(d.all))
	for o := range d.all {
		all = append(all, o)
	}
	d.mu.Unlock()
	var wg sync.WaitGroup
	for _, o := range all {
		wg.Add(1)
		go func() { defer wg.Done(); o.Hangup() }()
	}
	wg.Wait()
	d.wg.Wait()
}

// dialoutFirst hands requests within an outbound call's dialog to it, and
// everything else to next.
func (s *Server) dialoutFirst(next sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		id, err := sipmsg.DialogIDFromRequestUAC(req)
		if err == nil {
			s.dialouts.mu.Lock()
			o := s.dialouts.calls[id]
			s.dialouts.mu.Unlock()
			if o != nil {
				o.handle(req, tx)
				return
			}
		}
		next(req, tx)
	}
}

// Dial places a call through a trunk's outbound settings. It returns once
// the INVITE is sent; on receives every state change, in order, on a
// goroutine of its own (it may block without stalling the SIP stack).
// Cancelling ctx before the call is answered cancels it; after the
// answer the call lives until Hangup, a BYE, or the server's shutdown.
func (s *Server) Dial(ctx context.Context, req DialRequest, on func(DialEvent)) (*Outbound, error) {
	if s.draining.Load() {
		return nil, ErrDraining
	}
	trunk := s.trunk(req.Trunk)
	if trunk == nil || trunk.Outbound == nil {
		return nil, fmt.Errorf("%w: %q", ErrNoOutbound, req.Trunk)
	}
	if err := req.check(); err != nil {
		return nil, err
	}
	if req.RingTimeout <= 0 {
		req.RingTimeout = defaultRingTimeout
	}
	ob := trunk.Outbound
	tp := strings.ToLower(orDefault(ob.Transport, "udp"))
	next := orDefault(ob.Proxy, ob.Host)
	local := s.localAddrFor(next)

	// Requests leave from the listening socket (as REGISTERs do), so the
	// far end's in-dialog requests reach the Contact.
	opts := []sipgo.ClientOption{sipgo.WithClientHostname(local.String()), sipgo.WithClientLogger(quietLogger(s.log))}
	if a, ok := s.addrs[tp]; ok && tp == "udp" {
		opts = append(opts, sipgo.WithClientConnectionAddr(a.String()))
	}
	client, err := sipgo.NewClient(s.ua, opts...)
	if err != nil {
		return nil, fmt.Errorf("dial client: %w", err)
	}

	neg := negotiated{Codec: trunk.codecs[0], PT: trunk.codecs[0].PayloadType, DTMFPT: int(media.TelephoneEvent.PayloadType), Ptime: 20}
	o := &Outbound{s: s, req: req, trunk: trunk, client: client, local: local, done: make(chan struct{}),
		dir: SendRecv, sdpVersion: 1, started: s.clock.Now()}
	o.state.Store(DialTrying)
	leg, err := newRTPLeg(legConfig{log: s.log, clock: s.clock, ports: s.ports, neg: neg, roomRate: s.conf.Rate(),
		jitterDepth: s.cfg.JitterDepth, dtmfMode: trunk.DTMF, onDigit: o.digit, metrics: s.metrics})
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	o.leg = leg
	o.player = newDigitPlayer(leg, s.conf.Rate())

	invite := o.newInvite(ob, tp)
	o.callID = invite.CallID().Value()
	o.log = s.log.With("call_id", o.callID, "trunk", trunk.Name, "room", req.Room, "direction", "outbound")
	o.events = newEventQueue(on)

	port := s.portFor(tp)
	dua := &sipgo.DialogUA{Client: client, ContactHDR: sipmsg.ContactHeader{
		Address: sipmsg.Uri{Scheme: "sip", User: "setbridge", Host: local.String(), Port: port}, Params: transportParam(tp)}}
	setupCtx, cancel := context.WithCancelCause(ctx)
	o.cancelSetup = cancel
	dlg, err := dua.WriteInvite(setupCtx, invite)
	if err != nil {
		cancel(nil)
		leg.close()
		return nil, fmt.Errorf("dial: send invite: %w", err)
	}
	o.dialog = dlg
	s.dialouts.mu.Lock()
	s.dialouts.all[o] = struct{}{}
	s.dialouts.mu.Unlock()
	s.dialouts.wg.Add(1)
	go func() { defer s.dialouts.wg.Done(); o.events.run() }()
	o.log.Info("dialling", "number", req.Number)
	o.emit(DialTrying, 0, "")

	ring := s.clock.AfterFunc(req.RingTimeout, func() { cancel(errRingTimeout) })
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		defer ring.Stop()
		o.setup(setupCtx)
	}()
	return o, nil
}

func (s *Server) trunk(name string) *Trunk {
	for i := range s.cfg.Trunks {
		if s.cfg.Trunks[i].Name == name {
			return &s.cfg.Trunks[i]
		}
	}
	return nil
}

func (r DialRequest) check() error {
	if r.Room == "" || r.Number == "" {
		return fmt.Errorf("%w: a room and a number are needed", ErrBadDialRequest)
	}
	if strings.ContainsAny(r.Number, "@<>;\" \t\r\n") {
		return fmt.Errorf("%w: number %q", ErrBadDialRequest, r.Number)
	}
	if strings.ContainsAny(r.CallerID+r.DisplayName, "@<>;\"\r\n") {
		return fmt.Errorf("%w: caller id or display name with reserved characters", ErrBadDialRequest)
	}
	for _, d := range r.Digits {
		if _, ok := dtmf.DigitToCode(d); !ok && d != 'w' && d != 'W' {
			return fmt.Errorf("%w: digit %q", ErrBadDialRequest, d)
		}
	}
	switch r.DigitMode {
	case "", DigitsRFC4733, DigitsInband, DigitsInfo:
	default:
		return fmt.Errorf("%w: digit mode %q (rfc4733, inband, info)", ErrBadDialRequest, r.DigitMode)
	}
	return nil
}

// newInvite builds the INVITE with our offer; ob is the trunk's outbound
// settings, tp the transport.
func (o *Outbound) newInvite(ob *TrunkOutbound, tp string) *sipmsg.Request {
	host, port := splitHostPort(ob.Host)
	ruri := sipmsg.Uri{Scheme: "sip", User: o.req.Number, Host: host, Port: port, UriParams: sipmsg.NewParams()}
	if tp != "udp" {
		ruri.UriParams.Add("transport", tp)
	}
	inv := sipmsg.NewRequest(sipmsg.INVITE, ruri)
	inv.SetTransport(strings.ToUpper(tp))
	from := &sipmsg.FromHeader{DisplayName: o.req.DisplayName, Params: sipmsg.NewParams(),
		Address: sipmsg.Uri{Scheme: "sip", User: orDefault(o.req.CallerID, orDefault(ob.CallerID, "setbridge")), Host: orDefault(ob.FromDomain, host)}}
	from.Params.Add("tag", sipmsg.GenerateTagN(16))
	inv.AppendHeader(from)
	callID := sipmsg.CallIDHeader(sipmsg.GenerateTagN(24) + "@setbridge")
	inv.AppendHeader(&callID)
	inv.AppendHeader(&sipmsg.ToHeader{Address: sipmsg.Uri{Scheme: "sip", User: o.req.Number, Host: host, Port: port}, Params: sipmsg.NewParams()})
	if ob.Proxy != "" {
		ph, pp := splitHostPort(ob.Proxy)
		route := &sipmsg.RouteHeader{Address: sipmsg.Uri{Scheme: "sip", Host: ph, Port: pp, UriParams: sipmsg.NewParams()}}
		route.Address.UriParams.Add("lr", "")
		if tp != "udp" {
			route.Address.UriParams.Add("transport", tp)
		}
		inv.AppendHeader(route)
	}
	inv.AppendHeader(sipmsg.NewHeader("Allow", allowMethods))
	inv.AppendHeader(sipmsg.NewHeader("Content-Type", "application/sdp"))
	o.mu.Lock()
	inv.SetBody(o.sdpLocked(formatsFor(o.trunk.codecs, int(media.TelephoneEvent.PayloadType)), o.leg.neg.Ptime))
	o.mu.Unlock()
	return inv
}

func splitHostPort(hp string) (string, int) {
	h, p, err := net.SplitHostPort(hp)
	if err != nil {
		return strings.Trim(hp, "[]"), 0
	}
	var port int
	_, _ = fmt.Sscanf(p, "%d", &port)
	return h, port
}

// sdpLocked builds our next session description; o.mu is held.
func (o *Outbound) sdpLocked(formats []rtpFormat, ptime int) []byte {
	l := localMedia{SessionID: uint64(o.started.UnixNano()) & 0x7fffffffffff, Version: o.sdpVersion,
		Addr: netip.AddrPortFrom(o.local, uint16(o.leg.localPort())), Formats: formats, Ptime: ptime, Direction: o.dir}
	o.sdpVersion++
	return l.marshal()
}

// setup waits for the final answer to the INVITE and, on 200, joins the
// room; it reports every provisional response on the way.
func (o *Outbound) setup(ctx context.Context) {
	ob := o.trunk.Outbound
	early := false
	challenges := 0
	err := o.dialog.WaitAnswer(ctx, sipgo.AnswerOptions{Username: ob.Username, Password: ob.Password,
		OnResponse: func(res *sipmsg.Response) error {
			switch {
			case res.StatusCode == 401 || res.StatusCode == 407:
				// One authenticated retry: a second challenge means the
				// credentials were refused, unless it only says the nonce
				// went stale (RFC 3261 22.2, RFC 2617 3.2.1).
				if challenges++; challenges > 1 && !strings.Contains(strings.ToLower(challengeOf(res)), "stale=true") {
					return &sipgo.ErrDialogResponse{Res: res}
				}
				if ob.Realm != "" && !strings.Contains(challengeOf(res), `realm="`+ob.Realm+`"`) {
					return fmt.Errorf("challenge from realm other than %q", ob.Realm)
				}
			case res.StatusCode > 100 && res.StatusCode < 200:
				if len(res.Body()) > 0 && !early {
					if err := o.takeAnswer(res.Body()); err != nil {
						o.log.Warn("bad early media sdp", "error", err)
					} else {
						early = true
						o.emit(DialEarlyMedia, res.StatusCode, res.Reason)
						return nil
					}
				}
				if !early && o.State() != DialRinging {
					o.emit(DialRinging, res.StatusCode, res.Reason)
				}
			}
			return nil
		}})
	if err != nil {
		o.setupFailed(ctx, err)
		return
	}
	res := o.dialog.InviteResponse
	if err := o.takeAnswer(res.Body()); err != nil && !early {
		o.log.Warn("call hung up: unusable sdp answer", "error", err)
		_ = o.dialog.Ack(context.Background())
		o.bye("bad sdp answer")
		return
	}
	if err := o.dialog.Ack(ctx); err != nil {
		o.log.Warn("ack failed", "error", err)
	}
	o.mu.Lock()
	o.id, o.answered = o.dialog.ID, true
	o.mu.Unlock()
	o.s.dialouts.mu.Lock()
	o.s.dialouts.calls[o.dialog.ID] = o
	o.s.dialouts.mu.Unlock()
	if context.Cause(ctx) == errHungUp {
		o.bye("hangup")
		return
	}

	o.startDigits()
	o.mu.Lock()
	select {
	case <-o.done: // hung up meanwhile
		o.mu.Unlock()
		return
	default:
	}
	m, err := o.s.conf.Join(o.req.Room, o.player, Caller{Number: o.req.Number, Name: o.req.DisplayName, CallID: o.callID,
		Hangup: func(string) { go o.Hangup() }})
	if err == nil {
		o.member = m
		o.leg.sending.Store(o.dir.weSend())
	}
	o.mu.Unlock()
	if err != nil {
		o.log.Error("call hung up: join failed", "error", err)
		o.bye("join failed")
		return
	}
	o.s.metrics.answered.Inc()
	o.log.Info("call answered", "codec", o.leg.neg.Codec.Name)
	o.emit(DialAnswered, res.StatusCode, res.Reason)
	if o.req.DigitMode == DigitsInfo && o.req.Digits != "" {
		o.wg.Add(1)
		go func() { defer o.wg.Done(); o.sendInfoDigits() }()
	}
}

func challengeOf(res *sipmsg.Response) string {
	for _, n := range []string{"WWW-Authenticate", "Proxy-Authenticate"} {
		if h := res.GetHeader(n); h != nil {
			return h.Value()
		}
	}
	return ""
}

// setupFailed reports why the INVITE got no 2xx and releases the call.
func (o *Outbound) setupFailed(ctx context.Context, err error) {
	// A 200 that crossed our CANCEL still makes a dialog: end it.
	if res := o.dialog.InviteResponse; res != nil && res.IsSuccess() {
		if id, e := sipmsg.DialogIDFromResponse(res); e == nil {
			o.dialog.ID = id
			_ = o.dialog.Ack(context.Background())
			bctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
			_ = o.dialog.Bye(bctx)
			cancel()
		}
	}
	var de *sipgo.ErrDialogResponse
	switch cause := context.Cause(ctx); {
	case errors.As(err, &de):
		code, reason := de.Res.StatusCode, de.Res.Reason
		switch {
		case code == 486 || code == 600:
			o.finish(DialBusy, code, reason)
		case code == 408 || code == 487 && cause == errRingTimeout:
			o.finish(DialNoAnswer, code, reason)
		case code == 487:
			o.finish(DialEnded, code, reason)
		default:
			o.finish(DialRejected, code, reason)
		}
	case cause == errRingTimeout:
		o.finish(DialNoAnswer, 0, "ring timeout")
	case cause == errHungUp:
		o.finish(DialEnded, 0, "cancelled")
	case cause != nil:
		o.finish(DialEnded, 0, "cancelled: "+cause.Error())
	default:
		o.log.Warn("call failed", "error", err)
		o.finish(DialFailed, 0, err.Error())
	}
}

// takeAnswer applies the far end's SDP (early or final answer).
func (o *Outbound) takeAnswer(body []byte) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	rm, err := o.leg.takeAnswer(body, o.trunk.codecs)
	if err != nil {
		return err
	}
	o.dir = rm.Direction.answerTo()
	return nil
}

// startDigits queues the request's digits; they play from the first tick
// in the room.
func (o *Outbound) startDigits() {
	mode := o.req.DigitMode
	if mode == DigitsInfo || o.req.Digits == "" {
		return
	}
	if mode == "" || mode == DigitsRFC4733 {
		mode = DigitsRFC4733
		if o.leg.neg.DTMFPT < 0 {
			mode = DigitsInband
		}
	}
	o.player.queue(o.req.Digits, mode == DigitsInband)
}

// sendInfoDigits sends the digits as SIP INFO, one at a time.
func (o *Outbound) sendInfoDigits() {
	for _, r := range o.req.Digits {
		if r == 'w' || r == 'W' {
			if !o.sleep(pauseDuration) {
				return
			}
			continue
		}
		req := sipmsg.NewRequest(sipmsg.INFO, o.remoteTarget())
		req.AppendHeader(sipmsg.NewHeader("Content-Type", "application/dtmf-relay"))
		req.SetBody([]byte(fmt.Sprintf("Signal=%c\r\nDuration=%d\r\n", r, digitDuration/time.Millisecond)))
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
		res, err := o.dialog.Do(ctx, req)
		cancel()
		if err != nil || !res.IsSuccess() {
			o.log.Warn("info digit not accepted", "digit", string(r), "error", err)
			return
		}
		if !o.sleep(digitDuration + 100*time.Millisecond) {
			return
		}
	}
}

// sleep waits d on the server's clock; false if the call ended meanwhile.
func (o *Outbound) sleep(d time.Duration) bool {
	ch := make(chan struct{})
	t := o.s.clock.AfterFunc(d, func() { close(ch) })
	select {
	case <-ch:
		return true
	case <-o.done:
		t.Stop()
		return false
	}
}

func (o *Outbound) remoteTarget() sipmsg.Uri {
	if c := o.dialog.InviteResponse.Contact(); c != nil {
		return *c.Address.Clone()
	}
	return *o.dialog.InviteRequest.Recipient.Clone()
}

func (o *Outbound) digit(d dtmf.Digit) {
	o.s.metrics.digits.Inc()
	if o.s.onDigit != nil {
		o.s.onDigit(o.callID, d)
	}
}

// handle serves a request within the call's dialog.
func (o *Outbound) handle(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	switch req.Method {
	case sipmsg.BYE:
		if err := o.dialog.ReadBye(req, tx); err != nil {
			o.log.Debug("bye response failed", "error", err)
		}
		o.log.Info("call ended by the far end")
		o.finish(DialEnded, 0, "far end hung up")
	case sipmsg.INVITE, sipmsg.UPDATE:
		if req.Method == sipmsg.UPDATE && len(req.Body()) == 0 {
			respond(tx, req, 200, "OK")
			return
		}
		body, code, err := o.modify(req.Body())
		if err != nil {
			respond(tx, req, code, "Not Acceptable Here", sipmsg.NewHeader("Warning", `399 setbridge "`+err.Error()+`"`))
			return
		}
		res := sipmsg.NewSDPResponseFromRequest(req, body)
		res.AppendHeader(&sipmsg.ContactHeader{Address: sipmsg.Uri{Scheme: "sip", User: "setbridge", Host: o.local.String(),
			Port: o.s.portFor(req.Transport())}, Params: transportParam(req.Transport())})
		_ = tx.Respond(res)
	case sipmsg.ACK:
		// The ACK of a re-INVITE's 2xx: nothing to do.
	case sipmsg.INFO:
		ct := ""
		if h := req.ContentType(); h != nil {
			ct = h.Value()
		}
		if len(req.Body()) == 0 {
			respond(tx, req, 200, "OK")
			return
		}
		r, dur, err := dtmf.ParseInfo(ct, req.Body())
		if err != nil {
			respond(tx, req, 415, "Unsupported Media Type", sipmsg.NewHeader("Accept", "application/dtmf-relay, application/dtmf"))
			return
		}
		respond(tx, req, 200, "OK")
		o.digit(dtmf.Digit{Rune: r, Duration: dur, Start: o.s.clock.Now()})
	default:
		respond(tx, req, 200, "OK")
	}
}

// modify applies an offer within the dialog (hold, resume, a new
// address) and returns our answer; the codec stays the one in use.
func (o *Outbound) modify(body []byte) ([]byte, int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	cur := o.leg.neg
	if len(body) == 0 {
		return o.sdpLocked(answerFormats(cur), cur.Ptime), 200, nil
	}
	rm, err := parseSDP(body)
	if err != nil {
		return nil, 488, err
	}
	neg := negotiated{DTMFPT: -1}
	for _, f := range rm.Formats {
		switch {
		case strings.EqualFold(f.Name, cur.Codec.Name) && f.ClockRate == cur.Codec.ClockRate && neg.PT == 0 && neg.Codec.Name == "":
			neg.Codec, neg.PT, neg.Ptime = cur.Codec, f.PT, cur.Ptime
		case strings.EqualFold(f.Name, media.TelephoneEvent.Name) && neg.DTMFPT < 0:
			neg.DTMFPT = int(f.PT)
		}
	}
	if neg.Codec.Name == "" {
		return nil, 488, fmt.Errorf("%w: codec change mid-call", ErrNoCommonCodec)
	}
	if neg.PT != cur.PT || neg.DTMFPT != cur.DTMFPT {
		if err := o.leg.setCodec(neg); err != nil {
			return nil, 488, err
		}
	}
	prev := o.dir
	o.dir = rm.Direction.answerTo()
	if !rm.Addr.Addr().IsUnspecified() {
		if old := o.leg.remote.Load(); old == nil || *old != rm.Addr {
			o.leg.setRemote(rm.Addr, rm.RTCPAddr)
		}
	}
	if o.member != nil {
		o.leg.sending.Store(o.dir.weSend())
	}
	if prev != o.dir {
		o.log.Info("call direction changed", "from", prev, "to", o.dir)
	}
	return o.sdpLocked(answerFormats(neg), neg.Ptime), 200, nil
}

// bye sends BYE (if the call is still up) and ends the call.
func (o *Outbound) bye(reason string) {
	select {
	case <-o.done:
		return
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	if err := o.dialog.Bye(ctx); err != nil && !errors.Is(err, net.ErrClosed) {
		o.log.Debug("bye failed", "error", err)
	}
	o.finish(DialEnded, 0, reason)
}

// finish releases the call's media, room place and dialog, and reports
// the final state; only the first call counts.
func (o *Outbound) finish(state string, code int, reason string) {
	o.endOnce.Do(func() {
		o.cancelSetup(errHungUp)
		o.mu.Lock()
		member, id := o.member, o.id
		o.member = nil
		o.mu.Unlock()
		close(o.done)
		if member != nil {
			member.Leave()
		}
		o.leg.close()
		o.dialog.Close()
		o.s.dialouts.mu.Lock()
		if id != "" {
			delete(o.s.dialouts.calls, id)
		}
		delete(o.s.dialouts.all, o)
		o.s.dialouts.mu.Unlock()
		o.s.metrics.ended.WithLabelValues("dialout_" + state).Inc()
		o.log.Info("call released", "state", state, "code", code, "reason", reason)
		o.emit(state, code, reason)
	})
}

func (o *Outbound) emit(state string, code int, reason string) {
	o.state.Store(state)
	o.events.push(DialEvent{CallID: o.callID, State: state, Code: code, Reason: reason, At: o.s.clock.Now()})
}

// eventQueue delivers events in order on its own goroutine, so a slow
// listener never holds up the SIP stack or the media.
type eventQueue struct {
	on     func(DialEvent)
	mu     sync.Mutex
	queue  []DialEvent // guarded by mu
	wake   chan struct{}
	closed bool // a terminal event is queued; guarded by mu
}

func newEventQueue(on func(DialEvent)) *eventQueue {
	return &eventQueue{on: on, wake: make(chan struct{}, 1)}
}

func (q *eventQueue) push(e DialEvent) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.queue = append(q.queue, e)
	q.closed = e.terminal()
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// run delivers events until the terminal one.
func (q *eventQueue) run() {
	for {
		<-q.wake
		q.mu.Lock()
		batch := q.queue
		q.queue = nil
		q.mu.Unlock()
		for _, e := range batch {
			if q.on != nil {
				q.on(e)
			}
			if e.terminal() {
				return
			}
		}
	}
}
