package webrtc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	pion "github.com/pion/webrtc/v4"

	"github.com/setbridge/setbridge/media"
)

const (
	kindWHIP = "whip"
	kindWHEP = "whep"
)

// session is one WHIP or WHEP resource: a peer connection, its leg and its
// place in a room.
type session struct {
	id, kind, room string
	edge           *Edge
	log            *slog.Logger
	pc             *pion.PeerConnection
	leg            *leg
	member         Membership // set once before the session is published

	state atomic.Int32  // the last pion.PeerConnectionState
	wake  chan struct{} // size 1: the state changed

	mu        sync.Mutex // guards the fields below and serialises PATCHes
	etag      string
	remoteSDP string // the remote offer, as last applied
	closed    bool

	done chan struct{}
	once sync.Once
	wg   sync.WaitGroup // the read and RTCP goroutines
}

func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// mimeOf returns pion's MIME type of a media codec.
func mimeOf(c media.Codec) string { return "audio/" + c.Name }

// newSession negotiates offer and joins the room. On error nothing is left
// behind: no peer connection, goroutine or membership.
func (e *Edge) newSession(ctx context.Context, kind, room string, who Identity, offer string, codec media.Codec) (*session, string, error) {
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return nil, "", ErrClosed
	}
	pc, err := e.api.NewPeerConnection(pion.Configuration{})
	if err != nil {
		return nil, "", fmt.Errorf("new peer connection: %w", err)
	}
	id := randomID(16)
	s := &session{id: id, kind: kind, room: room, edge: e, pc: pc, wake: make(chan struct{}, 1),
		done: make(chan struct{}), etag: `"` + randomID(8) + `"`, remoteSDP: offer,
		log: e.log.With("room", room, "session", id, "kind", kind, "identity", who.Identity)}
	ok := false
	defer func() {
		if !ok {
			s.closePC()
		}
	}()
	s.state.Store(int32(pion.PeerConnectionStateNew))
	pc.OnConnectionStateChange(s.onState)
	pc.OnTrack(s.onTrack)
	if err := pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeOffer, SDP: offer}); err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrBadOffer, err)
	}
	channels := uint16(0)
	if codec.Name == media.Opus.Name {
		channels = 2
	}
	track, err := pion.NewTrackLocalStaticRTP(pion.RTPCodecCapability{MimeType: mimeOf(codec), ClockRate: codec.ClockRate,
		Channels: channels}, "audio", "setbridge")
	if err != nil {
		return nil, "", fmt.Errorf("local track: %w", err)
	}
	sender, err := pc.AddTrack(track)
	if err != nil {
		return nil, "", fmt.Errorf("add track: %w", err)
	}
	s.leg, err = newLeg(s.log, e.conf.Rate(), codec, track, kind == kindWHIP, &e.stats,
		uint16(mrand.Uint32()), mrand.Uint32())
	if err != nil {
		return nil, "", err
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return nil, "", fmt.Errorf("%w: create answer: %w", ErrBadOffer, err)
	}
	local, err := s.setLocalAndGather(ctx, answer)
	if err != nil {
		return nil, "", err
	}
	if kind == kindWHIP && !strings.Contains(local, "a=recvonly") && !strings.Contains(local, "a=sendrecv") {
		return nil, "", fmt.Errorf("%w: the offer sends no audio", ErrBadOffer)
	}
	who.End = func(reason string) { go e.end(s, reason) }
	s.member, err = e.conf.Join(room, s.leg, who)
	if err != nil {
		return nil, "", fmt.Errorf("join %s: %w", room, err)
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		s.member.Leave()
		return nil, "", ErrClosed
	}
	e.sessions[id] = s
	e.wg.Add(1)
	e.mu.Unlock()
	ok = true
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		// Read RTCP so that pion's interceptors see the reports.
		buf := make([]byte, 1500)
		for {
			if _, _, err := sender.Read(buf); err != nil {
				return
			}
		}
	}()
	go func() {
		defer e.wg.Done()
		s.monitor()
	}()
	s.log.Info("session started", "participant", s.member.ID(), "codec", codec.Name)
	return s, local, nil
}

// setLocalAndGather applies our answer and waits for ICE gathering to
// complete, so that the SDP returned holds every candidate.
func (s *session) setLocalAndGather(ctx context.Context, answer pion.SessionDescription) (string, error) {
	gathered := pion.GatheringCompletePromise(s.pc)
	if err := s.pc.SetLocalDescription(answer); err != nil {
		return "", fmt.Errorf("%w: set local description: %w", ErrBadOffer, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.edge.cfg.GatherTimeout)
	defer cancel()
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", fmt.Errorf("ice gathering: %w", ctx.Err())
	}
	return s.pc.LocalDescription().SDP, nil
}

// onState runs on pion's goroutine; the monitor acts on it.
func (s *session) onState(st pion.PeerConnectionState) {
	s.state.Store(int32(st))
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// onTrack starts reading the remote audio track (WHIP only).
func (s *session) onTrack(tr *pion.TrackRemote, rx *pion.RTPReceiver) {
	if s.kind != kindWHIP || tr.Kind() != pion.RTPCodecTypeAudio {
		return
	}
	name, _ := strings.CutPrefix(strings.ToLower(tr.Codec().MimeType), "audio/")
	c, err := media.CodecByName(name)
	if err != nil || c.SampleRate == 0 {
		s.log.Warn("uplink codec not supported", "mime", tr.Codec().MimeType)
		return
	}
	var ext uint8
	for _, h := range rx.GetParameters().HeaderExtensions {
		if h.URI == audioLevelURI {
			ext = uint8(h.ID)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.leg.jb != nil {
		return // closing, or a second audio track: we take the first
	}
	if err := s.leg.startUplink(c, uint8(tr.PayloadType()), ext, s.edge.cfg.JitterDepth); err != nil {
		s.log.Warn("uplink not started", "error", err)
		return
	}
	s.log.Debug("uplink started", "codec", c.Name, "audio_level_ext", ext)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		buf := make([]byte, 1500)
		for {
			n, _, err := tr.Read(buf)
			if err != nil {
				return
			}
			s.leg.push(buf[:n])
		}
	}()
}

// monitor ends the session when its connection fails, closes, stays
// disconnected for DisconnectTimeout or never connects within
// ConnectTimeout.
func (s *session) monitor() {
	cfg := s.edge.cfg
	timer := time.NewTimer(cfg.ConnectTimeout)
	defer timer.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-timer.C:
			s.edge.end(s, "ice timeout")
			return
		case <-s.wake:
		}
		switch st := pion.PeerConnectionState(s.state.Load()); st {
		case pion.PeerConnectionStateConnected:
			timer.Stop()
			s.leg.sending.Store(true)
		case pion.PeerConnectionStateDisconnected:
			timer.Reset(cfg.DisconnectTimeout)
		case pion.PeerConnectionStateFailed, pion.PeerConnectionStateClosed:
			s.edge.end(s, "connection "+st.String())
			return
		}
	}
}

// closePC closes the peer connection and waits for the session's
// goroutines; it does not touch the membership.
func (s *session) closePC() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	if err := s.pc.Close(); err != nil {
		s.log.Debug("close peer connection", "error", err)
	}
	s.wg.Wait()
}

// close leaves the room, closes the peer connection and waits for the
// session's goroutines; safe to call more than once.
func (s *session) close(reason string) {
	s.once.Do(func() {
		close(s.done)
		s.leg.sending.Store(false)
		if s.member != nil {
			s.member.Leave()
		}
		s.closePC()
		s.log.Info("session ended", "reason", reason)
	})
}

// restartICE applies an ICE restart (RFC 9725 §4.3.2): the stored offer
// with the client's new credentials, a new answer, and our new sdpfrag.
func (s *session) restartICE(ctx context.Context, f iceFrag) (frag, etag string, err error) {
	offer := withICE(s.remoteSDP, f.ufrag, f.pwd)
	if err := s.pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeOffer, SDP: offer}); err != nil {
		return "", "", fmt.Errorf("%w: ice restart: %w", ErrBadOffer, err)
	}
	s.remoteSDP = offer
	s.addCandidates(f)
	answer, err := s.pc.CreateAnswer(nil)
	if err != nil {
		return "", "", fmt.Errorf("ice restart: create answer: %w", err)
	}
	local, err := s.setLocalAndGather(ctx, answer)
	if err != nil {
		return "", "", err
	}
	s.etag = `"` + randomID(8) + `"`
	s.log.Info("ice restarted")
	return answerFrag(local), s.etag, nil
}

// addCandidates adds the client's trickled candidates.
func (s *session) addCandidates(f iceFrag) {
	for _, c := range f.candidates {
		init := pion.ICECandidateInit{Candidate: c}
		if f.mid != "" {
			init.SDPMid = &f.mid
		} else {
			zero := uint16(0)
			init.SDPMLineIndex = &zero
		}
		if err := s.pc.AddICECandidate(init); err != nil && !errors.Is(err, context.Canceled) {
			s.log.Debug("remote candidate refused", "candidate", c, "error", err)
		}
	}
}
