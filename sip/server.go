// Package sip is setbridge's SIP trunk gateway: it admits calls from trunks,
// negotiates SDP, carries RTP, and hands each answered call to a Conference
// as a participant.
package sip

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
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

// Conference is where answered calls go. The SIP gateway never sees a
// mixer: whoever wires it passes something that can join rooms.
type Conference interface {
	// Rate is the sample rate of the frames exchanged with participants.
	Rate() int
	// Join adds p, the call of who, to room.
	Join(room string, p media.Participant, who Caller) (Membership, error)
	// Participants returns the number of participants in room.
	Participants(room string) int
}

// Caller is who a call is from, as its From header says.
type Caller struct {
	// Number is the From URI's user part (a number on a trunk), Name its
	// display name; either may be empty.
	Number, Name string
	// CallID is the call's SIP Call-ID.
	CallID string
	// Hangup, set by the gateway, ends the call with a BYE (a moderator's
	// kick); it does not wait.
	Hangup func(reason string)
}

// Membership is a participant's place in a room.
type Membership interface {
	Leave()
	SetMuted(bool)
	Muted() bool
}

// Options are the gateway's collaborators.
type Options struct {
	Logger  *slog.Logger
	Clock   media.Clock
	Metrics *Metrics
	// OnDigit, if set, receives every DTMF digit of every call. It runs on
	// a media goroutine and must not block.
	OnDigit func(callID string, d dtmf.Digit)
	// IVR, if set, answers the dispatch rules that ask for it (and rooms
	// with a PIN).
	IVR *IVR
}

// IVR is what the gateway needs to run the dial-in IVR.
type IVR struct {
	Prompts *ivr.PromptSet
	// Directory finds a room by its conference number.
	Directory ivr.Directory
	// Room finds a room by id, for dispatch rules that name one: a room
	// with a PIN sends its callers through the IVR for it.
	Room func(id string) (ivr.Room, bool)
	// SetLocked locks or unlocks a room (a moderator's *1).
	SetLocked func(room string, locked bool) error
	// ToggleRecording starts or stops room's recording (a moderator's *9)
	// and reports whether it is now recording.
	ToggleRecording func(room string) (bool, error)
	// Recording reports whether room is being recorded.
	Recording func(room string) bool
	// PINEntry, if set, is told when a caller starts and stops entering a
	// PIN for room, so that a recording of the room pauses meanwhile. It
	// runs on a media tick and must not block.
	PINEntry func(room string, active bool)
}

// roomNeedsPIN reports whether room has a PIN the IVR must ask for.
func (s *Server) roomNeedsPIN(room string) bool {
	if s.ivr == nil || s.ivr.Room == nil || room == "" {
		return false
	}
	r, ok := s.ivr.Room(room)
	return ok && (r.ParticipantPINHash != "" || r.ModeratorPINHash != "")
}

// Server is the SIP gateway.
type Server struct {
	cfg     Config
	conf    Conference
	log     *slog.Logger
	base    *slog.Logger // the logger without component=sip
	clock   media.Clock
	metrics *Metrics
	onDigit func(string, dtmf.Digit)
	ivr     *IVR
	lobby   *lobby

	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	client *sipgo.Client
	auth   *authenticator
	ports  *portAllocator
	media  netip.Addr // configured media address, if any

	draining atomic.Bool
	mu       sync.Mutex
	calls    map[string]*call // by dialog id; guarded by mu
	addrs    map[string]net.Addr
	closers  []io.Closer // the listeners, closed on shutdown
	wg       sync.WaitGroup
	regWG    sync.WaitGroup // the registrations, which un-REGISTER before the transport closes
	regs     []*Registration
	dialouts *dialouts // outbound calls (dialout.go)
}

// NewServer builds a gateway from cfg (defaults applied, validated).
func NewServer(cfg Config, conf Conference, opts Options) (*Server, error) {
	cfg = cfg.WithDefaults()
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, errs[0]
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Clock == nil {
		opts.Clock = media.SystemClock{}
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics(nil)
	}
	log := opts.Logger.With("component", "sip")
	quiet := quietLogger(opts.Logger)
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("setbridge"),
		sipgo.WithUserAgentTransportLayerOptions(sipmsg.WithTransportLayerLogger(quiet)),
		sipgo.WithUserAgentTransactionLayerOptions(sipmsg.WithTransactionLayerLogger(quiet)))
	if err != nil {
		return nil, fmt.Errorf("sip user agent: %w", err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(quietLogger(opts.Logger)))
	if err != nil {
		return nil, fmt.Errorf("sip server: %w", err)
	}
	client, err := sipgo.NewClient(ua, sipgo.WithClientLogger(quietLogger(opts.Logger)))
	if err != nil {
		return nil, fmt.Errorf("sip client: %w", err)
	}
	s := &Server{cfg: cfg, conf: conf, log: log, base: opts.Logger, clock: opts.Clock, metrics: opts.Metrics, onDigit: opts.OnDigit, ivr: opts.IVR,
		ua: ua, srv: srv, client: client, calls: map[string]*call{}, addrs: map[string]net.Addr{}}
	s.dialouts = newDialouts()
	s.auth = newAuthenticator(cfg.Trunks, cfg.NonceExpiry, opts.Clock.Now)
	bind := netip.IPv4Unspecified()
	if cfg.MediaAddress != "" {
		s.media = netip.MustParseAddr(cfg.MediaAddress)
	}
	s.ports = newPortAllocator(bind, cfg.RTPPortMin, cfg.RTPPortMax)
	s.lobby = newLobby(opts.Clock, conf.Rate())
	srv.OnInvite(guard(s.dialoutFirst(s.onInvite)))
	srv.OnAck(guard(s.dialoutFirst(s.onAck)))
	srv.OnBye(guard(s.dialoutFirst(s.onBye)))
	srv.OnCancel(guard(func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		// A CANCEL that matched an INVITE was answered by the transaction
		// layer; one that reaches us matched nothing.
		_ = tx.Respond(sipmsg.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
	}))
	srv.OnOptions(guard(s.dialoutFirst(s.onOptions)))
	srv.OnUpdate(guard(s.dialoutFirst(s.onUpdate)))
	srv.OnInfo(guard(s.dialoutFirst(s.onInfo)))
	return s, nil
}

// Listen binds every configured transport; Serve then serves them. Bound
// addresses are available from Addr as soon as Listen returns.
func (s *Server) Listen() error {
	if s.cfg.UDP != "-" {
		pc, err := net.ListenPacket("udp", s.cfg.UDP)
		if err != nil {
			return fmt.Errorf("listen sip udp: %w", err)
		}
		s.addrs["udp"] = pc.LocalAddr()
		s.closers = append(s.closers, pc)
		s.wg.Add(1)
		go func() { defer s.wg.Done(); _ = s.srv.ServeUDP(pc) }()
	}
	if s.cfg.TCP != "-" {
		l, err := net.Listen("tcp", s.cfg.TCP)
		if err != nil {
			return fmt.Errorf("listen sip tcp: %w", err)
		}
		s.addrs["tcp"] = l.Addr()
		s.closers = append(s.closers, l)
		s.wg.Add(1)
		go func() { defer s.wg.Done(); _ = s.srv.ServeTCP(l) }()
	}
	if s.cfg.TLS != "" {
		cert, err := tls.LoadX509KeyPair(s.cfg.CertFile, s.cfg.KeyFile)
		if err != nil {
			return fmt.Errorf("load sip tls certificate: %w", err)
		}
		l, err := tls.Listen("tcp", s.cfg.TLS, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		if err != nil {
			return fmt.Errorf("listen sip tls: %w", err)
		}
		s.addrs["tls"] = l.Addr()
		s.closers = append(s.closers, l)
		s.wg.Add(1)
		go func() { defer s.wg.Done(); _ = s.srv.ServeTLS(l) }()
	}
	return nil
}

// Addr returns the bound address of a transport ("udp", "tcp", "tls").
func (s *Server) Addr(transport string) net.Addr { return s.addrs[transport] }

// Run starts the trunks' outbound registrations and blocks until ctx ends;
// it then hangs up every call, unregisters, and closes the transports.
func (s *Server) Run(ctx context.Context) error {
	for i := range s.cfg.Trunks {
		t := &s.cfg.Trunks[i]
		if t.Register == nil {
			continue
		}
		if err := s.startRegistration(ctx, t); err != nil {
			s.log.Error("registration not started", "trunk", t.Name, "error", err)
		}
	}
	<-ctx.Done()
	s.hangupAll()
	s.dialouts.hangupAll()
	// The registrations send their un-REGISTERs through the transport
	// layer: let them finish before it closes.
	s.regWG.Wait()
	s.client.Close()
	s.srv.Close()
	err := s.ua.Close()
	for _, c := range s.closers {
		c.Close() // ends the serve goroutines
	}
	s.wg.Wait()
	s.lobby.close()
	return err
}

func (s *Server) startRegistration(ctx context.Context, t *Trunk) error {
	r := t.Register
	tp := strings.ToLower(orDefault(r.Transport, "udp"))
	a, ok := s.addrs[tp]
	if !ok {
		return fmt.Errorf("%w: trunk %q registers over %s, which is not listening", ErrBadConfig, t.Name, tp)
	}
	host, port, _ := net.SplitHostPort(a.String())
	if ip, err := netip.ParseAddr(host); err != nil || ip.IsUnspecified() {
		host = s.localAddrFor(r.Registrar).String()
	}
	// REGISTERs leave from the socket named in the Contact, so a NAT in
	// between maps the binding to where we listen.
	client, err := sipgo.NewClient(s.ua, sipgo.WithClientHostname(host), sipgo.WithClientConnectionAddr(a.String()),
		sipgo.WithClientLogger(quietLogger(s.log)))
	if err != nil {
		return fmt.Errorf("registration client: %w", err)
	}
	contact := "sip:" + hostUser(r.AOR) + "@" + net.JoinHostPort(host, port)
	reg, err := NewRegistration(client, RegistrationConfig{Trunk: t.Name, Registrar: r.Registrar, AOR: r.AOR,
		Username: r.Username, Password: r.Password, Contact: contact, Expires: r.Expires, Transport: r.Transport},
		WithRegistrationLogger(s.base), WithRegistrationStatusFunc(s.metrics.registrationWatcher(t.Name)))
	if err != nil {
		client.Close()
		return err
	}
	s.regs = append(s.regs, reg)
	s.regWG.Add(1)
	go func() {
		defer s.regWG.Done()
		defer client.Close()
		_ = reg.Run(ctx)
	}()
	return nil
}

// Drain makes the server refuse new calls (503) and answer OPTIONS with 503.
func (s *Server) Drain() { s.draining.Store(true) }

// Draining reports whether Drain was called.
func (s *Server) Draining() bool { return s.draining.Load() }

// ActiveCalls returns the number of calls in progress.
func (s *Server) ActiveCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

func (s *Server) hangupAll() {
	s.mu.Lock()
	calls := make([]*call, 0, len(s.calls))
	for _, c := range s.calls {
		calls = append(calls, c)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range calls {
		wg.Add(1)
		go func() { defer wg.Done(); c.hangup("shutdown") }()
	}
	wg.Wait()
}

func (s *Server) addCall(c *call) {
	s.mu.Lock()
	s.calls[c.id] = c
	n := len(s.calls)
	s.mu.Unlock()
	s.metrics.activeCalls.Set(float64(n))
}

func (s *Server) removeCall(c *call) {
	s.mu.Lock()
	delete(s.calls, c.id)
	n := len(s.calls)
	s.mu.Unlock()
	s.metrics.activeCalls.Set(float64(n))
}

func (s *Server) findCall(req *sipmsg.Request) *call {
	id, err := sipmsg.DialogIDFromRequestUAS(req)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[id]
}

// localAddrFor returns the local address that routes to target (host or
// host:port or a SIP URI), or the configured media address.
func (s *Server) localAddrFor(target string) netip.Addr {
	if s.media.IsValid() {
		return s.media
	}
	host := strings.TrimPrefix(strings.TrimPrefix(target, "sips:"), "sip:")
	if i := strings.IndexByte(host, '@'); i >= 0 {
		host = host[i+1:]
	}
	host, _, _ = strings.Cut(host, ";")
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	c, err := net.Dial("udp", net.JoinHostPort(strings.Trim(host, "[]"), "9"))
	if err != nil {
		return netip.MustParseAddr("127.0.0.1")
	}
	defer c.Close()
	ap, err := netip.ParseAddrPort(c.LocalAddr().String())
	if err != nil {
		return netip.MustParseAddr("127.0.0.1")
	}
	return ap.Addr().Unmap()
}

func (s *Server) onOptions(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	if c := s.findCall(req); c != nil {
		c.touch()
	}
	if s.draining.Load() {
		respond(tx, req, 503, "Service Unavailable", sipmsg.NewHeader("Retry-After", "30"))
		return
	}
	res := sipmsg.NewResponseFromRequest(req, 200, "OK", nil)
	res.AppendHeader(sipmsg.NewHeader("Allow", allowMethods))
	res.AppendHeader(sipmsg.NewHeader("Accept", "application/sdp, application/dtmf-relay, application/dtmf"))
	res.AppendHeader(sipmsg.NewHeader("Supported", "timer"))
	_ = tx.Respond(res)
}

const allowMethods = "INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO"

// guard answers 400 to a request that lacks a header every request must
// carry (RFC 3261 §8.1.1), before any handler touches it.
func guard(h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
		missing := ""
		switch {
		case req.CallID() == nil:
			missing = "Call-ID"
		case req.From() == nil:
			missing = "From"
		case req.To() == nil:
			missing = "To"
		case req.CSeq() == nil:
			missing = "CSeq"
		case req.Via() == nil:
			missing = "Via"
		case req.CSeq().MethodName != req.Method && !req.IsAck() && !req.IsCancel():
			missing = "matching CSeq method"
		case req.IsInvite() && req.Contact() == nil:
			missing = "Contact"
		}
		if missing != "" {
			if req.IsAck() {
				return // never answer an ACK
			}
			respond(tx, req, 400, "Bad Request", sipmsg.NewHeader("Warning", `399 setbridge "missing `+missing+`"`))
			return
		}
		h(req, tx)
	}
}

func respond(tx sipmsg.ServerTransaction, req *sipmsg.Request, code int, reason string, hdrs ...sipmsg.Header) {
	res := sipmsg.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	_ = tx.Respond(res)
}

func sourceAddr(req *sipmsg.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(req.Source())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func hostUser(uri string) string {
	u := strings.TrimPrefix(strings.TrimPrefix(uri, "sips:"), "sip:")
	user, _, found := strings.Cut(u, "@")
	if !found {
		return "setbridge"
	}
	return user
}

// quietLogger gives sipgo a logger whose errors about single messages (a
// datagram that does not parse) go to debug: a flood of bad packets must
// not flood the log.
func quietLogger(l *slog.Logger) *slog.Logger {
	return slog.New(demoteHandler{l.Handler()}).With("component", "sipgo")
}

type demoteHandler struct{ slog.Handler }

func (h demoteHandler) Handle(ctx context.Context, r slog.Record) error {
	// sipgo logs per message; only its warnings about the process as a
	// whole stay above debug.
	if r.Level < slog.LevelWarn || strings.Contains(r.Message, "parse") || strings.Contains(r.Message, "Read connection") {
		r.Level = slog.LevelDebug
	}
	if !h.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h demoteHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.Handler.Enabled(ctx, slog.LevelDebug) || h.Handler.Enabled(ctx, l) || l > slog.LevelDebug
}

func (h demoteHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return demoteHandler{h.Handler.WithAttrs(a)}
}
func (h demoteHandler) WithGroup(n string) slog.Handler { return demoteHandler{h.Handler.WithGroup(n)} }

var (
	errNoAnswer  = errors.New("no sdp answer in ack")
	errCallEnded = errors.New("call ended")
)

// sinceActivity is how long ago t was, on the server's clock.
func (s *Server) since(t time.Time) time.Duration { return s.clock.Now().Sub(t) }
