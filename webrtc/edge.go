// Package webrtc is setbridge's WebRTC edge: it turns a browser (or any
// WHIP/WHEP client, RFC 9725) into a media.Participant and hands it to a
// Conference. It negotiates audio only (Opus, and G.722/G.711 for clients
// that offer nothing else), answers with every host candidate gathered (no
// server-side trickle), and mixes nothing itself.
//
// The HTTP contract is docs/browser-api.md.
package webrtc

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	pion "github.com/pion/webrtc/v4"

	"github.com/setbridge/setbridge/media"
)

// Conference is where sessions go; whoever wires the edge passes something
// that can join rooms.
type Conference interface {
	// Rate is the PCM rate of frames exchanged with participants (48000,
	// 16000 or 8000).
	Rate() int
	// Join adds p to room.
	Join(room string, p media.Participant, who Identity) (Membership, error)
}

// Identity is who a request speaks for, as the Authorizer decided.
type Identity struct {
	Identity, Name     string
	Publish, Subscribe bool
	// Kind is the participant kind of the event stream ("browser").
	Kind string
	// End, set by the Edge when it joins the session, closes the session
	// (a moderator's kick); it does not wait.
	End func(reason string)
}

// Membership is a participant's place in a room.
type Membership interface {
	ID() string
	Leave()
	SetMuted(bool)
	Muted() bool
}

// Authorizer decides a request for room (publish: a WHIP request). It
// returns the Identity, or an error wrapping ErrUnauthorized (answered
// 401) or ErrForbidden (403); the error's text is shown to the client.
type Authorizer func(r *http.Request, room string, publish bool) (Identity, error)

// ICEServer is a STUN or TURN server handed to clients in Link headers.
type ICEServer struct {
	URLs                 []string
	Username, Credential string
}

// Defaults of Config.
const (
	DefaultJitterDepth       = 3
	DefaultConnectTimeout    = 30 * time.Second
	DefaultDisconnectTimeout = 30 * time.Second
	DefaultGatherTimeout     = 10 * time.Second
)

// Config configures an Edge. Zero fields take the documented defaults.
type Config struct {
	// Logger receives session lifecycle logs (default slog.Default()).
	Logger *slog.Logger
	// UDPMuxPort, when not 0, serves every session's ICE/DTLS/SRTP on this
	// one UDP port (pion's UDP mux, one socket per local address).
	UDPMuxPort int
	// PortMin..PortMax bound the ephemeral UDP ports of sessions when
	// UDPMuxPort is 0; both 0 takes any port.
	PortMin, PortMax uint16
	// ICETCPPort, when not 0, also offers passive ICE-TCP candidates on
	// this port (pion's TCP mux).
	ICETCPPort int
	// ListenIP, if set, is the only local address the muxes listen on and
	// candidates are gathered from (default every address).
	ListenIP string
	// NAT1To1IPs are public addresses announced in place of the host
	// candidates' addresses (a 1:1 NAT in front of the server).
	NAT1To1IPs []string
	// ICEServers are handed to clients in Link headers.
	ICEServers []ICEServer
	// IncludeLoopback gathers loopback candidates too (tests on 127.0.0.1).
	IncludeLoopback bool
	// Interfaces, if set, keeps only the network interfaces it accepts.
	Interfaces func(name string) bool
	// IPFilter, if set, keeps only the local addresses it accepts.
	IPFilter func(net.IP) bool
	// JitterDepth is the uplink jitter buffer's depth in packets
	// (default 3, 60 ms).
	JitterDepth int
	// ConnectTimeout ends a session that has not connected by then
	// (default 30 s); DisconnectTimeout one that stays disconnected that
	// long (default 30 s). A failed or closed connection ends at once.
	ConnectTimeout, DisconnectTimeout time.Duration
	// GatherTimeout bounds ICE gathering before an answer (default 10 s).
	GatherTimeout time.Duration
}

// Stats are the Edge's counters.
type Stats struct {
	Sessions int
	// PacketsIn and PacketsOut count RTP packets read from and written to
	// every session's tracks.
	PacketsIn, PacketsOut uint64
	// Decodes and Encodes count the legs' own codec calls (Opus and the
	// others): decodes of uplink packets, encodes of talkers' N-1 mixes.
	// The room's shared encodes of the common mix are not counted here.
	Decodes, Encodes uint64
	// BadPackets counts packets dropped as malformed or of an unexpected
	// payload type, and payloads that failed to decode.
	BadPackets uint64
}

// Edge serves WHIP and WHEP and owns their sessions.
type Edge struct {
	cfg  Config
	log  *slog.Logger
	conf Conference
	auth Authorizer
	api  *pion.API

	udpMux ice.UDPMux // nil without UDPMuxPort
	tcpMux ice.TCPMux // nil without ICETCPPort

	mu       sync.Mutex
	sessions map[string]*session // guarded by mu
	closed   bool                // guarded by mu
	wg       sync.WaitGroup      // session monitors

	stats counters
}

// New builds an Edge; it listens on the mux ports, if configured, at once.
func New(cfg Config, conf Conference, auth Authorizer) (*Edge, error) {
	if conf == nil || auth == nil {
		return nil, errors.New("webrtc: New needs a Conference and an Authorizer")
	}
	if r := conf.Rate(); r != 8000 && r != 16000 && r != 48000 {
		return nil, fmt.Errorf("webrtc: conference rate %d not supported", r)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.JitterDepth <= 0 {
		cfg.JitterDepth = DefaultJitterDepth
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.DisconnectTimeout <= 0 {
		cfg.DisconnectTimeout = DefaultDisconnectTimeout
	}
	if cfg.GatherTimeout <= 0 {
		cfg.GatherTimeout = DefaultGatherTimeout
	}
	e := &Edge{cfg: cfg, log: cfg.Logger.With("component", "webrtc"), conf: conf, auth: auth,
		sessions: map[string]*session{}}
	api, err := e.newAPI()
	if err != nil {
		e.closeMuxes()
		return nil, err
	}
	e.api = api
	return e, nil
}

// ipFilter combines ListenIP and IPFilter.
func (e *Edge) ipFilter() (func(net.IP) bool, error) {
	var listen net.IP
	if e.cfg.ListenIP != "" {
		if listen = net.ParseIP(e.cfg.ListenIP); listen == nil {
			return nil, fmt.Errorf("webrtc: bad listen IP %q", e.cfg.ListenIP)
		}
	}
	user := e.cfg.IPFilter
	if listen == nil && user == nil {
		return nil, nil
	}
	return func(ip net.IP) bool {
		return (listen == nil || listen.Equal(ip)) && (user == nil || user(ip))
	}, nil
}

func (e *Edge) newAPI() (*pion.API, error) {
	m := &pion.MediaEngine{}
	for _, c := range []pion.RTPCodecParameters{
		{RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypeOpus, ClockRate: 48000, Channels: 2,
			SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: 111},
		{RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypeG722, ClockRate: 8000}, PayloadType: 9},
		{RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypePCMU, ClockRate: 8000}, PayloadType: 0},
		{RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypePCMA, ClockRate: 8000}, PayloadType: 8},
	} {
		if err := m.RegisterCodec(c, pion.RTPCodecTypeAudio); err != nil {
			return nil, fmt.Errorf("webrtc: register codec: %w", err)
		}
	}
	if err := m.RegisterHeaderExtension(pion.RTPHeaderExtensionCapability{URI: audioLevelURI}, pion.RTPCodecTypeAudio); err != nil {
		return nil, fmt.Errorf("webrtc: register audio level: %w", err)
	}
	ir := &interceptor.Registry{}
	if err := pion.ConfigureRTCPReports(ir); err != nil {
		return nil, fmt.Errorf("webrtc: rtcp reports: %w", err)
	}

	s := pion.SettingEngine{LoggerFactory: pionLogs{e.log}}
	// A server has no use for mDNS: browsers' .local candidates are found
	// as peer-reflexive from their checks. It would also listen on 5353.
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	s.SetIncludeLoopbackCandidate(e.cfg.IncludeLoopback)
	if e.cfg.Interfaces != nil {
		s.SetInterfaceFilter(e.cfg.Interfaces)
	}
	filter, err := e.ipFilter()
	if err != nil {
		return nil, err
	}
	if filter != nil {
		s.SetIPFilter(filter)
	}
	if len(e.cfg.NAT1To1IPs) > 0 {
		if err := s.SetICEAddressRewriteRules(pion.ICEAddressRewriteRule{External: e.cfg.NAT1To1IPs,
			AsCandidateType: pion.ICECandidateTypeHost}); err != nil {
			return nil, fmt.Errorf("webrtc: nat 1:1: %w", err)
		}
	}
	networks := []pion.NetworkType{pion.NetworkTypeUDP4, pion.NetworkTypeUDP6}
	switch {
	case e.cfg.UDPMuxPort != 0:
		opts := []ice.UDPMuxFromPortOption{ice.UDPMuxFromPortWithLogger(pionLogs{e.log}.NewLogger("udpmux"))}
		if e.cfg.Interfaces != nil {
			opts = append(opts, ice.UDPMuxFromPortWithInterfaceFilter(e.cfg.Interfaces))
		}
		if filter != nil {
			opts = append(opts, ice.UDPMuxFromPortWithIPFilter(filter))
		}
		if ip := net.ParseIP(e.cfg.ListenIP); e.cfg.IncludeLoopback || (ip != nil && ip.IsLoopback()) {
			opts = append(opts, ice.UDPMuxFromPortWithLoopback())
		}
		mux, err := ice.NewMultiUDPMuxFromPort(e.cfg.UDPMuxPort, opts...)
		if err != nil {
			return nil, fmt.Errorf("webrtc: udp mux on port %d: %w", e.cfg.UDPMuxPort, err)
		}
		e.udpMux = mux
		s.SetICEUDPMux(mux)
	case e.cfg.PortMin != 0 || e.cfg.PortMax != 0:
		if err := s.SetEphemeralUDPPortRange(e.cfg.PortMin, e.cfg.PortMax); err != nil {
			return nil, fmt.Errorf("webrtc: port range: %w", err)
		}
	}
	if e.cfg.ICETCPPort != 0 {
		ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.ParseIP(e.cfg.ListenIP), Port: e.cfg.ICETCPPort})
		if err != nil {
			return nil, fmt.Errorf("webrtc: ice-tcp: %w", err)
		}
		e.tcpMux = pion.NewICETCPMux(pionLogs{e.log}.NewLogger("tcpmux"), ln, 64)
		s.SetICETCPMux(e.tcpMux)
		networks = append(networks, pion.NetworkTypeTCP4, pion.NetworkTypeTCP6)
	}
	s.SetNetworkTypes(networks)
	return pion.NewAPI(pion.WithMediaEngine(m), pion.WithSettingEngine(s), pion.WithInterceptorRegistry(ir)), nil
}

// audioLevelURI is the RFC 6464 client-to-mixer audio level extension.
const audioLevelURI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"

func (e *Edge) closeMuxes() {
	if e.udpMux != nil {
		_ = e.udpMux.Close()
	}
	if e.tcpMux != nil {
		_ = e.tcpMux.Close()
	}
}

// Sessions returns the number of live sessions.
func (e *Edge) Sessions() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.sessions)
}

// Stats returns the Edge's counters.
func (e *Edge) Stats() Stats {
	return Stats{Sessions: e.Sessions(), PacketsIn: e.stats.packetsIn.Load(), PacketsOut: e.stats.packetsOut.Load(),
		Decodes: e.stats.decodes.Load(), Encodes: e.stats.encodes.Load(), BadPackets: e.stats.badIn.Load()}
}

// Close ends every session (each leaves its room), stops the muxes and
// waits for every goroutine the Edge started.
func (e *Edge) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	all := make([]*session, 0, len(e.sessions))
	for _, s := range e.sessions {
		all = append(all, s)
	}
	clear(e.sessions)
	e.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range all {
		wg.Go(func() { s.close("edge closed") })
	}
	wg.Wait()
	e.wg.Wait()
	e.closeMuxes()
	return nil
}

// end removes s and closes it.
func (e *Edge) end(s *session, reason string) {
	e.mu.Lock()
	if e.sessions[s.id] == s {
		delete(e.sessions, s.id)
	}
	e.mu.Unlock()
	s.close(reason)
}

func (e *Edge) lookup(kind, room, id string) *session {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.sessions[id]
	if s == nil || s.kind != kind || s.room != room {
		return nil
	}
	return s
}

// Handler serves the WHIP and WHEP endpoints of docs/browser-api.md.
func (e *Edge) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, kind := range []string{kindWHIP, kindWHEP} {
		mux.HandleFunc("POST /"+kind+"/{room}", func(w http.ResponseWriter, r *http.Request) { e.serveOffer(w, r, kind) })
		mux.HandleFunc("PATCH /"+kind+"/{room}/{session}", func(w http.ResponseWriter, r *http.Request) { e.servePatch(w, r, kind) })
		mux.HandleFunc("DELETE /"+kind+"/{room}/{session}", func(w http.ResponseWriter, r *http.Request) { e.serveDelete(w, r, kind) })
		mux.HandleFunc("POST /"+kind+"/{room}/{session}/mute", func(w http.ResponseWriter, r *http.Request) { e.serveMute(w, r, kind) })
	}
	return mux
}
