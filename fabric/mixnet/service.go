package mixnet

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/setbridge/setbridge/fabric"
	"github.com/setbridge/setbridge/media"
)

// Member is a participant's place in the room on the mixer node.
type Member interface {
	Leave()
	SetMuted(bool)
}

// Config configures a Service.
type Config struct {
	// Node is this node of the fabric, and Conn its control plane.
	Node *fabric.Node
	Conn *nats.Conn
	// Rate is the mixer engine's PCM rate.
	Rate int
	// Threshold is this node's mixer's talking threshold in -dBov (the
	// engine's Config.Threshold); selector nodes forward frames at least
	// this loud.
	Threshold uint8
	// Join adds a participant of another node to the local mixer engine
	// under the given id (on a mixer node).
	Join func(room, participant string, p media.Participant) (Member, error)
	// Tap taps a room's common mix on the local engine (mixerengine's
	// Engine.Tap): the mixer numbers its streams by the room's tick.
	Tap func(room string, fn func(tick uint64, mix []int16)) (stop func())
	// OnTalkers, if set, is told the selection of each room this node is a
	// selector node of, whenever the mixer announces a change.
	OnTalkers func(room string, talkers []string)
	// Expiry is how long a remote participant stays without a word from
	// its node (default 3 s); Refresh how often selector nodes renew their
	// participants with the mixer and check that it is still the room's
	// (default 1 s).
	Expiry, Refresh time.Duration
	Clock           media.Clock
	Logger          *slog.Logger
}

// Service is one node's part of the split mixer engine: the mixer of the
// rooms that hash to it, and the selector node of the rooms its own
// participants are in but that are mixed elsewhere.
type Service struct {
	cfg   Config
	log   *slog.Logger
	stats counters
	subs  []*nats.Subscription

	mu     sync.Mutex
	mixing map[string]*mixRoom  // guarded by mu
	edges  map[string]*edgeRoom // guarded by mu
	closed bool                 // guarded by mu

	done chan struct{}
	wg   sync.WaitGroup
}

type counters struct {
	reportsIn, reportsOut, framesIn, framesOut atomic.Uint64
	n1Frames, commonFrames, mixFramesIn        atomic.Uint64
	encodeErrors, badMessages, expired, moves  atomic.Uint64
}

// Stats are a Service's counters.
type Stats struct {
	// Mixer side: energy reports received, forwarded frames received, N-1
	// and common mix frames sent, participants dropped because their node
	// went silent.
	ReportsIn    uint64 `json:"reports_in"`
	FramesIn     uint64 `json:"frames_in"`
	N1Frames     uint64 `json:"n1_frames"`
	CommonFrames uint64 `json:"common_frames"`
	Expired      uint64 `json:"expired"`
	// Selector side: energy reports and frames sent, mix frames received,
	// rooms moved to another mixer.
	ReportsOut  uint64 `json:"reports_out"`
	FramesOut   uint64 `json:"frames_out"`
	MixFramesIn uint64 `json:"mix_frames_in"`
	Moves       uint64 `json:"moves"`
	// MixingRooms and EdgeRooms count the rooms this node mixes for
	// others, and the rooms it is a selector node of.
	MixingRooms int    `json:"mixing_rooms"`
	EdgeRooms   int    `json:"edge_rooms"`
	Errors      uint64 `json:"errors"`
}

// New starts a node's split mixer service.
func New(cfg Config) (*Service, error) {
	if cfg.Node == nil || cfg.Conn == nil || cfg.Join == nil || cfg.Tap == nil {
		return nil, errors.New("mixnet: a node, a NATS connection, Join and Tap are required")
	}
	if cfg.Rate == 0 {
		cfg.Rate = 48000
	}
	if cfg.Threshold == 0 {
		cfg.Threshold = 50
	}
	if cfg.Expiry <= 0 {
		cfg.Expiry = 3 * time.Second
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = media.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Service{cfg: cfg, log: cfg.Logger.With("component", "mixnet", "node", cfg.Node.Info().ID),
		mixing: map[string]*mixRoom{}, edges: map[string]*edgeRoom{}, done: make(chan struct{})}
	id := cfg.Node.Info().ID
	for verb, h := range map[string]nats.MsgHandler{"join": s.onJoin, "leave": s.onLeave, "mute": s.onMute} {
		sub, err := cfg.Conn.Subscribe(nodeSubject(id, verb), h)
		if err != nil {
			s.unsubscribe()
			return nil, fmt.Errorf("mixnet: subscribing: %w", err)
		}
		s.subs = append(s.subs, sub)
	}
	s.wg.Add(1)
	go s.maintain()
	return s, nil
}

func (s *Service) unsubscribe() {
	for _, sub := range s.subs {
		_ = sub.Unsubscribe()
	}
	s.subs = nil
}

// MixerFor returns the node that mixes room: the first by rendezvous rank
// of the room over the live nodes with the mixer role.
func (s *Service) MixerFor(room string) (fabric.NodeInfo, bool) {
	var ms []fabric.NodeInfo
	for _, n := range s.cfg.Node.Live() {
		if n.Has(fabric.RoleMixer) {
			ms = append(ms, n)
		}
	}
	if len(ms) == 0 {
		return fabric.NodeInfo{}, false
	}
	return fabric.Rank(room, ms)[0], true
}

// Local reports whether room is mixed on this node. While no mixer is
// live (a fabric starting up), a node with the mixer role mixes its own
// rooms and one without waits for a mixer in Join: it never starts a mix
// of its own that the rest of the room would not be in.
func (s *Service) Local(room string) bool {
	m, ok := s.MixerFor(room)
	if !ok {
		return s.cfg.Node.Info().Has(fabric.RoleMixer)
	}
	return m.ID == s.cfg.Node.Info().ID
}

// mixerWait is how long Join waits for a mixer node to be heard of.
const mixerWait = 3 * time.Second

// awaitMixer returns the room's mixer, waiting up to mixerWait for one to
// appear.
func (s *Service) awaitMixer(room string) (fabric.NodeInfo, bool) {
	if m, ok := s.MixerFor(room); ok {
		return m, true
	}
	t := s.cfg.Clock.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	deadline := s.cfg.Clock.Now().Add(mixerWait)
	for {
		select {
		case <-s.done:
			return fabric.NodeInfo{}, false
		case <-t.C():
		}
		if m, ok := s.MixerFor(room); ok {
			return m, true
		}
		if !s.cfg.Clock.Now().Before(deadline) {
			return fabric.NodeInfo{}, false
		}
	}
}

// Stats returns the service's counters.
func (s *Service) Stats() Stats {
	s.mu.Lock()
	mixing, edges := len(s.mixing), len(s.edges)
	s.mu.Unlock()
	c := &s.stats
	return Stats{ReportsIn: c.reportsIn.Load(), FramesIn: c.framesIn.Load(), N1Frames: c.n1Frames.Load(),
		CommonFrames: c.commonFrames.Load(), Expired: c.expired.Load(), ReportsOut: c.reportsOut.Load(),
		FramesOut: c.framesOut.Load(), MixFramesIn: c.mixFramesIn.Load(), Moves: c.moves.Load(),
		MixingRooms: mixing, EdgeRooms: edges, Errors: c.encodeErrors.Load() + c.badMessages.Load()}
}

// maintain drops remote participants gone silent and keeps each selector
// room with its mixer.
func (s *Service) maintain() {
	defer s.wg.Done()
	t := s.cfg.Clock.NewTicker(s.cfg.Refresh)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C():
			now := s.cfg.Clock.Now()
			s.expireRemotes(now)
			s.mu.Lock()
			edges := make([]*edgeRoom, 0, len(s.edges))
			for _, er := range s.edges {
				edges = append(edges, er)
			}
			s.mu.Unlock()
			for _, er := range edges {
				er.refresh()
			}
		}
	}
}

// Close leaves every room: selector rooms tell their mixers, mixed rooms
// drop their remote participants.
func (s *Service) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	edges := make([]*edgeRoom, 0, len(s.edges))
	for _, er := range s.edges {
		edges = append(edges, er)
	}
	mixing := make([]*mixRoom, 0, len(s.mixing))
	for _, mr := range s.mixing {
		mixing = append(mixing, mr)
	}
	s.mu.Unlock()
	close(s.done)
	s.unsubscribe()
	for _, er := range edges {
		er.close()
	}
	for _, mr := range mixing {
		mr.mu.Lock()
		ids := make([]string, 0, len(mr.remotes))
		for id := range mr.remotes {
			ids = append(ids, id)
		}
		mr.mu.Unlock()
		for _, id := range ids {
			s.removeRemote(mr, id)
		}
	}
	s.wg.Wait()
}

// request sends a control request to node and decodes its reply.
func (s *Service) request(node, verb string, req any) (joinReply, error) {
	var rep joinReply
	m, err := s.cfg.Conn.Request(nodeSubject(node, verb), encode(req), 500*time.Millisecond)
	if err != nil {
		return rep, fmt.Errorf("mixnet: %s at %s: %w", verb, node, err)
	}
	if err := decode(m.Data, &rep); err != nil {
		return rep, err
	}
	if rep.Error != "" {
		return rep, fmt.Errorf("mixnet: %s at %s: %s", verb, node, rep.Error)
	}
	return rep, nil
}

func encode(v any) []byte { return fabric.Encode(v) }

func decode(data []byte, v any) error { return fabric.Decode(data, v, fabric.WireVersion, "mixnet") }

func respond(m *nats.Msg, r joinReply) { _ = m.Respond(encode(r)) }
