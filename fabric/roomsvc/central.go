package roomsvc

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/setbridge/setbridge/fabric"
	"github.com/setbridge/setbridge/media"
	"github.com/setbridge/setbridge/roster"
)

// CentralConfig configures a Central service.
type CentralConfig struct {
	// Node is this node (role room), and Conn its control plane.
	Node *fabric.Node
	Conn *nats.Conn
	// Expiry is how long a SET service's registration of a room lasts
	// without a heartbeat (default 2 s); Timeout bounds a request
	// (default 500 ms).
	Expiry, Timeout time.Duration
	Clock           media.Clock
	Logger          *slog.Logger
}

// Central is the central room service: which SET services hold each room,
// every room's participants (rebuilt from the SET services), the fan-out
// of every batch of changes, pages and moderation.
type Central struct {
	cfg  CentralConfig
	info fabric.NodeInfo
	log  *slog.Logger
	subs []*nats.Subscription

	mu     sync.Mutex
	rooms  map[string]*centralRoom // guarded by mu
	closed bool                    // guarded by mu
	intern map[string]string       // guarded by mu
	alive  *lifeSigns

	batchesIn, registrations, notifyOut, eventsOut atomic.Uint64
	pages, commands, expired                       atomic.Uint64

	done chan struct{}
	wg   sync.WaitGroup
}

type centralRoom struct {
	svcs     map[string]*svcReg // by SET service node
	machines map[string]string  // machine → the SET service it is registered through
	epochs   map[string]int64   // machine → the epoch of its registration there
	// released are machines whose service let them go (it died, said
	// bye, or no longer lists them) before another claimed them: machine
	// → that service. Batches meant for them went to it meanwhile.
	released map[string]string
	members  map[string]*cmember
	// order holds the members sorted by key up to sorted, then the ones
	// added since; left members stay in it, marked, until the next sort.
	order     []*cmember
	sorted    int
	gone      int
	counts    Counts
	speaking  []string
	recording *RecordingState
	locked    bool
}

type svcReg struct {
	inbound
	set string
}

type cmember struct {
	p        roster.Participant
	key      Key
	speaking bool
	gone     bool
}

// CentralStats are the central service's counters.
type CentralStats struct {
	Rooms        int `json:"rooms"`
	Participants int `json:"participants"`
	// BatchesIn are delta messages from SET services; NotifyOut the
	// messages sent to SET services with EventsOut events: one per SET
	// holding the room per batch.
	BatchesIn     uint64 `json:"batches_in"`
	Registrations uint64 `json:"registrations"`
	NotifyOut     uint64 `json:"notify_out"`
	EventsOut     uint64 `json:"events_out"`
	Pages         uint64 `json:"pages"`
	Commands      uint64 `json:"commands"`
	Expired       uint64 `json:"expired"` // SET registrations expired
}

// NewCentral starts the central room service. It asks the SET services to
// register at once, so that a restarted or standby central service is
// complete within a heartbeat or two.
func NewCentral(cfg CentralConfig) (*Central, error) {
	if cfg.Node == nil || cfg.Conn == nil {
		return nil, errors.New("roomsvc: the central service needs a node and a NATS connection")
	}
	if cfg.Expiry <= 0 {
		cfg.Expiry = DefaultExpiry
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
	c := &Central{cfg: cfg, info: info, rooms: make(map[string]*centralRoom), intern: make(map[string]string),
		alive: newLifeSigns(cfg.Clock),
		log:   cfg.Logger.With("component", "roomsvc-central", "node", info.ID), done: make(chan struct{})}
	handlers := []struct {
		subj string
		h    nats.MsgHandler
	}{
		{subjectCentral(info.ID), c.onMessage},
		{subjectCentral(info.ID) + ".q", c.async(c.onQuery)},
		{subjectCentral(info.ID) + subjectAliveSuffix, c.alive.onAlive},
	}
	for _, h := range handlers {
		sub, err := cfg.Conn.Subscribe(h.subj, h.h)
		if err != nil {
			c.unsubscribe()
			return nil, err
		}
		_ = sub.SetPendingLimits(-1, -1)
		c.subs = append(c.subs, sub)
	}
	c.wg.Add(1)
	go c.run()
	_ = cfg.Conn.Publish(subjectHelloCentral, encode(message{V: WireVersion, T: msgHello, From: info.ID}))
	c.log.Info("central room service started")
	return c, nil
}

func (c *Central) async(h nats.MsgHandler) nats.MsgHandler {
	return func(m *nats.Msg) {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			h(m)
		}()
	}
}

func (c *Central) unsubscribe() {
	for _, s := range c.subs {
		_ = s.Unsubscribe()
	}
	c.subs = nil
}

// Close stops the service. SET services move to the next room node at
// their next heartbeat.
func (c *Central) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.mu.Unlock()
	c.unsubscribe()
	close(c.done)
	c.wg.Wait()
	c.log.Info("central room service stopped")
}

// kill stops the service as kill -9 would (Close sends nothing either).
func (c *Central) kill() { c.Close() }

func (c *Central) run() {
	defer c.wg.Done()
	t := c.cfg.Clock.NewTicker(c.cfg.Expiry / 4)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C():
		}
		now := c.cfg.Clock.Now()
		alive := c.alive.snapshot(now, 4*c.cfg.Expiry)
		c.mu.Lock()
		for name, r := range c.rooms {
			for svc, reg := range r.svcs {
				if now.Sub(lastSign(reg.seen, alive, svc)) > c.cfg.Expiry {
					c.log.Info("SET service silent: its participants leave", "room", name, "service", svc, "set", reg.set)
					c.expired.Add(1)
					c.dropSvcLocked(name, r, svc, true)
				}
			}
		}
		c.mu.Unlock()
	}
}

func (c *Central) internLocked(v string) string {
	if x, ok := c.intern[v]; ok {
		return x
	}
	if len(c.intern) < 4096 {
		c.intern[v] = v
	}
	return v
}

func (c *Central) onMessage(m *nats.Msg) {
	var msg message
	if err := decode(m.Data, &msg); err != nil {
		c.log.Debug("message ignored", "error", err)
		respond(m, errorReply(fmt.Errorf("%w: %w", ErrBadRequest, err)))
		return
	}
	now := c.cfg.Clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	switch msg.T {
	case msgBeat:
		var resync []string
		for room, seq := range msg.Rooms {
			var reg *svcReg
			if r := c.rooms[room]; r != nil {
				reg = r.svcs[msg.From]
			}
			if reg == nil || reg.needsResync(seq) {
				resync = append(resync, room)
				continue
			}
			reg.seen = now
		}
		respond(m, reply{Resync: resync})
	case msgRegister:
		r := c.rooms[msg.Room]
		if r == nil {
			r = &centralRoom{svcs: make(map[string]*svcReg), machines: make(map[string]string),
				epochs: make(map[string]int64), released: make(map[string]string), members: make(map[string]*cmember)}
			c.rooms[msg.Room] = r
		}
		reg := r.svcs[msg.From]
		if reg == nil {
			reg = &svcReg{set: msg.Set}
			r.svcs[msg.From] = reg
		}
		reg.seen = now
		takeover := !reg.synced && msg.Seq > 1
		full, ok := reg.chunk(msg)
		if !ok {
			return
		}
		c.registrations.Add(1)
		var evs []Event
		// Machines this service registered before and no longer lists
		// left it (a machine that moved to another service of its SET is
		// normally claimed by that one first).
		var gone []string
		for mc, svc := range r.machines {
			if svc == msg.From && !slices.Contains(full.Machines, mc) {
				gone = append(gone, mc)
			}
		}
		if len(gone) > 0 {
			evs = c.replaceLocked(r, msg.From, gone, nil, evs)
			for _, mc := range gone {
				delete(r.machines, mc)
				r.released[mc] = msg.From
			}
		}
		took, moved := c.claimLocked(r, msg.From, full.Machines, full.Epochs)
		evs = c.replaceLocked(r, msg.From, took, full.Members, evs)
		if len(full.Speaking) > 0 {
			evs = c.applyLocked(r, msg.From, Event{Type: EventSpeaking, Speaking: full.Speaking}, evs)
		}
		if full.Recording != nil {
			evs = c.applyLocked(r, msg.From, Event{Type: EventRecording, Recording: full.Recording}, evs)
		}
		c.notifyLocked(msg.Room, r, evs)
		switch {
		case takeover:
			// This service was registered elsewhere or lost a batch: its
			// machines may have missed events.
			c.resyncLocked(msg.Room, r, msg.From, nil)
		case len(moved) > 0:
			c.resyncLocked(msg.Room, r, msg.From, moved)
		}
	case msgDelta:
		r := c.rooms[msg.Room]
		if r == nil {
			return
		}
		reg := r.svcs[msg.From]
		if reg == nil || !reg.accept(msg.Seq) {
			return
		}
		reg.seen = now
		c.batchesIn.Add(1)
		_, moved := c.claimLocked(r, msg.From, msg.Machines, msg.Epochs)
		var evs []Event
		for _, ev := range msg.Events {
			evs = c.applyLocked(r, msg.From, ev, evs)
		}
		c.notifyLocked(msg.Room, r, evs)
		if len(moved) > 0 {
			c.resyncLocked(msg.Room, r, msg.From, moved)
		}
	case msgBye:
		if r := c.rooms[msg.Room]; r != nil {
			c.dropSvcLocked(msg.Room, r, msg.From, !msg.Moved)
		}
	}
}

// claimLocked registers machines through svc, unless another service
// claimed one with a later epoch (the machine moved on and svc has not
// heard yet), and returns the machines it took, and of those the ones
// that moved to svc from another service.
//
// A machine that moved missed the batches sent between its registration
// with svc and svc's claim arriving here: they went to the service it was
// registered through before (dead, or letting it go). Its SET service
// told it to resync when it registered, but that was before those
// batches; the caller tells it again once the batches reach svc.
func (c *Central) claimLocked(r *centralRoom, svc string, machines []string, epochs map[string]int64) (took, moved []string) {
	took = make([]string, 0, len(machines))
	for _, mc := range machines {
		e := epochs[mc]
		prev, ok := r.machines[mc]
		if prev != svc && e < r.epochs[mc] {
			continue
		}
		if !ok {
			prev = r.released[mc]
		}
		delete(r.released, mc)
		if prev != "" && prev != svc {
			moved = append(moved, mc)
		}
		r.machines[mc] = svc
		r.epochs[mc] = max(e, r.epochs[mc])
		took = append(took, mc)
	}
	return took, moved
}

// resyncLocked sends svc an EventResync for room, for its machines that
// may have missed events: machines, or all of them when nil.
func (c *Central) resyncLocked(name string, r *centralRoom, svc string, machines []string) {
	counts := r.counts
	_ = c.cfg.Conn.Publish(subjectSet(svc), encode(message{V: WireVersion, T: msgEvents, From: c.info.ID,
		Room: name, Machines: machines, Events: []Event{{Type: EventResync}}, Counts: &counts}))
}

// dropSvcLocked forgets a SET service's registration of a room, and the
// participants of the machines registered through it; notify says whether
// the other SET services hear that they left (not when the room moved to
// another central service: they did not leave, and the other SETs follow).
func (c *Central) dropSvcLocked(name string, r *centralRoom, svc string, notify bool) {
	var machines []string
	for mc, s := range r.machines {
		if s == svc {
			machines = append(machines, mc)
		}
	}
	evs := c.replaceLocked(r, svc, machines, nil, nil)
	for _, mc := range machines {
		delete(r.machines, mc)
		r.released[mc] = svc
	}
	if notify {
		c.notifyLocked(name, r, evs)
	}
	delete(r.svcs, svc)
	if len(r.svcs) == 0 {
		delete(c.rooms, name)
	}
}

// replaceLocked makes the participants of machines exactly ps.
func (c *Central) replaceLocked(r *centralRoom, svc string, machines []string, ps []roster.Participant, evs []Event) []Event {
	seen := make(map[string]bool, len(ps))
	for i := range ps {
		seen[ps[i].ID] = true
		evs = c.applyLocked(r, svc, Event{Type: EventJoined, Participant: &ps[i]}, evs)
	}
	for id, m := range r.members {
		if !seen[id] && slices.Contains(machines, m.p.Node) {
			evs = c.applyLocked(r, svc, Event{Type: EventLeft, ID: id}, evs)
		}
	}
	return evs
}

// applyLocked applies one event from SET service svc, appending to evs
// what actually changed, as the SET services are to see it. Participant
// events for a machine registered through another service are dropped.
func (c *Central) applyLocked(r *centralRoom, svc string, ev Event, evs []Event) []Event {
	switch ev.Type {
	case EventJoined, EventUpdated:
		if ev.Participant == nil {
			return evs
		}
		p := *ev.Participant
		p.Node, p.Set = c.internLocked(p.Node), c.internLocked(p.Set)
		if owner, ok := r.machines[p.Node]; !ok && r.epochs[p.Node] == 0 {
			r.machines[p.Node] = svc // a sender that does not claim machines
		} else if owner != svc {
			return evs
		}
		m := r.members[p.ID]
		if m != nil && m.p.JoinedAt.Equal(p.JoinedAt) {
			if m.p == p {
				return evs
			}
			r.counts[countIndex(&m.p, m.speaking)]--
			m.p = p
			r.counts[countIndex(&m.p, m.speaking)]++
			return append(evs, Event{Type: EventUpdated, Participant: &p})
		}
		if m != nil {
			c.removeLocked(r, m)
		}
		m = &cmember{p: p, key: keyOf(&p), speaking: slices.Contains(r.speaking, p.ID)}
		r.members[p.ID] = m
		r.order = append(r.order, m)
		r.counts[countIndex(&m.p, m.speaking)]++
		return append(evs, Event{Type: EventJoined, Participant: &p})
	case EventLeft:
		m := r.members[ev.ID]
		if m == nil || r.machines[m.p.Node] != svc {
			return evs
		}
		c.removeLocked(r, m)
		p := m.p
		return append(evs, Event{Type: EventLeft, ID: ev.ID, Participant: &p})
	case EventSpeaking:
		if slices.Equal(r.speaking, ev.Speaking) {
			return evs
		}
		var touched []Key
		flip := func(id string, on bool) {
			if m := r.members[id]; m != nil && m.speaking != on {
				r.counts[countIndex(&m.p, m.speaking)]--
				m.speaking = on
				r.counts[countIndex(&m.p, m.speaking)]++
				touched = append(touched, m.key)
			}
		}
		for _, id := range r.speaking {
			if !slices.Contains(ev.Speaking, id) {
				flip(id, false)
			}
		}
		for _, id := range ev.Speaking {
			flip(id, true)
		}
		r.speaking = slices.Clone(ev.Speaking)
		return append(evs, Event{Type: EventSpeaking, Speaking: r.speaking, Touched: touched})
	case EventRecording:
		if ev.Recording == nil || r.recording != nil && *r.recording == *ev.Recording {
			return evs
		}
		r.recording = ev.Recording
		return append(evs, ev)
	}
	return evs
}

func (c *Central) removeLocked(r *centralRoom, m *cmember) {
	r.counts[countIndex(&m.p, m.speaking)]--
	delete(r.members, m.p.ID)
	m.gone = true
	r.gone++
}

// notifyLocked sends evs, once, to every SET service holding the room.
func (c *Central) notifyLocked(name string, r *centralRoom, evs []Event) {
	if len(evs) == 0 {
		return
	}
	counts := r.counts
	targets := make(map[string]bool, len(r.svcs))
	for _, svc := range r.machines {
		targets[svc] = true
	}
	for len(evs) > 0 {
		n := min(len(evs), chunkEvents)
		data := encode(message{V: WireVersion, T: msgEvents, From: c.info.ID, Room: name, Events: evs[:n], Counts: &counts})
		for svc := range targets {
			if err := c.cfg.Conn.Publish(subjectSet(svc), data); err == nil {
				c.notifyOut.Add(1)
			}
		}
		c.eventsOut.Add(uint64(n))
		evs = evs[n:]
	}
}

// sortLocked brings r.order into key order and drops those who left.
func (r *centralRoom) sortLocked() {
	if r.gone > 0 {
		kept := r.order[:0]
		sorted := 0
		for i, m := range r.order {
			if m.gone {
				continue
			}
			if i < r.sorted {
				sorted++
			}
			kept = append(kept, m)
		}
		clear(r.order[len(kept):])
		r.order, r.sorted, r.gone = kept, sorted, 0
	}
	if r.sorted == len(r.order) {
		return
	}
	cmp := func(a, b *cmember) int { return a.key.compare(b.key) }
	tail := r.order[r.sorted:]
	slices.SortFunc(tail, cmp)
	if r.sorted > 0 && cmp(r.order[r.sorted-1], tail[0]) > 0 {
		merged := make([]*cmember, 0, len(r.order))
		head := r.order[:r.sorted]
		i, j := 0, 0
		for i < len(head) && j < len(tail) {
			if cmp(head[i], tail[j]) <= 0 {
				merged = append(merged, head[i])
				i++
			} else {
				merged = append(merged, tail[j])
				j++
			}
		}
		merged = append(merged, head[i:]...)
		merged = append(merged, tail[j:]...)
		r.order = merged
	}
	r.sorted = len(r.order)
}

// Page returns a page of room's participants.
func (c *Central) Page(room string, q Query) (Page, Counts, error) {
	page, counts, _, err := c.page(room, q)
	return page, counts, err
}

// page is Page, and whether this service holds the room.
func (c *Central) page(room string, q Query) (Page, Counts, bool, error) {
	if err := q.normalize(); err != nil {
		return Page{}, Counts{}, false, err
	}
	c.pages.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.rooms[room]
	if r == nil {
		return Page{Participants: []Member{}}, Counts{}, false, nil
	}
	r.sortLocked()
	start := 0
	if q.PageToken != "" {
		k, err := decodeToken(q.PageToken)
		if err != nil {
			return Page{}, Counts{}, true, err
		}
		start = sort.Search(len(r.order), func(i int) bool { return r.order[i].key.compare(k) > 0 })
	}
	page := Page{Participants: make([]Member, 0, min(q.PageSize, len(r.order)-start)), Total: r.counts.total(q.Filter)}
	for _, m := range r.order[start:] {
		if !q.match(&m.p, m.speaking) {
			continue
		}
		if len(page.Participants) == q.PageSize {
			page.NextPageToken = encodeToken(keyOf(&page.Participants[q.PageSize-1].Participant))
			break
		}
		page.Participants = append(page.Participants, Member{Participant: m.p, Speaking: m.speaking})
	}
	return page, r.counts, true, nil
}

func (c *Central) onQuery(m *nats.Msg) {
	var msg message
	if err := decode(m.Data, &msg); err != nil {
		respond(m, errorReply(fmt.Errorf("%w: %w", ErrBadRequest, err)))
		return
	}
	switch {
	case msg.T == msgPage && msg.Query != nil:
		page, counts, known, err := c.page(msg.Room, *msg.Query)
		if err != nil {
			respond(m, errorReply(err))
			return
		}
		if !known {
			// Perhaps a standby, or not the service the room's SETs
			// registered with: the asker tries the next.
			respond(m, reply{Error: "room not held here", Status: statusUnknownRoom})
			return
		}
		respond(m, reply{Page: &page, Counts: &counts})
	case msg.T == msgCommand && msg.Command != nil:
		if err := c.Command(*msg.Command); err != nil {
			respond(m, errorReply(err))
			return
		}
		respond(m, reply{})
	default:
		respond(m, errorReply(ErrBadRequest))
	}
}

// Command carries out a moderation command: through the SET service of
// the participant's machine, or through every SET service of the room.
func (c *Central) Command(cmd Command) error {
	if !cmd.valid() {
		return fmt.Errorf("%w: command %q", ErrBadRequest, cmd.Type)
	}
	c.commands.Add(1)
	c.mu.Lock()
	r := c.rooms[cmd.Room]
	if r == nil {
		c.mu.Unlock()
		return fmt.Errorf("%w: room %s", ErrNotFound, cmd.Room)
	}
	var svcs []string
	if cmd.perParticipant() {
		m := r.members[cmd.Participant]
		if m == nil {
			c.mu.Unlock()
			return fmt.Errorf("%w: participant %s", ErrNotFound, cmd.Participant)
		}
		svcs = []string{r.machines[m.p.Node]}
	} else {
		for _, svc := range r.machines {
			if !slices.Contains(svcs, svc) {
				svcs = append(svcs, svc)
			}
		}
	}
	switch cmd.Type {
	case CmdLock, CmdUnlock:
		if locked := cmd.Type == CmdLock; locked != r.locked {
			r.locked = locked
			c.notifyLocked(cmd.Room, r, []Event{{Type: EventLocked, Locked: locked}})
		}
	case CmdEnd:
		c.notifyLocked(cmd.Room, r, []Event{{Type: EventEnded}})
	}
	c.mu.Unlock()
	return fanRequest(c.cfg.Conn, svcs, func(n string) string { return subjectSet(n) + ".q" },
		message{T: msgCommand, From: c.info.ID, Room: cmd.Room, Command: &cmd}, 2*c.cfg.Timeout)
}

// Stats returns the service's counters.
func (c *Central) Stats() CentralStats {
	c.mu.Lock()
	s := CentralStats{Rooms: len(c.rooms)}
	for _, r := range c.rooms {
		s.Participants += len(r.members)
	}
	c.mu.Unlock()
	s.BatchesIn, s.Registrations = c.batchesIn.Load(), c.registrations.Load()
	s.NotifyOut, s.EventsOut = c.notifyOut.Load(), c.eventsOut.Load()
	s.Pages, s.Commands, s.Expired = c.pages.Load(), c.commands.Load(), c.expired.Load()
	return s
}
