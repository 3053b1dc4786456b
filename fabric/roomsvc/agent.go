package roomsvc

import (
	"errors"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/setbridge/setbridge/fabric"
	"github.com/setbridge/setbridge/media"
	"github.com/setbridge/setbridge/roster"
)

// Defaults of the services' configs.
const (
	DefaultHeartbeat = 250 * time.Millisecond
	DefaultExpiry    = 2 * time.Second
	DefaultWindow    = 150 * time.Millisecond
	DefaultCacheTTL  = 2 * time.Second
	DefaultTimeout   = 500 * time.Millisecond
)

// AgentConfig configures an Agent.
type AgentConfig struct {
	// Node is this machine's fabric node, and Conn its control plane.
	Node *fabric.Node
	Conn *nats.Conn
	// OnCommand applies a moderation command to a local participant
	// (mute, unmute, kick) or to the machine's part of a room (mute_all,
	// unmute_all, lock, unlock, end). The machine reports what changed
	// through Update and Leave. It runs on its own goroutine; an error
	// goes back to whoever asked.
	OnCommand func(Command) error
	// OnEvent is told every change of every room this machine holds,
	// this machine's own included, in order, for the machine's clients
	// (the roster's event stream). It must not block for long.
	OnEvent func(room string, ev Event)
	// Heartbeat is how often the agent checks which SET service serves
	// each room and renews its registrations (default 250 ms); Timeout
	// bounds a request (default 500 ms).
	Heartbeat, Timeout time.Duration
	Clock              media.Clock
	Logger             *slog.Logger
}

// Agent is a machine's part of the room service: it registers the rooms
// of its local participants with its SET's room service, reports their
// changes, and hands the machine the commands and events from above.
type Agent struct {
	cfg  AgentConfig
	info fabric.NodeInfo
	log  *slog.Logger
	up   uplink
	subs []*nats.Subscription

	mu     sync.Mutex
	rooms  map[string]*agentRoom // guarded by mu
	closed bool                  // guarded by mu
	epoch  int64                 // of the last registration; guarded by mu

	eventsIn, batchesIn, commands atomic.Uint64

	poke chan struct{}
	done chan struct{}
	wg   sync.WaitGroup
}

type agentRoom struct {
	members   map[string]roster.Participant
	speaking  []string
	recording *RecordingState
	locked    bool
}

// AgentStats are an Agent's counters.
type AgentStats struct {
	Rooms         int    `json:"rooms"`
	Participants  int    `json:"participants"`
	Registrations uint64 `json:"registrations"` // full registrations sent
	Deltas        uint64 `json:"deltas"`        // delta messages sent
	Moves         uint64 `json:"moves"`         // rooms moved to another SET service
	BeatErrors    uint64 `json:"beat_errors"`
	BatchesIn     uint64 `json:"batches_in"` // event messages from the SET service
	EventsIn      uint64 `json:"events_in"`
	Commands      uint64 `json:"commands"`
}

// NewAgent starts a machine's agent.
func NewAgent(cfg AgentConfig) (*Agent, error) {
	if cfg.Node == nil || cfg.Conn == nil {
		return nil, errors.New("roomsvc: an agent needs a node and a NATS connection")
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Clock == nil {
		cfg.Clock = media.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	info := cfg.Node.Info()
	a := &Agent{cfg: cfg, info: info, rooms: make(map[string]*agentRoom),
		log:  cfg.Logger.With("component", "roomsvc-agent", "node", info.ID),
		poke: make(chan struct{}, 1), done: make(chan struct{})}
	a.up = uplink{nc: cfg.Conn, from: info.ID, set: info.Set, clock: cfg.Clock, log: a.log,
		timeout: cfg.Timeout, deadFor: 8 * cfg.Heartbeat, subject: subjectSet,
		candidates: func(room string) []string { return setServices(cfg.Node, room) },
		key:        func(room string) string { return room },
		wake:       func() { a.wake() },
		snapshot:   a.snapshotLocked}
	a.up.init(&a.mu)
	handlers := []struct {
		subj string
		h    nats.MsgHandler
	}{
		{subjectAgent(info.ID), a.onMessage},
		{subjectAgent(info.ID) + ".q", a.onCommand},
		{subjectHello(info.Set), func(*nats.Msg) { a.wake() }},
	}
	for _, h := range handlers {
		s, err := cfg.Conn.Subscribe(h.subj, h.h)
		if err != nil {
			a.unsubscribe()
			return nil, err
		}
		a.subs = append(a.subs, s)
	}
	a.wg.Add(1)
	go a.run()
	return a, nil
}

func (a *Agent) unsubscribe() {
	for _, s := range a.subs {
		_ = s.Unsubscribe()
	}
	a.subs = nil
}

func (a *Agent) wake() {
	select {
	case a.poke <- struct{}{}:
	default:
	}
}

func (a *Agent) run() {
	defer a.wg.Done()
	t := a.cfg.Clock.NewTicker(a.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-a.done:
			return
		case <-t.C():
		case <-a.poke:
		}
		a.up.beat()
	}
}

// Close deregisters every room (its participants leave the lists) and
// stops the agent.
func (a *Agent) Close() {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return
	}
	a.closed = true
	for room := range a.rooms {
		a.up.byeLocked(room)
	}
	a.mu.Unlock()
	_ = a.cfg.Conn.Flush()
	a.stop()
}

// kill stops the agent as a crash would: no goodbye.
func (a *Agent) kill() {
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	a.stop()
}

func (a *Agent) stop() {
	a.unsubscribe()
	close(a.done)
	a.wg.Wait()
}

func (a *Agent) roomLocked(name string) *agentRoom {
	r := a.rooms[name]
	if r == nil {
		r = &agentRoom{members: make(map[string]roster.Participant)}
		a.rooms[name] = r
	}
	return r
}

// Join adds or replaces a local participant of room. Node and Set are
// set to this machine's; a zero JoinedAt is set to now. Caller should be
// masked already (the roster's copy is).
func (a *Agent) Join(room string, p roster.Participant) {
	a.put(room, p, true)
}

// Update reports a local participant's new state (mute, name).
func (a *Agent) Update(room string, p roster.Participant) {
	a.put(room, p, false)
}

func (a *Agent) put(room string, p roster.Participant, join bool) {
	if p.ID == "" || room == "" {
		return
	}
	p.Node, p.Set = a.info.ID, a.info.Set
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return
	}
	r := a.roomLocked(room)
	old, known := r.members[p.ID]
	if !join && !known {
		return
	}
	if p.JoinedAt.IsZero() {
		if known {
			p.JoinedAt = old.JoinedAt
		} else {
			p.JoinedAt = a.cfg.Clock.Now()
		}
	}
	if known && old == p {
		return
	}
	r.members[p.ID] = p
	typ := EventJoined
	if known {
		typ = EventUpdated
	}
	a.up.sendLocked(room, []Event{{Type: typ, Participant: &p}}, nil)
}

// Leave removes a local participant; the last to leave deregisters the
// room from the SET service.
func (a *Agent) Leave(room, id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.rooms[room]
	if r == nil || a.closed {
		return
	}
	if _, ok := r.members[id]; !ok {
		return
	}
	delete(r.members, id)
	a.up.sendLocked(room, []Event{{Type: EventLeft, ID: id}}, nil)
	a.dropIfEmptyLocked(room, r)
}

func (a *Agent) dropIfEmptyLocked(room string, r *agentRoom) {
	if len(r.members) == 0 && len(r.speaking) == 0 && (r.recording == nil || r.recording.State == RecordingStopped) {
		a.up.byeLocked(room)
		delete(a.rooms, room)
	}
}

// Speaking reports the room's selection (the mixer's), in order; ids is
// copied.
func (a *Agent) Speaking(room string, ids []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return
	}
	r := a.rooms[room]
	if r == nil {
		if len(ids) == 0 {
			return
		}
		r = a.roomLocked(room)
	}
	if slices.Equal(r.speaking, ids) {
		return
	}
	r.speaking = slices.Clone(ids)
	a.up.sendLocked(room, []Event{{Type: EventSpeaking, Speaking: slices.Clone(ids)}}, nil)
	a.dropIfEmptyLocked(room, r)
}

// Recording reports the room's recording state (RecordingStarted,
// RecordingPaused, RecordingStopped) and the recording's id.
func (a *Agent) Recording(room, state, id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return
	}
	r := a.rooms[room]
	if r == nil {
		if state == RecordingStopped {
			return
		}
		r = a.roomLocked(room)
	}
	rec := &RecordingState{State: state, ID: id}
	if r.recording != nil && *r.recording == *rec {
		return
	}
	r.recording = rec
	a.up.sendLocked(room, []Event{{Type: EventRecording, Recording: rec}}, nil)
	a.dropIfEmptyLocked(room, r)
}

// Locked reports whether room is locked, as the last events said.
func (a *Agent) Locked(room string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.rooms[room]
	return r != nil && r.locked
}

func (a *Agent) snapshotLocked(room string) message {
	// Every registration gets a later epoch than the last, so that the
	// central service tells which SET service holds this machine now.
	a.epoch = max(a.epoch+1, a.cfg.Clock.Now().UnixNano())
	m := message{Machines: []string{a.info.ID}, Epochs: map[string]int64{a.info.ID: a.epoch}}
	r := a.rooms[room]
	if r == nil {
		return m
	}
	m.Members = slices.Collect(maps.Values(r.members))
	m.Speaking, m.Recording = r.speaking, r.recording
	return m
}

// onMessage takes the events of a room from the SET service.
func (a *Agent) onMessage(m *nats.Msg) {
	var msg message
	if err := decode(m.Data, &msg); err != nil || msg.T != msgEvents {
		return
	}
	a.batchesIn.Add(1)
	a.eventsIn.Add(uint64(len(msg.Events)))
	a.mu.Lock()
	if r := a.rooms[msg.Room]; r != nil {
		for _, ev := range msg.Events {
			if ev.Type == EventLocked {
				r.locked = ev.Locked
			}
		}
	}
	a.mu.Unlock()
	if a.cfg.OnEvent != nil {
		for _, ev := range msg.Events {
			a.cfg.OnEvent(msg.Room, ev)
		}
	}
}

func (a *Agent) onCommand(m *nats.Msg) {
	var msg message
	if err := decode(m.Data, &msg); err != nil || msg.T != msgCommand || msg.Command == nil {
		respond(m, errorReply(ErrBadRequest))
		return
	}
	a.commands.Add(1)
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if cmd := *msg.Command; cmd.Type == CmdLock || cmd.Type == CmdUnlock {
			a.mu.Lock()
			if r := a.rooms[cmd.Room]; r != nil {
				r.locked = cmd.Type == CmdLock
			}
			a.mu.Unlock()
		}
		var err error
		if a.cfg.OnCommand != nil {
			err = a.cfg.OnCommand(*msg.Command)
		}
		if err != nil {
			respond(m, errorReply(err))
			return
		}
		respond(m, reply{})
	}()
}

// Stats returns the agent's counters.
func (a *Agent) Stats() AgentStats {
	a.mu.Lock()
	s := AgentStats{Rooms: len(a.rooms)}
	for _, r := range a.rooms {
		s.Participants += len(r.members)
	}
	a.mu.Unlock()
	s.Registrations, s.Deltas, s.Moves = a.up.registrations.Load(), a.up.deltas.Load(), a.up.moves.Load()
	s.BeatErrors = a.up.beatErrors.Load()
	s.BatchesIn, s.EventsIn, s.Commands = a.batchesIn.Load(), a.eventsIn.Load(), a.commands.Load()
	return s
}
