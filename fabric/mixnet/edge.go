package mixnet

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/setbridge/setbridge/fabric"
	"github.com/setbridge/setbridge/media"
	"github.com/setbridge/setbridge/selector"
)

// edgeRoom is a room this node is a selector node of: its participants
// here are mixed on another node.
type edgeRoom struct {
	s     *Service
	room  string
	frame int

	mixer     atomic.Pointer[string] // the mixer node's id
	threshold atomic.Uint32
	selected  atomic.Pointer[map[string]bool] // the mixer's last selection
	selSub    *nats.Subscription

	cmu    sync.Mutex
	common *ring   // the common mix; guarded by cmu
	play   playout // of the mixer's ticks; guarded by cmu
	csub   *fabric.Subscription

	mu   sync.Mutex // guards legs and sel; the tick holds it
	legs map[string]*leg
	sel  *selector.Selector
	list []*leg // the legs as a slice, rebuilt on change
	gone bool   // closed: joins must start a new room

	// Tick state, owned by the tick goroutine.
	tick    uint64
	rep     selector.EnergyReport
	notice  selector.SelectionNotice
	fwd     []selector.ForwardedFrame
	msg     []byte
	silence []int16

	done chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// leg is a local participant of an edge room.
type leg struct {
	er    *edgeRoom
	id    string
	p     media.Participant
	up    *fabric.Publisher
	enc   *encoder
	n1sub *fabric.Subscription
	muted atomic.Bool
	once  sync.Once

	mu sync.Mutex
	n1 *ring // its N-1 mix; guarded by mu
}

// Membership is a participant's place in a room mixed on another node.
type Membership struct{ l *leg }

// ID returns the participant's id in the room.
func (m Membership) ID() string { return m.l.id }

// Leave removes the participant from the room.
func (m Membership) Leave() { m.l.leave() }

// SetMuted mutes or unmutes the participant: at once here (its frames stop
// being forwarded) and at the mixer (it is no longer ranked).
func (m Membership) SetMuted(on bool) {
	l := m.l
	if l.muted.Swap(on) == on {
		return
	}
	er := l.er
	er.mu.Lock()
	er.sel.SetMuted(selector.ParticipantID(l.id), on)
	er.mu.Unlock()
	s := er.s
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if _, err := s.request(*er.mixer.Load(), "mute", muteRequest{V: fabric.WireVersion, Room: er.room, Participant: l.id, Muted: on}); err != nil {
			s.log.Warn("mute not passed on to the mixer", "room", er.room, "participant", l.id, "error", err)
		}
	}()
}

// Muted reports whether the participant is muted.
func (m Membership) Muted() bool { return m.l.muted.Load() }

// Join adds p to room, which another node mixes, with this node as its
// selector node. An empty participant id generates one.
func (s *Service) Join(room, participant string, p media.Participant) (Membership, error) {
	if participant == "" {
		participant = uuid.NewString()
	}
	mixer, ok := s.awaitMixer(room)
	if !ok {
		return Membership{}, fmt.Errorf("mixnet: no mixer node is live for room %s", room)
	}
	er, err := s.edgeRoomFor(room, mixer.ID)
	if err != nil {
		return Membership{}, err
	}
	enc, err := newEncoder(s.cfg.Rate)
	if err != nil {
		return Membership{}, err
	}
	n1, err := newRing(s.cfg.Rate, er.frame, true)
	if err != nil {
		return Membership{}, err
	}
	l := &leg{er: er, id: participant, p: p, enc: enc, n1: n1}
	if l.up, err = s.cfg.Node.Publish(uplinkStream(room, participant)); err != nil {
		er.closeIfEmpty()
		return Membership{}, err
	}
	rep, err := s.request(mixer.ID, "join", joinRequest{V: fabric.WireVersion, Room: room, Participant: participant, Node: s.cfg.Node.Info().ID})
	if err != nil {
		l.up.Close()
		er.closeIfEmpty()
		return Membership{}, err
	}
	if rep.Threshold != 0 {
		er.threshold.Store(uint32(rep.Threshold))
	}
	if l.n1sub, err = s.cfg.Node.Subscribe(mixStream(room, participant), l.onN1); err != nil {
		l.up.Close()
		er.closeIfEmpty()
		return Membership{}, err
	}
	er.mu.Lock()
	err = fabric.ErrClosed
	if !er.gone {
		err = er.sel.Add(selector.ParticipantID(participant), p)
	}
	if err == nil {
		er.legs[participant] = l
		er.relist()
	}
	er.mu.Unlock()
	if err != nil {
		l.n1sub.Close()
		l.up.Close()
		er.closeIfEmpty()
		return Membership{}, err
	}
	s.log.Info("participant joined a room mixed elsewhere", "room", room, "participant", participant, "mixer", mixer.ID)
	return Membership{l}, nil
}

func (l *leg) onN1(pkt []byte) {
	l.mu.Lock()
	ok := l.n1.packet(pkt)
	l.mu.Unlock()
	if ok {
		l.er.s.stats.mixFramesIn.Add(1)
	}
}

func (l *leg) leave() { l.end(true) }

// end takes the leg out of its room and tells the mixer; closeRoom stops
// the room when it was the last leg (false while the room is closing).
func (l *leg) end(closeRoom bool) {
	l.once.Do(func() {
		er := l.er
		er.mu.Lock()
		er.sel.Remove(selector.ParticipantID(l.id))
		delete(er.legs, l.id)
		er.relist()
		er.mu.Unlock()
		l.n1sub.Close()
		l.up.Close()
		s := er.s
		if _, err := s.request(*er.mixer.Load(), "leave", leaveRequest{V: fabric.WireVersion, Room: er.room, Participant: l.id}); err != nil {
			s.log.Warn("leave not passed on to the mixer; it will expire there", "room", er.room, "participant", l.id, "error", err)
		}
		if closeRoom {
			er.closeIfEmpty()
		}
	})
}

// edgeRoomFor returns the selector room of room, starting it on first use.
func (s *Service) edgeRoomFor(room, mixer string) (*edgeRoom, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fabric.ErrClosed
	}
	if er := s.edges[room]; er != nil {
		return er, nil
	}
	frame := media.FrameSamples(s.cfg.Rate)
	sel, err := selector.New(selector.Config{FrameSamples: frame, CacheLevel: s.cfg.Threshold})
	if err != nil {
		return nil, err
	}
	common, err := newRing(s.cfg.Rate, frame, true)
	if err != nil {
		return nil, err
	}
	er := &edgeRoom{s: s, room: room, frame: frame, sel: sel, common: common, legs: map[string]*leg{},
		silence: make([]int16, frame), done: make(chan struct{})}
	er.mixer.Store(&mixer)
	er.threshold.Store(uint32(s.cfg.Threshold))
	if er.selSub, err = s.cfg.Conn.Subscribe(selectionSubject(room), er.onSelection); err != nil {
		return nil, err
	}
	if er.csub, err = s.cfg.Node.Subscribe(mixStream(room, ""), er.onCommon); err != nil {
		_ = er.selSub.Unsubscribe()
		return nil, err
	}
	s.edges[room] = er
	tk := s.cfg.Clock.NewTicker(media.FrameDuration)
	er.wg.Add(1)
	go er.run(tk)
	return er, nil
}

func (er *edgeRoom) onSelection(m *nats.Msg) {
	var n selectionNotice
	if err := decode(m.Data, &n); err != nil {
		er.s.stats.badMessages.Add(1)
		return
	}
	sel := make(map[string]bool, len(n.Selected))
	for _, id := range n.Selected {
		sel[id] = true
	}
	er.selected.Store(&sel)
	if f := er.s.cfg.OnTalkers; f != nil {
		f(er.room, n.Selected)
	}
}

func (er *edgeRoom) onCommon(pkt []byte) {
	er.cmu.Lock()
	ok := er.common.packet(pkt)
	er.cmu.Unlock()
	if ok {
		er.s.stats.mixFramesIn.Add(1)
	}
}

// relist rebuilds the ordered leg list; er.mu is held.
func (er *edgeRoom) relist() {
	er.list = er.list[:0]
	for _, l := range er.legs {
		er.list = append(er.list, l)
	}
}

func (er *edgeRoom) run(t media.Ticker) {
	defer er.wg.Done()
	defer t.Stop()
	for {
		select {
		case <-er.done:
			return
		case <-t.C():
			er.step()
		}
	}
}

// step is one tick: measure and report every local uplink, forward the
// frames the mixer may select, and play every local participant its mix.
func (er *edgeRoom) step() {
	er.tick++
	t := er.tick
	er.mu.Lock()
	defer er.mu.Unlock()
	if len(er.list) == 0 {
		return
	}
	er.sel.Report(t, &er.rep)

	// One report for all, in a reused buffer.
	b := er.msg[:0]
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, fabric.WireVersion, 10)
	b = append(b, `,"node":`...)
	b = strconv.AppendQuote(b, er.s.cfg.Node.Info().ID)
	b = append(b, `,"tick":`...)
	b = strconv.AppendUint(b, t, 10)
	b = append(b, `,"e":[`...)
	thr := uint8(er.threshold.Load())
	sel := er.selected.Load()
	er.notice.Tick = t
	er.notice.Selected = er.notice.Selected[:0]
	for i, e := range er.rep.Entries {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"p":`...)
		b = strconv.AppendQuote(b, string(e.ParticipantID))
		b = append(b, `,"l":`...)
		b = strconv.AppendUint(b, uint64(e.Level), 10)
		b = append(b, '}')
		if e.Muted {
			continue
		}
		if e.Level <= thr || (sel != nil && (*sel)[string(e.ParticipantID)]) {
			er.notice.Selected = append(er.notice.Selected, e.ParticipantID)
		}
	}
	b = append(b, "]}"...)
	er.msg = b
	if err := er.s.cfg.Conn.Publish(energySubject(er.room), b); err == nil {
		er.s.stats.reportsOut.Add(1)
	}

	// The frames of the candidates, as uplink streams.
	er.fwd = er.sel.Forward(&er.notice, er.fwd[:0])
	for _, f := range er.fwd {
		l := er.legs[string(f.ParticipantID)]
		if l == nil || len(f.PCM) != er.frame {
			continue
		}
		pkt, err := l.enc.packet(t, f.PCM)
		if err != nil {
			er.s.stats.encodeErrors.Add(1)
			continue
		}
		if l.up.Write(pkt) == nil {
			er.s.stats.framesOut.Add(1)
		}
	}

	// Each participant hears its N-1 mix while a talker, else the common
	// mix, of the same mixer tick.
	er.cmu.Lock()
	latest := er.common.latest
	for _, l := range er.list {
		l.mu.Lock()
		latest = max(latest, l.n1.latest)
		l.mu.Unlock()
	}
	mt, ok := er.play.next(latest)
	var common []int16
	if cs := er.common.peek(mt); ok && cs != nil && cs.hasPCM {
		common = cs.pcm
	}
	for _, l := range er.list {
		l.mu.Lock()
		if n1 := l.n1.peek(mt); ok && n1 != nil && n1.hasPCM {
			l.p.WriteFrame(n1.pcm)
		} else if common != nil {
			l.p.WriteFrame(common)
		} else {
			l.p.WriteFrame(er.silence)
		}
		l.mu.Unlock()
	}
	er.cmu.Unlock()
}

// refresh renews the room's participants with its mixer, and moves them to
// another mixer when the room now hashes elsewhere (the mixer died, or
// one was added).
func (er *edgeRoom) refresh() {
	s := er.s
	mixer, ok := s.MixerFor(er.room)
	if !ok {
		return
	}
	old := *er.mixer.Load()
	er.mu.Lock()
	legs := append([]*leg(nil), er.list...)
	er.mu.Unlock()
	if mixer.ID != old {
		s.log.Info("room moves to another mixer", "room", er.room, "from", old, "to", mixer.ID)
		s.stats.moves.Add(1)
		id := mixer.ID
		er.mixer.Store(&id)
		er.cmu.Lock()
		er.common.reset()
		er.play = playout{}
		er.cmu.Unlock()
		for _, l := range legs {
			l.mu.Lock()
			l.n1.reset()
			l.mu.Unlock()
			_, _ = s.request(old, "leave", leaveRequest{V: fabric.WireVersion, Room: er.room, Participant: l.id})
		}
	}
	for _, l := range legs {
		rep, err := s.request(mixer.ID, "join", joinRequest{V: fabric.WireVersion, Room: er.room, Participant: l.id,
			Node: s.cfg.Node.Info().ID, Muted: l.muted.Load()})
		if err != nil {
			s.log.Warn("mixer did not renew a participant", "room", er.room, "participant", l.id, "mixer", mixer.ID, "error", err)
			continue
		}
		if rep.Threshold != 0 {
			er.threshold.Store(uint32(rep.Threshold))
		}
	}
}

// closeIfEmpty stops the room when its last local participant has left.
func (er *edgeRoom) closeIfEmpty() {
	s := er.s
	s.mu.Lock()
	er.mu.Lock()
	empty := len(er.legs) == 0 && s.edges[er.room] == er
	if empty {
		delete(s.edges, er.room)
		er.gone = true
	}
	er.mu.Unlock()
	s.mu.Unlock()
	if empty {
		er.close()
	}
}

func (er *edgeRoom) close() {
	er.once.Do(func() {
		er.mu.Lock()
		er.gone = true
		er.mu.Unlock()
		close(er.done)
		er.wg.Wait()
		_ = er.selSub.Unsubscribe()
		er.csub.Close()
		er.mu.Lock()
		legs := append([]*leg(nil), er.list...)
		er.mu.Unlock()
		for _, l := range legs {
			l.end(false)
		}
	})
}
