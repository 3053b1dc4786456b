package livestream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	pion "github.com/pion/webrtc/v4"
	pionmedia "github.com/pion/webrtc/v4/pkg/media"

	"github.com/setbridge/setbridge/media"
)

// WHIP push (RFC 9725): each connection is a new PeerConnection with one
// sendonly Opus track. The client gathers every host candidate before it
// POSTs the offer (no trickle, no ICE restart), takes the answer from the
// 201, and sends the room's shared Opus packets (the encoding Icecast
// streams use: nothing is encoded again) as RTP. When the stream stops,
// or the connection is lost, the session is closed and DELETEd at its
// Location; a lost connection reconnects from scratch with the Manager's
// back-off.
//
// Authentication: the bearer token is the password of the target's user
// info, whip+https://:TOKEN@host/path (a user name, if any, is ignored;
// percent-encode '@', '/', ':' in the token). It is sent as
// "Authorization: Bearer TOKEN" with the POST and the DELETE, and Info
// shows it as xxxxx. The query of the target, if any, is sent unchanged
// (endpoints that carry a stream key there keep working, but the key is
// then shown in Info).
//
// Not supported: ICE servers from the answer's Link headers (the client
// offers host candidates only, which suits public WHIP endpoints, the
// server finding the client as peer-reflexive), trickle ICE and ICE
// restarts (a lost connection is a new session).
//
// Loss of the connection: the peer connection going "disconnected"
// (pion's ICE: nothing heard from the server for 5 s), "failed" or
// "closed", or the RTCP of the sender ending (the server closed DTLS),
// ends the connection at once.

const (
	// whipDeleteTimeout bounds the DELETE of a session (wall clock).
	whipDeleteTimeout = 5 * time.Second
	// whipMaxAnswer bounds the answer read from the server.
	whipMaxAnswer = 64 << 10
	// whipUserAgent is sent with every request.
	whipUserAgent = "setbridge-livestream"
)

// whipOpus is the codec of the track: Opus at RTP clock 48 kHz as SDP
// requires (RFC 7587), whatever the mix rate; the packets are mono.
var whipOpus = pion.RTPCodecCapability{MimeType: pion.MimeTypeOpus, ClockRate: 48000, Channels: 2,
	SDPFmtpLine: "minptime=10;useinbandfec=1"}

// whipPusher pushes the room's shared Opus packets to a WHIP endpoint.
type whipPusher struct {
	cfg      *Config
	log      *slog.Logger
	endpoint *url.URL // the target without its user info
	token    string   // bearer token, "" for none
	api      *pion.API
	http     *http.Client
}

func newWHIPPusher(cfg *Config, t target) (*whipPusher, error) {
	u := *t.u
	var token string
	if u.User != nil {
		token, _ = u.User.Password()
		u.User = nil
	}
	api, err := newWHIPAPI(isLoopbackHost(u.Hostname()))
	if err != nil {
		return nil, err
	}
	return &whipPusher{
		cfg:      cfg,
		log:      cfg.Logger.With("kind", string(KindWHIP), "target", t.redacted()),
		endpoint: &u,
		token:    token,
		api:      api,
		// No keep-alive: a stream makes two requests per connection, and
		// no idle connection (and its goroutines) outlives a push.
		http: &http.Client{Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DisableKeepAlives:   true,
			TLSHandshakeTimeout: cfg.ConnectTimeout,
		}},
	}, nil
}

func (p *whipPusher) wantsPCM() bool { return false }
func (p *whipPusher) slotSize() int  { return maxOpusPacket }

// isLoopbackHost reports whether host is a loopback address or
// "localhost": only then does the client offer loopback candidates.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// newWHIPAPI configures pion like our WHIP server does: Opus only, RTCP
// reports, no mDNS (it would listen on 5353 and hand out .local names),
// UDP host candidates, loopback only towards a loopback endpoint.
func newWHIPAPI(loopback bool) (*pion.API, error) {
	m := &pion.MediaEngine{}
	if err := m.RegisterCodec(pion.RTPCodecParameters{RTPCodecCapability: whipOpus, PayloadType: 111},
		pion.RTPCodecTypeAudio); err != nil {
		return nil, fmt.Errorf("whip: register opus: %w", err)
	}
	ir := &interceptor.Registry{}
	if err := pion.ConfigureRTCPReports(ir); err != nil {
		return nil, fmt.Errorf("whip: rtcp reports: %w", err)
	}
	var s pion.SettingEngine
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	s.SetIncludeLoopbackCandidate(loopback)
	s.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4, pion.NetworkTypeUDP6})
	return pion.NewAPI(pion.WithMediaEngine(m), pion.WithSettingEngine(s), pion.WithInterceptorRegistry(ir)), nil
}

// authorize adds the bearer token, if any.
func (p *whipPusher) authorize(req *http.Request) {
	req.Header.Set("User-Agent", whipUserAgent)
	if p.token != "" {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
}

// requestErr strips the URL from a client error (its query may carry a
// key) and keeps the cause.
func requestErr(what string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("%s: %w", what, err)
}

// post sends the offer and returns the answer and the session's resource
// URL. The resource is returned whenever the server named one, even with
// an error, so that it can be deleted.
func (p *whipPusher) post(ctx context.Context, offer string) (answer string, resource *url.URL, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.endpoint.String(), strings.NewReader(offer))
	if err != nil {
		return "", nil, requestErr("offer", err)
	}
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set("Accept", "application/sdp")
	p.authorize(req)
	resp, err := p.http.Do(req)
	if err != nil {
		return "", nil, requestErr("post offer", err)
	}
	defer resp.Body.Close()
	body, readErr := io.ReadAll(io.LimitReader(resp.Body, whipMaxAnswer))
	if loc := resp.Header.Get("Location"); loc != "" {
		if lu, err := url.Parse(loc); err == nil {
			resource = resp.Request.URL.ResolveReference(lu)
		}
	}
	// RFC 9725 answers 201 Created; 200 is taken too.
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		msg := strings.TrimSpace(firstLine(string(body)))
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
		if msg != "" {
			msg = ": " + msg
		}
		return "", resource, fmt.Errorf("%w: %s%s", ErrRejected, resp.Status, msg)
	}
	if readErr != nil {
		return "", resource, requestErr("read answer", readErr)
	}
	if resource == nil {
		p.log.Warn("whip server gave no Location: the session cannot be deleted")
	}
	return string(body), resource, nil
}

// remove DELETEs the session's resource; errors are only logged (the
// server may be gone, or have ended the session itself).
func (p *whipPusher) remove(resource *url.URL) {
	ctx, cancel := context.WithTimeout(context.Background(), whipDeleteTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, resource.String(), nil)
	if err != nil {
		return
	}
	p.authorize(req)
	resp, err := p.http.Do(req)
	if err != nil {
		p.log.Debug("whip delete failed", "err", requestErr("delete", err))
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	p.log.Debug("whip session deleted", "status", resp.StatusCode)
}

func (p *whipPusher) push(ctx context.Context, r *frameRing, live func(), sent *atomic.Uint64) (err error) {
	// connCtx ends when the stream stops or, until the connection is up,
	// at the connect timeout (on the configured clock).
	connCtx, cancelConn := context.WithCancelCause(ctx)
	defer cancelConn(nil)
	connectTimer := p.cfg.Clock.AfterFunc(p.cfg.ConnectTimeout, func() {
		cancelConn(fmt.Errorf("%w after %v", ErrNotLive, p.cfg.ConnectTimeout))
	})
	defer connectTimer.Stop()
	// connectErr explains why a connect step ended on connCtx: nil when
	// the stream was stopped.
	connectErr := func(what string) error {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("%s: %w", what, context.Cause(connCtx))
	}

	pc, err := p.api.NewPeerConnection(pion.Configuration{})
	if err != nil {
		return fmt.Errorf("peer connection: %w", err)
	}
	var (
		resource *url.URL
		wg       sync.WaitGroup
	)
	defer func() {
		if cerr := pc.Close(); cerr != nil {
			p.log.Debug("close peer connection", "err", cerr)
		}
		wg.Wait()
		if resource != nil {
			p.remove(resource)
		}
	}()

	var state atomic.Int32
	state.Store(int32(pion.PeerConnectionStateNew))
	wake := make(chan struct{}, 1)
	pc.OnConnectionStateChange(func(st pion.PeerConnectionState) {
		state.Store(int32(st))
		select {
		case wake <- struct{}{}:
		default:
		}
	})

	track, err := pion.NewTrackLocalStaticSample(whipOpus, "audio", "setbridge")
	if err != nil {
		return fmt.Errorf("local track: %w", err)
	}
	tr, err := pc.AddTransceiverFromTrack(track, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionSendonly})
	if err != nil {
		return fmt.Errorf("add track: %w", err)
	}
	// Read RTCP so that the interceptors see the server's reports; its end
	// while the stream runs means the server closed the connection.
	rtcpEnded := make(chan error, 1)
	sender := tr.Sender()
	wg.Go(func() {
		buf := make([]byte, 1500)
		for {
			if _, _, err := sender.Read(buf); err != nil {
				rtcpEnded <- err
				return
			}
		}
	})

	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return fmt.Errorf("create offer: %w", err)
	}
	gathered := pion.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return fmt.Errorf("set offer: %w", err)
	}
	select {
	case <-gathered:
	case <-connCtx.Done():
		return connectErr("ice gathering")
	}

	answer, res, err := p.post(connCtx, pc.LocalDescription().SDP)
	resource = res
	if err != nil {
		if connCtx.Err() != nil {
			return connectErr("post offer")
		}
		return err
	}
	if err := pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: answer}); err != nil {
		return fmt.Errorf("apply answer: %w", err)
	}

	for connected := false; !connected; {
		select {
		case <-connCtx.Done():
			return connectErr(fmt.Sprintf("connect (%s)", pion.PeerConnectionState(state.Load())))
		case <-wake:
		}
		switch st := pion.PeerConnectionState(state.Load()); st {
		case pion.PeerConnectionStateConnected:
			connected = true
		case pion.PeerConnectionStateFailed, pion.PeerConnectionStateClosed:
			return fmt.Errorf("connection %s before going live", st)
		}
	}
	connectTimer.Stop()
	live()

	buf := make([]byte, maxOpusPacket)
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-rtcpEnded:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("server closed the connection (%v)", err)
		case <-wake:
			switch st := pion.PeerConnectionState(state.Load()); st {
			case pion.PeerConnectionStateDisconnected, pion.PeerConnectionStateFailed, pion.PeerConnectionStateClosed:
				return fmt.Errorf("connection %s", st)
			}
			continue
		case <-r.ready:
		}
		for {
			n, ok := r.pop(buf)
			if !ok {
				break
			}
			if err := track.WriteSample(pionmedia.Sample{Data: buf[:n], Duration: media.FrameDuration}); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("write: %w", err)
			}
			sent.Add(uint64(n))
		}
	}
}
