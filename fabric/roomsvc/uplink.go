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

// uplink keeps one level's rooms registered with the level above: a
// machine's with its SET services, a SET service's with the central
// service. The owner's mutex guards its state; methods ending in Locked
// need it held.
type uplink struct {
	nc      *nats.Conn
	from    string // this node
	set     string
	clock   media.Clock
	log     *slog.Logger
	timeout time.Duration
	// deadFor is how long a node that did not answer is passed over.
	deadFor time.Duration
	subject func(node string) string
	// candidates ranks the live nodes that may serve room, best first,
	// by key(room).
	candidates func(room string) []string
	key        func(room string) string
	// wake has the owner's loop run beat soon.
	wake func()
	// snapshot returns room's full registration (Members, Machines and
	// room-level state); called with mu held.
	snapshot func(room string) message

	mu    *sync.Mutex
	rooms map[string]*upRoom   // guarded by mu
	dead  map[string]time.Time // guarded by mu

	registrations, deltas, beats, beatErrors, moves atomic.Uint64
}

type upRoom struct {
	owner string // the node registered with, "" for none yet
	seq   uint64
}

func (u *uplink) init(mu *sync.Mutex) {
	u.mu = mu
	u.rooms = make(map[string]*upRoom)
	u.dead = make(map[string]time.Time)
}

func (u *uplink) roomLocked(room string) *upRoom {
	r := u.rooms[room]
	if r == nil {
		r = &upRoom{}
		u.rooms[room] = r
	}
	return r
}

// chooseLocked returns the first candidate for room that has not failed
// lately, or "".
func (u *uplink) chooseLocked(room string, now time.Time) string {
	for _, c := range u.candidates(room) {
		if t, ok := u.dead[c]; ok && now.Sub(t) < u.deadFor {
			continue
		}
		return c
	}
	return ""
}

// sendLocked sends room's events up: as deltas to the node it is
// registered with, else, once a node answered (beat), as part of a
// registration with it.
func (u *uplink) sendLocked(room string, evs []Event, claims map[string]int64) {
	r := u.roomLocked(room)
	if r.owner == "" {
		u.wake()
		return
	}
	for first := true; first || len(evs) > 0; first = false {
		n := min(len(evs), chunkEvents)
		r.seq++
		m := message{T: msgDelta, Room: room, Seq: r.seq, Events: evs[:n]}
		if first && len(claims) > 0 {
			m.Machines, m.Epochs = slices.Collect(maps.Keys(claims)), claims
		}
		u.publish(r.owner, m)
		u.deltas.Add(1)
		evs = evs[n:]
	}
}

// registerLocked registers room in full with node.
func (u *uplink) registerLocked(room, node string) {
	r := u.roomLocked(room)
	if r.owner != "" && r.owner != node {
		// The new node's registration takes the room over above; the old
		// one lets go without telling anyone that participants left.
		u.moves.Add(1)
		u.publish(r.owner, message{T: msgBye, Room: room, Moved: true})
	}
	r.owner = node
	r.seq++
	snap := u.snapshot(room)
	members := snap.Members
	for {
		n := min(len(members), chunkMembers)
		m := message{T: msgRegister, Room: room, Seq: r.seq, Members: members[:n]}
		members = members[n:]
		if len(members) == 0 {
			m.Last, m.Machines, m.Epochs, m.Speaking, m.Recording = true, snap.Machines, snap.Epochs, snap.Speaking, snap.Recording
			u.publish(node, m)
			break
		}
		u.publish(node, m)
	}
	u.registrations.Add(1)
}

// byeLocked tells the node room is registered with that it is no longer.
func (u *uplink) byeLocked(room string) {
	if r := u.rooms[room]; r != nil && r.owner != "" {
		u.publish(r.owner, message{T: msgBye, Room: room})
	}
	delete(u.rooms, room)
}

func (u *uplink) publish(node string, m message) {
	m.V, m.From, m.Set = WireVersion, u.from, u.set
	if err := u.nc.Publish(u.subject(node), encode(m)); err != nil {
		u.log.Debug("publish failed", "to", node, "error", err)
	}
}

// beat sends every node this level's rooms are registered with a sign of
// life and a heartbeat, registers in full the rooms a heartbeat asks for,
// and moves rooms whose node died, or that a better node appeared for.
//
// A room stays with the node it is registered with while that node
// answers, even when this node's view of the live set briefly lacks it:
// views of liveness flap under load, and every move costs a registration
// at both levels. A node is dead when it has no responder, or when it left
// the live set and does not answer either; a node that is only slow to
// answer is busy, not dead.
func (u *uplink) beat() {
	for attempt := 0; attempt < 4; attempt++ {
		if !u.beatOnce() {
			return
		}
	}
}

// beatOnce is one round of beat; it reports whether a node was found dead
// (its rooms then need another round).
func (u *uplink) beatOnce() bool {
	now := u.clock.Now()
	u.mu.Lock()
	for node, t := range u.dead {
		if now.Sub(t) >= u.deadFor {
			delete(u.dead, node)
		}
	}
	// A room is registered with a node, or moves to one ranked above its
	// owner, only once that node answered: a registration is the bulk of
	// what this level sends, not to be sent to a node that is not there,
	// and a node that failed and is tried again must not pull rooms away
	// from a working one.
	moves := make(map[string][]string)
	for room, r := range u.rooms {
		best := u.chooseLocked(room, now)
		switch {
		case best == "" || best == r.owner:
		case r.owner == "" || u.ranksAbove(room, best, r.owner):
			moves[best] = append(moves[best], room)
		}
	}
	u.mu.Unlock()
	for node, rooms := range moves {
		_, err := u.beatOne(node, nil)
		u.mu.Lock()
		if err != nil {
			u.dead[node] = now
		} else {
			for _, room := range rooms {
				if r := u.rooms[room]; r != nil && r.owner != node {
					u.registerLocked(room, node)
				}
			}
		}
		u.mu.Unlock()
	}
	u.mu.Lock()
	byNode := make(map[string]map[string]uint64)
	for room, r := range u.rooms {
		if r.owner == "" {
			continue
		}
		if byNode[r.owner] == nil {
			byNode[r.owner] = make(map[string]uint64)
		}
		byNode[r.owner][room] = r.seq
	}
	u.mu.Unlock()
	// Signs of life first: they travel apart from the bulk of
	// registrations, so that a busy receiver does not expire us.
	for node := range byNode {
		u.publishAlive(node)
	}
	failed := false
	for node, rooms := range byNode {
		u.beats.Add(1)
		resync, err := u.beatOne(node, rooms)
		u.mu.Lock()
		if err != nil {
			u.beatErrors.Add(1)
			if errors.Is(err, nats.ErrNoResponders) || !u.liveLocked(node, rooms) {
				u.log.Info("room service gone; trying the next in rank", "service", node, "error", err)
				u.dead[node] = now
				for room := range rooms {
					if r := u.rooms[room]; r != nil && r.owner == node {
						r.owner = ""
					}
				}
				failed = true
			}
		}
		for _, room := range resync {
			if r := u.rooms[room]; r != nil && r.owner == node {
				u.registerLocked(room, node)
			}
		}
		u.mu.Unlock()
	}
	return failed
}

// ranksAbove reports whether node a ranks above node b for room.
func (u *uplink) ranksAbove(room, a, b string) bool {
	ranked := fabric.Rank(u.key(room), []fabric.NodeInfo{{ID: a}, {ID: b}})
	return ranked[0].ID == a
}

// liveLocked reports whether node is in the live set as a candidate for
// any of rooms.
func (u *uplink) liveLocked(node string, rooms map[string]uint64) bool {
	for room := range rooms {
		return slices.Contains(u.candidates(room), node)
	}
	return false
}

func (u *uplink) publishAlive(node string) {
	m := message{V: WireVersion, T: msgAlive, From: u.from, Set: u.set}
	if err := u.nc.Publish(u.subject(node)+subjectAliveSuffix, encode(m)); err != nil {
		u.log.Debug("publish failed", "to", node, "error", err)
	}
}

// ownerOf returns the node room is registered with, or "".
func (u *uplink) ownerOf(room string) string {
	u.mu.Lock()
	defer u.mu.Unlock()
	if r := u.rooms[room]; r != nil {
		return r.owner
	}
	return ""
}

func (u *uplink) beatOne(node string, rooms map[string]uint64) ([]string, error) {
	msg, err := u.nc.Request(u.subject(node),
		encode(message{V: WireVersion, T: msgBeat, From: u.from, Set: u.set, Rooms: rooms}), u.timeout)
	if err != nil {
		return nil, err
	}
	var rep reply
	if err := decode(msg.Data, &rep); err != nil {
		return nil, err
	}
	if rep.Error != "" {
		return nil, errors.New(rep.Error)
	}
	return rep.Resync, nil
}

// inbound is what a receiver knows of one sender's registration of a
// room.
type inbound struct {
	epoch   int64 // of the sender's last registration (a machine's)
	seq     uint64
	synced  bool // a full registration arrived and no delta was missed
	seen    time.Time
	pending []message // chunks of a registration in progress
}

// accept checks a delta's sequence number; a gap leaves the registration
// out of sync until the sender registers again.
func (in *inbound) accept(seq uint64) bool {
	if !in.synced || seq != in.seq+1 {
		in.synced = false
		return false
	}
	in.seq = seq
	return true
}

// chunk adds a registration chunk and returns the whole registration once
// its last chunk arrived.
func (in *inbound) chunk(m message) (message, bool) {
	if len(in.pending) > 0 && in.pending[0].Seq != m.Seq {
		in.pending = nil
	}
	in.pending = append(in.pending, m)
	if !m.Last {
		return message{}, false
	}
	full := m
	if len(in.pending) > 1 {
		n := 0
		for _, c := range in.pending {
			n += len(c.Members)
		}
		full.Members = make([]roster.Participant, 0, n)
		for _, c := range in.pending {
			full.Members = append(full.Members, c.Members...)
		}
	}
	in.pending = nil
	in.seq, in.synced = m.Seq, true
	if e, ok := m.Epochs[m.From]; ok {
		in.epoch = e
	}
	return full, true
}

// needsResync reports whether a sender whose last sequence number is seq
// must register again. A heartbeat travels on the subject of the sender's
// registrations and deltas, behind what it sent before it, so a receiver
// that is behind seq lost something; one ahead of seq received what the
// sender sent after reading seq, which is fine.
func (in *inbound) needsResync(seq uint64) bool {
	return in == nil || !in.synced || in.seq < seq
}

// lifeSigns records when each sender last showed a sign of life. It has a
// mutex of its own and a subscription of its own, so that signs of life
// are taken at once while the service applies bulk state.
type lifeSigns struct {
	clock media.Clock
	mu    sync.Mutex
	last  map[string]time.Time // guarded by mu
}

func newLifeSigns(clock media.Clock) *lifeSigns {
	return &lifeSigns{clock: clock, last: make(map[string]time.Time)}
}

func (l *lifeSigns) onAlive(m *nats.Msg) {
	var msg message
	if err := decode(m.Data, &msg); err != nil || msg.T != msgAlive || msg.From == "" {
		return
	}
	now := l.clock.Now()
	l.mu.Lock()
	l.last[msg.From] = now
	l.mu.Unlock()
}

// snapshot returns the last sign of life of every sender, and forgets
// senders silent for longer than forget.
func (l *lifeSigns) snapshot(now time.Time, forget time.Duration) map[string]time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]time.Time, len(l.last))
	for from, t := range l.last {
		if now.Sub(t) > forget {
			delete(l.last, from)
			continue
		}
		out[from] = t
	}
	return out
}

// lastSign is the later of seen and the sender's last sign of life.
func lastSign(seen time.Time, alive map[string]time.Time, from string) time.Time {
	if t, ok := alive[from]; ok && t.After(seen) {
		return t
	}
	return seen
}
