package mixnet

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/setbridge/setbridge/fabric"
	"github.com/setbridge/setbridge/media"
	"github.com/setbridge/setbridge/selector"
)

// mixRoom is a room this node mixes for participants on other nodes.
type mixRoom struct {
	s      *Service
	room   string
	energy *nats.Subscription
	common *fabric.Publisher
	cenc   *encoder // wraps the room's shared Opus payload; guarded by cmu
	cmu    sync.Mutex
	ctick  atomic.Uint64 // the last tick whose common mix was published
	tap    func()
	tick   atomic.Uint64 // the room's last tick, from its tap

	mu      sync.Mutex
	remotes map[string]*remote // by participant id; guarded by mu
}

// remote is a participant of another node as the mixer engine sees it: a
// LevelReader ranked by the energies its node reports, whose frames come
// in as an uplink stream, and whose N-1 mix goes back as a stream.
type remote struct {
	mr     *mixRoom
	id     string
	node   string
	member Member
	up     *fabric.Subscription
	n1     *fabric.Publisher
	enc    *encoder
	seen   atomic.Int64 // unix nanos of the last report naming it

	mu  sync.Mutex
	in  *ring // guarded by mu
	cur *slot // this tick's slot, set by ReadLevel; guarded by mu
}

// ReadLevel is the level the participant's node reported for the tick
// being played out.
func (p *remote) ReadLevel() (uint8, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cur = p.in.next()
	if p.cur == nil || !p.cur.hasLevel {
		return selector.Silence, false
	}
	return p.cur.level, true
}

// ReadFrame hands the frame of the tick ReadLevel played out, when the
// participant's node forwarded it.
func (p *remote) ReadFrame(dst []int16) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == nil || !p.cur.hasPCM {
		return false
	}
	copy(dst, p.cur.pcm)
	return true
}

// WriteFrame sends the participant its N-1 mix: the room calls it only
// while the participant is a talker.
func (p *remote) WriteFrame(pcm []int16) {
	t := p.mr.tick.Load() + 1 // the tap of this tick has not run yet
	pkt, err := p.enc.packet(t, pcm)
	if err != nil {
		p.mr.s.stats.encodeErrors.Add(1)
		return
	}
	_ = p.n1.Write(pkt)
	p.mr.s.stats.n1Frames.Add(1)
}

// DownlinkFormat asks for the room's shared Opus encoding of the common
// mix, which the first listener of each tick publishes once for every
// selector node.
func (p *remote) DownlinkFormat() media.FormatKey { return media.FormatKey{Codec: media.Opus.Name} }

// WriteShared publishes the common mix, once per tick whatever the number
// of remote listeners.
func (p *remote) WriteShared(f *media.SharedFrame) {
	mr := p.mr
	if old := mr.ctick.Load(); old == f.Tick || !mr.ctick.CompareAndSwap(old, f.Tick) {
		return
	}
	mr.cmu.Lock()
	for _, pk := range f.Packets {
		_ = mr.common.Write(mr.cenc.payload(f.Tick, pk.Payload))
		mr.s.stats.commonFrames.Add(1)
	}
	mr.cmu.Unlock()
}

// onUplink decodes a forwarded frame (on the fabric's receive goroutine).
func (p *remote) onUplink(pkt []byte) {
	p.mu.Lock()
	ok := p.in.packet(pkt)
	p.mu.Unlock()
	if ok {
		p.mr.s.stats.framesIn.Add(1)
	}
}

// onJoin serves a selector node's join request.
func (s *Service) onJoin(m *nats.Msg) {
	var req joinRequest
	if err := decode(m.Data, &req); err != nil {
		respond(m, joinReply{V: fabric.WireVersion, Error: err.Error()})
		return
	}
	if err := s.addRemote(req); err != nil {
		s.log.Warn("remote participant refused", "room", req.Room, "participant", req.Participant, "node", req.Node, "error", err)
		respond(m, joinReply{V: fabric.WireVersion, Error: err.Error()})
		return
	}
	respond(m, joinReply{V: fabric.WireVersion, Threshold: s.cfg.Threshold, Rate: s.cfg.Rate})
}

func (s *Service) addRemote(req joinRequest) error {
	if req.Room == "" || req.Participant == "" || req.Node == "" {
		return fmt.Errorf("mixnet: a join names a room, a participant and a node")
	}
	mr, err := s.mixRoomFor(req.Room)
	if err != nil {
		return err
	}
	mr.mu.Lock()
	if old := mr.remotes[req.Participant]; old != nil {
		// A selector node that joins again (it missed our reply): keep it.
		mr.mu.Unlock()
		old.seen.Store(s.cfg.Clock.Now().UnixNano())
		return nil
	}
	mr.mu.Unlock()
	frame := media.FrameSamples(s.cfg.Rate)
	in, err := newRing(s.cfg.Rate, frame, true)
	if err != nil {
		return err
	}
	enc, err := newEncoder(s.cfg.Rate)
	if err != nil {
		return err
	}
	p := &remote{mr: mr, id: req.Participant, node: req.Node, in: in, enc: enc}
	p.seen.Store(s.cfg.Clock.Now().UnixNano())
	if p.n1, err = s.cfg.Node.Publish(mixStream(req.Room, req.Participant)); err != nil {
		return err
	}
	// Ranked before it is heard: the member joins first, so that the
	// reports naming it find it.
	mr.mu.Lock()
	mr.remotes[p.id] = p
	mr.mu.Unlock()
	if p.member, err = s.cfg.Join(req.Room, req.Participant, p); err != nil {
		mr.mu.Lock()
		delete(mr.remotes, p.id)
		mr.mu.Unlock()
		p.n1.Close()
		s.dropRoomIfEmpty(mr)
		return err
	}
	if req.Muted {
		p.member.SetMuted(true)
	}
	if p.up, err = s.cfg.Node.Subscribe(uplinkStream(req.Room, req.Participant), p.onUplink); err != nil {
		s.removeRemote(mr, p.id)
		return err
	}
	s.log.Info("remote participant joined", "room", req.Room, "participant", p.id, "node", p.node)
	return nil
}

func (s *Service) onLeave(m *nats.Msg) {
	var req leaveRequest
	if err := decode(m.Data, &req); err != nil {
		respond(m, joinReply{V: fabric.WireVersion, Error: err.Error()})
		return
	}
	s.mu.Lock()
	mr := s.mixing[req.Room]
	s.mu.Unlock()
	if mr != nil {
		s.removeRemote(mr, req.Participant)
	}
	respond(m, joinReply{V: fabric.WireVersion})
}

func (s *Service) onMute(m *nats.Msg) {
	var req muteRequest
	if err := decode(m.Data, &req); err != nil {
		respond(m, joinReply{V: fabric.WireVersion, Error: err.Error()})
		return
	}
	s.mu.Lock()
	mr := s.mixing[req.Room]
	s.mu.Unlock()
	var p *remote
	if mr != nil {
		mr.mu.Lock()
		p = mr.remotes[req.Participant]
		mr.mu.Unlock()
	}
	if p == nil {
		respond(m, joinReply{V: fabric.WireVersion, Error: "mixnet: no such participant here"})
		return
	}
	p.member.SetMuted(req.Muted)
	respond(m, joinReply{V: fabric.WireVersion})
}

// onEnergy files a selector node's report with each participant it names.
func (mr *mixRoom) onEnergy(m *nats.Msg) {
	// Every selector node sends one each tick: parse it once and check
	// its version after, rather than through decode's two passes.
	var rep energyReport
	if err := json.Unmarshal(m.Data, &rep); err != nil || rep.V != fabric.WireVersion {
		mr.s.stats.badMessages.Add(1)
		return
	}
	now := mr.s.cfg.Clock.Now().UnixNano()
	mr.mu.Lock()
	defer mr.mu.Unlock()
	for _, e := range rep.Entries {
		p := mr.remotes[e.P]
		if p == nil || p.node != rep.Node {
			continue
		}
		p.seen.Store(now)
		p.mu.Lock()
		p.in.level(rep.Tick, e.Level)
		p.mu.Unlock()
	}
	mr.s.stats.reportsIn.Add(1)
}

// mixRoomFor returns the room this node mixes, starting it on first use.
func (s *Service) mixRoomFor(room string) (*mixRoom, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fabric.ErrClosed
	}
	if mr := s.mixing[room]; mr != nil {
		return mr, nil
	}
	cenc, err := newEncoder(s.cfg.Rate)
	if err != nil {
		return nil, err
	}
	mr := &mixRoom{s: s, room: room, cenc: cenc, remotes: map[string]*remote{}}
	if mr.common, err = s.cfg.Node.Publish(mixStream(room, "")); err != nil {
		return nil, err
	}
	if mr.energy, err = s.cfg.Conn.Subscribe(energySubject(room), mr.onEnergy); err != nil {
		mr.common.Close()
		return nil, err
	}
	mr.tap = s.cfg.Tap(room, func(t uint64, _ []int16) { mr.tick.Store(t) })
	s.mixing[room] = mr
	return mr, nil
}

func (s *Service) removeRemote(mr *mixRoom, id string) {
	mr.mu.Lock()
	p := mr.remotes[id]
	delete(mr.remotes, id)
	mr.mu.Unlock()
	if p == nil {
		return
	}
	if p.up != nil {
		p.up.Close()
	}
	if p.member != nil {
		p.member.Leave()
	}
	p.n1.Close()
	s.log.Info("remote participant left", "room", mr.room, "participant", id, "node", p.node)
	s.dropRoomIfEmpty(mr)
}

// dropRoomIfEmpty stops mixing a room for others once it has no remote
// participant left.
func (s *Service) dropRoomIfEmpty(mr *mixRoom) {
	s.mu.Lock()
	mr.mu.Lock()
	empty := len(mr.remotes) == 0 && s.mixing[mr.room] == mr
	if empty {
		delete(s.mixing, mr.room)
	}
	mr.mu.Unlock()
	s.mu.Unlock()
	if empty {
		mr.stop()
	}
}

func (mr *mixRoom) stop() {
	_ = mr.energy.Unsubscribe()
	mr.tap()
	mr.common.Close()
}

// Talkers publishes a room's new selection to its selector nodes; the
// engine's OnTalkers calls it on the room's tick goroutine.
func (s *Service) Talkers(room string, tick uint64, talkers []selector.ParticipantID) {
	s.mu.Lock()
	mr := s.mixing[room]
	s.mu.Unlock()
	if mr == nil {
		return
	}
	n := selectionNotice{V: fabric.WireVersion, Tick: tick, Selected: make([]string, len(talkers))}
	for i, t := range talkers {
		n.Selected[i] = string(t)
	}
	_ = s.cfg.Conn.Publish(selectionSubject(room), encode(n))
}

// expireRemotes drops the remote participants whose node has not reported
// them for a while: the node died or lost the room.
func (s *Service) expireRemotes(now time.Time) {
	s.mu.Lock()
	rooms := make([]*mixRoom, 0, len(s.mixing))
	for _, mr := range s.mixing {
		rooms = append(rooms, mr)
	}
	s.mu.Unlock()
	limit := now.Add(-s.cfg.Expiry).UnixNano()
	for _, mr := range rooms {
		var gone []string
		mr.mu.Lock()
		for id, p := range mr.remotes {
			if p.seen.Load() < limit {
				gone = append(gone, id)
			}
		}
		mr.mu.Unlock()
		for _, id := range gone {
			s.log.Warn("remote participant's node went silent; dropping it", "room", mr.room, "participant", id)
			s.stats.expired.Add(1)
			s.removeRemote(mr, id)
		}
	}
}
