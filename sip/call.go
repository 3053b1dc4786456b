package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"

	"github.com/setbridge/setbridge/ivr"
	"github.com/setbridge/setbridge/media"
	"github.com/setbridge/setbridge/media/dtmf"
)

// call is one answered (or answering) inbound call.
type call struct {
	s      *Server
	id     string // dialog id
	callID string
	log    *slog.Logger
	dialog *sipgo.DialogServerSession
	trunk  *Trunk
	room   string
	caller Caller
	leg    *rtpLeg
	local  netip.Addr

	mu             sync.Mutex
	sdpVersion     uint64       // guarded by mu
	remote         *remoteMedia // guarded by mu
	dir            Direction    // our direction; guarded by mu
	awaitingAnswer bool         // offer sent in 200, answer due in ACK; guarded by mu
	member         Membership   // guarded by mu; nil until in a room
	session        *ivr.Session // the IVR session, if the call went through it
	lobbyM         *lobbyMember // guarded by mu; set while in the lobby
	earlyCh        chan bool    // early-media IVR outcome: true joined, false refused
	sessionExpires time.Duration
	refresher      string      // "uac" or "uas"
	seTimer        media.Timer // guarded by mu
	watchdog       media.Timer // guarded by mu

	started      time.Time
	lastActivity atomic.Int64 // unix nanoseconds of the last in-dialog request
	ended        atomic.Bool
	endOnce      sync.Once
}

func (c *call) touch() { c.lastActivity.Store(c.s.clock.Now().UnixNano()) }

func (s *Server) onInvite(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	if to := req.To(); to != nil {
		if _, ok := to.Params.Get("tag"); ok {
			s.onReInvite(req, tx)
			return
		}
	}
	s.metrics.invites.Inc()
	if s.draining.Load() {
		s.metrics.rejected.WithLabelValues("draining").Inc()
		respond(tx, req, 503, "Service Unavailable", sipmsg.NewHeader("Retry-After", "30"))
		return
	}
	src := sourceAddr(req)
	authz := ""
	if h := req.GetHeader("Authorization"); h != nil {
		authz = h.Value()
	}
	trunk, res := s.auth.admit(src, string(req.Method), authz)
	switch res {
	case authForbidden:
		s.metrics.rejected.WithLabelValues("forbidden").Inc()
		s.log.Warn("call refused: no trunk for source", "source", src.String())
		respond(tx, req, 403, "Forbidden")
		return
	case authChallenge, authStale:
		respond(tx, req, 401, "Unauthorized", sipmsg.NewHeader("WWW-Authenticate", s.auth.challenge(res == authStale)))
		return
	}
	log := s.log.With("call_id", req.CallID().Value(), "trunk", trunk.Name)

	number := req.Recipient.User
	rule, err := s.route(trunk, number)
	if err != nil {
		s.metrics.rejected.WithLabelValues("not_found").Inc()
		log.Info("call refused: unknown number")
		respond(tx, req, 404, "Not Found")
		return
	}

	// Session timers (RFC 4028).
	se, refresher, minSE := s.sessionTimer(req)
	if se > 0 && se < s.cfg.MinSE {
		respond(tx, req, 422, "Session Interval Too Small", sipmsg.NewHeader("Min-SE", strconv.Itoa(int(s.cfg.MinSE/time.Second))))
		return
	}
	if minSE > se {
		se = minSE
	}

	var (
		rm  *remoteMedia
		neg negotiated
	)
	if body := req.Body(); len(body) > 0 {
		if rm, err = parseSDP(body); err != nil {
			s.metrics.rejected.WithLabelValues("bad_sdp").Inc()
			respond(tx, req, 488, "Not Acceptable Here", sipmsg.NewHeader("Warning", `399 setbridge "`+err.Error()+`"`))
			return
		}
		if neg, err = negotiate(rm, trunk.codecs); err != nil {
			s.metrics.rejected.WithLabelValues("no_codec").Inc()
			respond(tx, req, 488, "Not Acceptable Here", sipmsg.NewHeader("Warning", `305 setbridge "Incompatible media format: no common codec"`))
			return
		}
	} else {
		// Offer in our 200, answer in the ACK: start with the trunk's first
		// codec and switch if the answer picks another.
		neg = negotiated{Codec: trunk.codecs[0], PT: trunk.codecs[0].PayloadType, DTMFPT: int(media.TelephoneEvent.PayloadType), Ptime: 20}
	}

	dua := &sipgo.DialogUA{Client: s.client, ContactHDR: sipmsg.ContactHeader{Address: sipmsg.Uri{Scheme: "sip", User: "setbridge", Host: "127.0.0.1"}}}
	dlg, err := dua.ReadInvite(req, tx)
	if err != nil {
		respond(tx, req, 400, "Bad Request", sipmsg.NewHeader("Warning", `399 setbridge "`+err.Error()+`"`))
		return
	}
	c := &call{s: s, id: dlg.ID, callID: req.CallID().Value(), log: log, dialog: dlg, trunk: trunk, room: rule.Room,
		sdpVersion: 1, remote: rm, dir: SendRecv, awaitingAnswer: rm == nil, sessionExpires: se, refresher: refresher,
		started: s.clock.Now(), caller: callerOf(req)}
	c.local = s.localAddrFor(req.Source())
	c.touch()
	_ = dlg.Respond(100, "Trying", nil)

	leg, err := newRTPLeg(legConfig{log: log, clock: s.clock, ports: s.ports, neg: neg, roomRate: s.conf.Rate(),
		jitterDepth: s.cfg.JitterDepth, dtmfMode: trunk.DTMF, onDigit: c.digit, metrics: s.metrics})
	if err != nil {
		log.Error("call refused: no media", "error", err)
		s.metrics.rejected.WithLabelValues("no_media").Inc()
		_ = dlg.Respond(503, "Service Unavailable", nil)
		dlg.Close()
		return
	}
	c.leg = leg
	var body []byte
	if rm != nil {
		c.dir = rm.Direction.answerTo()
		leg.setRemote(rm.Addr, rm.RTCPAddr)
		body = c.sdpLocked(answerFormats(neg))
	} else {
		body = c.sdpLocked(formatsFor(trunk.codecs, int(media.TelephoneEvent.PayloadType)))
	}
	s.addCall(c)

	resp := sipmsg.NewSDPResponseFromRequest(dlg.InviteRequest, body)
	resp.AppendHeader(&sipmsg.ContactHeader{Address: sipmsg.Uri{Scheme: "sip", User: "setbridge",
		Host: c.local.String(), Port: s.portFor(req.Transport())}, Params: transportParam(req.Transport())})
	resp.AppendHeader(sipmsg.NewHeader("Allow", allowMethods))
	resp.AppendHeader(sipmsg.NewHeader("Supported", "timer"))
	if se > 0 {
		resp.AppendHeader(sipmsg.NewHeader("Session-Expires", fmt.Sprintf("%d;refresher=%s", int(se/time.Second), refresher)))
		resp.AppendHeader(sipmsg.NewHeader("Require", "timer"))
	}
	viaIVR := rule.IVR || s.roomNeedsPIN(rule.Room)
	early := viaIVR && trunk.EarlyMedia && rm != nil
	if early {
		// The IVR talks in early media; the call is answered only when
		// the caller gets into a room.
		if !c.earlyIVR(rule, body, tx) {
			return
		}
	}
	if err := dlg.WriteResponse(resp); err != nil {
		log.Info("call not established", "error", err)
		c.end("not established")
		return
	}
	// ACK received (onAck has taken any SDP answer).
	c.mu.Lock()
	awaiting := c.awaitingAnswer
	c.mu.Unlock()
	if awaiting {
		log.Warn("call hung up: ack carried no sdp answer")
		c.hangup("no answer sdp")
		return
	}
	if early {
		s.metrics.answered.Inc()
		log.Info("call answered: joined from early media", "room", c.room, "codec", neg.Codec.Name)
		c.armTimers()
		return
	}
	if viaIVR {
		if err := c.startIVR(rule); err != nil {
			log.Error("call hung up: ivr failed", "error", err)
			c.hangup("ivr failed")
			return
		}
		s.metrics.answered.Inc()
		log.Info("call answered by the ivr", "codec", neg.Codec.Name, "ptime", neg.Ptime, "session_expires", se)
		c.armTimers()
		return
	}
	if _, err := c.join(c.room); errors.Is(err, errCallEnded) {
		return
	} else if err != nil {
		log.Error("call hung up: join failed", "room", c.room, "error", err)
		c.hangup("join failed")
		return
	}
	s.metrics.answered.Inc()
	log.Info("call answered", "room", c.room, "codec", neg.Codec.Name, "ptime", neg.Ptime, "session_expires", se)
	c.armTimers()
}

func (s *Server) portFor(transport string) int {
	a := s.addrs[strings.ToLower(transport)]
	if a == nil {
		return 0
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return 0
	}
	return int(ap.Port())
}

func transportParam(tp string) sipmsg.HeaderParams {
	p := sipmsg.NewParams()
	if t := strings.ToLower(tp); t != "udp" && t != "" {
		p.Add("transport", t)
	}
	return p
}

// route finds the dispatch rule for a dialled number on a trunk.
func (s *Server) route(t *Trunk, number string) (DispatchRule, error) {
	n := normalizeNumber(number)
	if len(t.Numbers) > 0 {
		ok := false
		for _, tn := range t.Numbers {
			if normalizeNumber(tn) == n {
				ok = true
				break
			}
		}
		if !ok {
			return DispatchRule{}, ErrUnknownNumber
		}
	}
	for _, r := range s.cfg.Dispatch {
		if normalizeNumber(r.Number) == n && (r.Trunk == "" || r.Trunk == t.Name) {
			return r, nil
		}
	}
	if t.DefaultRoom != "" {
		return DispatchRule{Number: number, Room: t.DefaultRoom}, nil
	}
	return DispatchRule{}, ErrUnknownNumber
}

// sessionTimer reads RFC 4028 headers: the interval to use (0: no timer),
// who refreshes, and the caller's Min-SE.
func (s *Server) sessionTimer(req *sipmsg.Request) (time.Duration, string, time.Duration) {
	var minSE time.Duration
	if h := req.GetHeader("Min-SE"); h != nil {
		if v, err := strconv.Atoi(strings.TrimSpace(strings.Split(h.Value(), ";")[0])); err == nil {
			minSE = time.Duration(v) * time.Second
		}
	}
	h := req.GetHeader("Session-Expires")
	if h == nil {
		h = req.GetHeader("x") // the compact form (RFC 4028 §4)
	}
	if h == nil {
		return 0, "", minSE
	}
	parts := strings.Split(h.Value(), ";")
	v, err := strconv.Atoi(strings.TrimSpace(parts[0]))
	if err != nil || v <= 0 {
		return 0, "", minSE
	}
	refresher := "uac"
	for _, p := range parts[1:] {
		k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(k, "refresher") && strings.EqualFold(val, "uas") {
			refresher = "uas"
		}
	}
	se := time.Duration(v) * time.Second
	if se > s.cfg.SessionExpires {
		se = s.cfg.SessionExpires
	}
	return se, refresher, minSE
}

// sdpLocked builds our next session description with formats; c.mu is
// held or the call not yet shared.
func (c *call) sdpLocked(formats []rtpFormat) []byte {
	l := localMedia{SessionID: uint64(c.started.UnixNano()) & 0x7fffffffffff, Version: c.sdpVersion,
		Addr: netip.AddrPortFrom(c.local, uint16(c.leg.localPort())), Formats: formats,
		Ptime: c.leg.neg.Ptime, Direction: c.dir}
	c.sdpVersion++
	return l.marshal()
}

// join puts the call's leg in room, unless the call ended meanwhile (a
// BYE right behind the ACK). c.mu is held across the join so end either
// sees the membership or runs before the join.
func (c *call) join(room string) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended.Load() {
		return 0, errCallEnded
	}
	who := c.caller
	who.Hangup = func(reason string) { go c.hangup(reason) }
	m, err := c.s.conf.Join(room, c.leg, who)
	if err != nil {
		return 0, err
	}
	c.member, c.room = m, room
	c.leg.sending.Store(c.dir.weSend())
	return c.s.conf.Participants(room), nil
}

func (c *call) digit(d dtmf.Digit) {
	c.s.metrics.digits.Inc()
	c.mu.Lock()
	sess := c.session
	c.mu.Unlock()
	if sess != nil {
		sess.Digit(d)
	}
	if c.s.onDigit != nil {
		c.s.onDigit(c.callID, d)
	}
}

func (s *Server) onAck(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	c := s.findCall(req)
	if c == nil {
		return
	}
	c.touch()
	c.mu.Lock()
	if c.awaitingAnswer {
		if err := c.takeAnswerLocked(req.Body()); err != nil {
			c.log.Warn("bad sdp answer in ack", "error", err)
		} else {
			c.awaitingAnswer = false
		}
	}
	c.mu.Unlock()
	_ = c.dialog.ReadAck(req, tx)
}

// takeAnswerLocked applies the SDP answer to our offer.
func (c *call) takeAnswerLocked(body []byte) error {
	rm, err := c.leg.takeAnswer(body, c.trunk.codecs)
	if err != nil {
		return err
	}
	c.remote = rm
	c.dir = rm.Direction.answerTo()
	return nil
}

// takeAnswer applies an SDP answer to our offer to the leg: the codec it
// chose (when it differs from the one in use) and where to send; it
// returns the far end's media for the dialog's direction.
func (l *rtpLeg) takeAnswer(body []byte, codecs []media.Codec) (*remoteMedia, error) {
	if len(body) == 0 {
		return nil, errNoAnswer
	}
	rm, err := parseSDP(body)
	if err != nil {
		return nil, err
	}
	neg, err := negotiate(rm, codecs)
	if err != nil {
		return nil, err
	}
	if cur := l.neg; neg.Codec.Name != cur.Codec.Name || neg.PT != cur.PT || neg.Ptime != cur.Ptime || neg.DTMFPT != cur.DTMFPT {
		if err := l.setCodec(neg); err != nil {
			return nil, err
		}
	}
	l.setRemote(rm.Addr, rm.RTCPAddr)
	return rm, nil
}

func (s *Server) onBye(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	c := s.findCall(req)
	if c == nil {
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	if err := c.dialog.ReadBye(req, tx); err != nil {
		respond(tx, req, 400, "Bad Request")
		return
	}
	c.log.Info("call ended by caller", "duration", s.since(c.started).Round(time.Millisecond))
	c.end("bye")
}

// onReInvite handles an offer inside an established dialog: hold, resume,
// a new address, or a session refresh.
func (s *Server) onReInvite(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	c := s.findCall(req)
	if c == nil {
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	c.touch()
	body, code, err := c.modify(req.Body())
	if err != nil {
		respond(tx, req, code, "Not Acceptable Here", sipmsg.NewHeader("Warning", `399 setbridge "`+err.Error()+`"`))
		return
	}
	res := sipmsg.NewSDPResponseFromRequest(req, body)
	c.refreshHeaders(res)
	if err := tx.Respond(res); err != nil {
		return
	}
	// The ACK of a re-INVITE's 2xx is retransmission-free at our layer:
	// the caller's transaction layer retransmits until it reaches onAck.
}

// onUpdate handles UPDATE (RFC 3311): with SDP like a re-INVITE, without as
// a session refresh.
func (s *Server) onUpdate(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	c := s.findCall(req)
	if c == nil {
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	c.touch()
	var res *sipmsg.Response
	if len(req.Body()) > 0 {
		body, code, err := c.modify(req.Body())
		if err != nil {
			respond(tx, req, code, "Not Acceptable Here")
			return
		}
		res = sipmsg.NewSDPResponseFromRequest(req, body)
	} else {
		res = sipmsg.NewResponseFromRequest(req, 200, "OK", nil)
	}
	c.refreshHeaders(res)
	_ = tx.Respond(res)
}

// modify applies a new offer within the dialog and returns our answer.
func (c *call) modify(body []byte) ([]byte, int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(body) == 0 {
		// A re-INVITE without SDP asks us to offer; offer what we use.
		return c.sdpLocked(answerFormats(c.leg.neg)), 200, nil
	}
	rm, err := parseSDP(body)
	if err != nil {
		return nil, 488, err
	}
	neg, err := negotiate(rm, c.trunk.codecs)
	if err != nil {
		return nil, 488, err
	}
	if neg.Codec.Name != c.leg.neg.Codec.Name {
		// Keep the established codec if it is still offered.
		for _, f := range rm.Formats {
			if strings.EqualFold(f.Name, c.leg.neg.Codec.Name) {
				neg = negotiated{Codec: c.leg.neg.Codec, PT: f.PT, DTMFPT: neg.DTMFPT, Ptime: c.leg.neg.Ptime}
				break
			}
		}
	}
	if neg.Codec.Name != c.leg.neg.Codec.Name {
		return nil, 488, fmt.Errorf("%w: codec change mid-call", ErrNoCommonCodec)
	}
	prev := c.dir
	c.remote = rm
	c.dir = rm.Direction.answerTo()
	if !rm.Addr.Addr().IsUnspecified() {
		if old := c.leg.remote.Load(); old == nil || *old != rm.Addr {
			c.leg.setRemote(rm.Addr, rm.RTCPAddr)
		}
	}
	if c.member != nil || c.lobbyM != nil {
		c.leg.sending.Store(c.dir.weSend())
	}
	if prev != c.dir {
		c.log.Info("call direction changed", "from", prev, "to", c.dir)
	}
	return c.sdpLocked(answerFormats(neg)), 200, nil
}

// refreshHeaders adds session timer headers to a refresh response and
// restarts the session timer.
func (c *call) refreshHeaders(res *sipmsg.Response) {
	res.AppendHeader(&sipmsg.ContactHeader{Address: sipmsg.Uri{Scheme: "sip", User: "setbridge",
		Host: c.local.String(), Port: c.s.portFor(c.dialog.InviteRequest.Transport())}, Params: transportParam(c.dialog.InviteRequest.Transport())})
	if c.sessionExpires > 0 {
		res.AppendHeader(sipmsg.NewHeader("Session-Expires", fmt.Sprintf("%d;refresher=%s", int(c.sessionExpires/time.Second), c.refresher)))
		res.AppendHeader(sipmsg.NewHeader("Require", "timer"))
		c.armSessionTimer()
	}
}

func (s *Server) onInfo(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	c := s.findCall(req)
	if c == nil {
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	c.touch()
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = h.Value()
	}
	if len(req.Body()) == 0 {
		respond(tx, req, 200, "OK") // keep-alive INFO
		return
	}
	r, dur, err := dtmf.ParseInfo(ct, req.Body())
	if err != nil {
		if errors.Is(err, dtmf.ErrUnsupportedContentType) {
			respond(tx, req, 415, "Unsupported Media Type", sipmsg.NewHeader("Accept", "application/dtmf-relay, application/dtmf"))
			return
		}
		respond(tx, req, 400, "Bad Request", sipmsg.NewHeader("Warning", `399 setbridge "bad dtmf body"`))
		return
	}
	respond(tx, req, 200, "OK")
	c.digit(dtmf.Digit{Rune: r, Duration: dur, Start: s.clock.Now()})
}

// armTimers starts the RTP watchdog and, if negotiated, the session timer.
func (c *call) armTimers() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended.Load() {
		return
	}
	if c.s.cfg.RTPTimeout > 0 {
		c.watchdog = c.s.clock.AfterFunc(time.Second, c.checkMedia)
	}
	if c.sessionExpires > 0 {
		c.armSessionTimerLocked()
	}
}

// checkMedia hangs up a call whose peer has gone silent on every channel:
// no RTP while it should be sending, and no in-dialog request either.
func (c *call) checkMedia() {
	if c.ended.Load() {
		return
	}
	c.mu.Lock()
	expectRTP := c.dir == SendRecv || c.dir == RecvOnly
	c.mu.Unlock()
	to := c.s.cfg.RTPTimeout
	signalIdle := c.s.since(time.Unix(0, c.lastActivity.Load()))
	if expectRTP && c.leg.idle(c.started) > to && signalIdle > to {
		c.log.Warn("call hung up: no rtp", "timeout", to)
		c.s.metrics.rtpTimeouts.Inc()
		go c.hangup("rtp timeout")
		return
	}
	c.mu.Lock()
	if !c.ended.Load() {
		c.watchdog = c.s.clock.AfterFunc(time.Second, c.checkMedia)
	}
	c.mu.Unlock()
}

func (c *call) armSessionTimer() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armSessionTimerLocked()
}

// armSessionTimerLocked schedules our refresh (refresher=uas, at half the
// interval) or the expiry check (refresher=uac, RFC 4028 §10: the interval
// minus min(32 s, interval/3)).
func (c *call) armSessionTimerLocked() {
	if c.seTimer != nil {
		c.seTimer.Stop()
	}
	if c.ended.Load() {
		return
	}
	if c.refresher == "uas" {
		c.seTimer = c.s.clock.AfterFunc(c.sessionExpires/2, func() { go c.refresh() })
		return
	}
	d := c.sessionExpires - min(32*time.Second, c.sessionExpires/3)
	c.seTimer = c.s.clock.AfterFunc(d, func() {
		c.log.Warn("call hung up: session not refreshed", "session_expires", c.sessionExpires)
		c.s.metrics.sessionExpired.Inc()
		go c.hangup("session expired")
	})
}

// refresh sends an UPDATE without SDP to refresh the session (we are the
// refresher).
func (c *call) refresh() {
	ctx, cancel := context.WithTimeout(context.Background(), 32*time.Second)
	defer cancel()
	req := sipmsg.NewRequest(sipmsg.UPDATE, c.dialog.InviteRequest.Contact().Address)
	req.AppendHeader(sipmsg.NewHeader("Session-Expires", fmt.Sprintf("%d;refresher=uas", int(c.sessionExpires/time.Second))))
	req.AppendHeader(sipmsg.NewHeader("Supported", "timer"))
	res, err := c.dialog.Do(ctx, req)
	if err != nil || !res.IsSuccess() {
		c.log.Warn("call hung up: session refresh failed", "error", err)
		c.hangup("refresh failed")
		return
	}
	c.armSessionTimer()
}

// hangup sends BYE and ends the call.
func (c *call) hangup(reason string) {
	if c.ended.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	if err := c.dialog.Bye(ctx); err != nil && !errors.Is(err, net.ErrClosed) {
		c.log.Debug("bye failed", "error", err)
	}
	c.end(reason)
}

// end releases the call's media and room place; safe to call more than once.
func (c *call) end(reason string) {
	c.endOnce.Do(func() {
		c.ended.Store(true)
		c.mu.Lock()
		if c.watchdog != nil {
			c.watchdog.Stop()
		}
		if c.seTimer != nil {
			c.seTimer.Stop()
		}
		member, lm, sess := c.member, c.lobbyM, c.session
		c.lobbyM = nil
		c.mu.Unlock()
		if lm != nil {
			c.s.lobby.remove(lm)
		}
		if member != nil {
			member.Leave()
		}
		if sess != nil {
			sess.Close()
		}
		if c.leg != nil {
			c.leg.close()
		}
		c.dialog.Close()
		c.s.removeCall(c)
		c.s.metrics.ended.WithLabelValues(reason).Inc()
		c.log.Debug("call released", "reason", reason)
	})
}

// callerOf reads who a request is from.
func callerOf(req *sipmsg.Request) Caller {
	c := Caller{CallID: req.CallID().Value()}
	if f := req.From(); f != nil {
		c.Number, c.Name = f.Address.User, f.DisplayName
	}
	return c
}
