package roomsvc

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/setbridge/setbridge/fabric"
	"github.com/setbridge/setbridge/media"
	"github.com/setbridge/setbridge/roster"
)

// SetConfig configures a SetService.
type SetConfig struct {
	// Node is this node (role roomset), and Conn its control plane.
	Node *fabric.Node
	Conn *nats.Conn
	// Window is how long deltas of a room are gathered before they go up
	// in one message (default 150 ms).
	Window time.Duration
	// CacheTTL is how long a cached page is served (default 2 s).
	CacheTTL time.Duration
	// Heartbeat is how often the service renews its registrations with
	// the central service (default 250 ms); a machine not heard from for
	// Expiry is dropped with its participants (default 2 s); Timeout
	// bounds a request (default 500 ms).
	Heartbeat, Expiry, Timeout time.Duration
	Clock                      media.Clock
	Logger                     *slog.Logger
}

// SetService is a SET's room service for the rooms that rank to it: it
// knows the SET's machines in those rooms and their participants, sends
// their changes up in batches, passes the central service's batches down
// to them, and caches participant pages.
type SetService struct {
	cfg  SetConfig
	info fabric.NodeInfo
	log  *slog.Logger
	up   uplink
	subs []*nats.Subscription

	mu     sync.Mutex
	rooms  map[string]*setRoom // guarded by mu
	closed bool                // guarded by mu
	intern map[string]string   // guarded by mu
	alive  *lifeSigns

	msgsIn, eventsUp, batchesIn, msgsDown  atomic.Uint64
	cacheHits, cacheMisses, invalidated    atomic.Uint64
	pagesServed, commands, expiredMachines atomic.Uint64

	poke chan struct{}
	done chan struct{}
	wg   sync.WaitGroup
}

type setRoom struct {
	machines  map[string]*inbound           // by machine
	members   map[string]roster.Participant // the SET's, by id
	speaking  []string
	recording *RecordingState
	pending   []Event // gathered for the next window
	// claims are machines that registered here since the last window,
	// with their epochs: the central service learns they are now
	// registered through us.
	claims map[string]int64
	// The page cache, and what is needed to keep it right.
	pages   map[string]*cachedPage
	counts  *Counts
	version uint64 // bumped by every batch from the central service
}

type cachedPage struct {
	page    Page
	from    *Key // nil for the first page
	last    Key  // the page's last participant
	full    bool // the page has PageSize participants
	filter  Filter
	expires time.Time
}

// touches reports whether a change to the participant at k may change
// the page.
func (c *cachedPage) touches(k Key) bool {
	if c.from != nil && k.compare(*c.from) <= 0 {
		return false
	}
	return !c.full || k.compare(c.last) <= 0
}

// SetStats are a SetService's counters.
type SetStats struct {
	Rooms        int `json:"rooms"`
	Machines     int `json:"machines"`
	Participants int `json:"participants"`
	// MsgsIn are messages from machines; BatchesUp messages to the
	// central service carrying EventsUp events; BatchesIn messages from
	// the central service; MsgsDown messages to machines.
	MsgsIn        uint64 `json:"msgs_in"`
	BatchesUp     uint64 `json:"batches_up"`
	EventsUp      uint64 `json:"events_up"`
	Registrations uint64 `json:"registrations"`
	BatchesIn     uint64 `json:"batches_in"`
	MsgsDown      uint64 `json:"msgs_down"`
	CacheHits     uint64 `json:"cache_hits"`
	CacheMisses   uint64 `json:"cache_misses"`
	// Invalidated counts cached pages dropped because a change fell in
	// their range.
	Invalidated     uint64 `json:"invalidated"`
	CachedPages     int    `json:"cached_pages"`
	Commands        uint64 `json:"commands"`
	ExpiredMachines uint64 `json:"expired_machines"`
	BeatErrors      uint64 `json:"beat_errors"`
}

// NewSetService starts a SET room service.
func NewSetService(cfg SetConfig) (*SetService, error) {
	if cfg.Node == nil || cfg.Conn == nil {
		return nil, errors.New("roomsvc: a SET service needs a node and a NATS connection")
	}
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = DefaultCacheTTL
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
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
	s := &SetService{cfg: cfg, info: info, rooms: make(map[string]*setRoom), intern: make(map[string]string),
		alive: newLifeSigns(cfg.Clock),
		log:   cfg.Logger.With("component", "roomsvc-set", "node", info.ID, "set", info.Set),
		poke:  make(chan struct{}, 1), done: make(chan struct{})}
	s.up = uplink{nc: cfg.Conn, from: info.ID, set: info.Set, clock: cfg.Clock, log: s.log,
		timeout: cfg.Timeout, deadFor: 8 * cfg.Heartbeat, subject: subjectCentral,
		candidates: func(string) []string { return centrals(cfg.Node) },
		key:        func(string) string { return centralKey },
		wake:       func() { s.wake() },
		snapshot:   s.snapshotLocked}
	s.up.init(&s.mu)
	handlers := []struct {
		subj string
		h    nats.MsgHandler
	}{
		{subjectSet(info.ID), s.onMessage},
		{subjectSet(info.ID) + ".q", s.async(s.onQuery)},
		{subjectSet(info.ID) + subjectAliveSuffix, s.alive.onAlive},
		{subjectHelloCentral, func(*nats.Msg) { s.wake() }},
	}
	for _, h := range handlers {
		sub, err := cfg.Conn.Subscribe(h.subj, h.h)
		if err != nil {
			s.unsubscribe()
			return nil, err
		}
		_ = sub.SetPendingLimits(-1, -1)
		s.subs = append(s.subs, sub)
	}
	s.wg.Add(2)
	go s.run()
	go s.flushLoop()
	// Machines that ranked this room to us register now, not at their
	// next heartbeat (after a restart, or when we join the SET).
	_ = cfg.Conn.Publish(subjectHello(info.Set), encode(message{V: WireVersion, T: msgHello, From: info.ID}))
	s.log.Info("SET room service started")
	return s, nil
}

func (s *SetService) async(h nats.MsgHandler) nats.MsgHandler {
	return func(m *nats.Msg) {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			h(m)
		}()
	}
}

func (s *SetService) unsubscribe() {
	for _, sub := range s.subs {
		_ = sub.Unsubscribe()
	}
	s.subs = nil
}

func (s *SetService) wake() {
	select {
	case s.poke <- struct{}{}:
	default:
	}
}

// Close deregisters the service's rooms from the central service and
// stops it. Machines move to the next in rank at their next heartbeat.
func (s *SetService) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	for room := range s.rooms {
		s.up.byeLocked(room)
	}
	s.mu.Unlock()
	_ = s.cfg.Conn.Flush()
	s.stop()
	s.log.Info("SET room service stopped")
}

// kill stops the service as kill -9 would: nothing more is sent.
func (s *SetService) kill() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.stop()
}

func (s *SetService) stop() {
	s.unsubscribe()
	close(s.done)
	s.wg.Wait()
}

// run renews the registrations with the central service and expires
// silent machines and old cache entries.
func (s *SetService) run() {
	defer s.wg.Done()
	t := s.cfg.Clock.NewTicker(s.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C():
			s.expire()
		case <-s.poke:
		}
		s.up.beat()
	}
}

func (s *SetService) expire() {
	now := s.cfg.Clock.Now()
	alive := s.alive.snapshot(now, 4*s.cfg.Expiry)
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, r := range s.rooms {
		for m, in := range r.machines {
			if now.Sub(lastSign(in.seen, alive, m)) > s.cfg.Expiry {
				s.log.Info("machine silent: its participants leave", "room", name, "machine", m)
				s.expiredMachines.Add(1)
				s.dropMachineLocked(r, m)
			}
		}
		for k, c := range r.pages {
			if now.After(c.expires) {
				delete(r.pages, k)
			}
		}
	}
}

// flushLoop sends each room's gathered deltas up once per window.
func (s *SetService) flushLoop() {
	defer s.wg.Done()
	t := s.cfg.Clock.NewTicker(s.cfg.Window)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C():
		}
		s.flush()
	}
}

func (s *SetService) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	for name, r := range s.rooms {
		if len(r.pending) > 0 || len(r.claims) > 0 {
			s.eventsUp.Add(uint64(len(r.pending)))
			s.up.sendLocked(name, r.pending, r.claims)
			r.pending, r.claims = nil, nil
		}
		if len(r.machines) == 0 {
			s.up.byeLocked(name)
			delete(s.rooms, name)
		}
	}
}

func (s *SetService) roomLocked(name string) *setRoom {
	r := s.rooms[name]
	if r == nil {
		r = &setRoom{machines: make(map[string]*inbound), members: make(map[string]roster.Participant),
			pages: make(map[string]*cachedPage)}
		s.rooms[name] = r
	}
	return r
}

func (s *SetService) internLocked(v string) string {
	if x, ok := s.intern[v]; ok {
		return x
	}
	if len(s.intern) < 4096 {
		s.intern[v] = v
	}
	return v
}

func (s *SetService) snapshotLocked(room string) message {
	r := s.rooms[room]
	m := message{}
	if r == nil {
		return m
	}
	m.Members = make([]roster.Participant, 0, len(r.members))
	for _, p := range r.members {
		m.Members = append(m.Members, p)
	}
	m.Epochs = make(map[string]int64, len(r.machines))
	for mc, in := range r.machines {
		m.Machines = append(m.Machines, mc)
		m.Epochs[mc] = in.epoch
	}
	m.Speaking, m.Recording = r.speaking, r.recording
	return m
}

// onMessage takes, in order, what machines and the central service send.
func (s *SetService) onMessage(m *nats.Msg) {
	var msg message
	if err := decode(m.Data, &msg); err != nil {
		s.log.Debug("message ignored", "error", err)
		respond(m, errorReply(fmt.Errorf("%w: %w", ErrBadRequest, err)))
		return
	}
	now := s.cfg.Clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	switch msg.T {
	case msgEvents:
		s.fromCentralLocked(msg)
		return
	case msgBeat:
		s.msgsIn.Add(1)
		var resync []string
		for room, seq := range msg.Rooms {
			r := s.rooms[room]
			var in *inbound
			if r != nil {
				in = r.machines[msg.From]
			}
			if in.needsResync(seq) {
				resync = append(resync, room)
				continue
			}
			in.seen = now
		}
		respond(m, reply{Resync: resync})
		return
	}
	s.msgsIn.Add(1)
	switch msg.T {
	case msgRegister:
		r := s.roomLocked(msg.Room)
		in := r.machines[msg.From]
		if in == nil {
			in = &inbound{}
			r.machines[msg.From] = in
		}
		in.seen = now
		// A machine that registers again after its first registration
		// (seq 1) was served elsewhere, or here before a gap: it may have
		// missed events.
		takeover := !in.synced && msg.Seq > 1
		full, ok := in.chunk(msg)
		if !ok {
			return
		}
		if takeover {
			s.sendResyncLocked(msg.Room, []string{msg.From})
		}
		if r.claims == nil {
			r.claims = make(map[string]int64)
		}
		r.claims[msg.From] = in.epoch
		s.replaceLocked(r, msg.From, full.Members)
		if !slices.Equal(full.Speaking, r.speaking) && len(full.Speaking) > 0 {
			r.speaking = full.Speaking
			r.pending = append(r.pending, Event{Type: EventSpeaking, Speaking: full.Speaking})
		}
		if full.Recording != nil && (r.recording == nil || *r.recording != *full.Recording) {
			r.recording = full.Recording
			r.pending = append(r.pending, Event{Type: EventRecording, Recording: full.Recording})
		}
	case msgDelta:
		r := s.rooms[msg.Room]
		if r == nil {
			return
		}
		in := r.machines[msg.From]
		if in == nil || !in.accept(msg.Seq) {
			return // the next heartbeat asks for a registration
		}
		in.seen = now
		for _, ev := range msg.Events {
			s.applyLocked(r, msg.From, ev)
		}
	case msgBye:
		r := s.rooms[msg.Room]
		if r == nil {
			return
		}
		if msg.Moved {
			s.releaseMachineLocked(r, msg.From)
			return
		}
		s.dropMachineLocked(r, msg.From)
	}
}

// releaseMachineLocked forgets a machine that moved to another service of
// the SET, without events: that service's registration takes its
// participants over at the central service.
func (s *SetService) releaseMachineLocked(r *setRoom, machine string) {
	for id, p := range r.members {
		if p.Node == machine {
			delete(r.members, id)
		}
	}
	delete(r.machines, machine)
	delete(r.claims, machine)
}

// sendResyncLocked tells machines of room that they may have missed
// events.
func (s *SetService) sendResyncLocked(room string, machines []string) {
	down := encode(message{V: WireVersion, T: msgEvents, From: s.info.ID, Room: room, Events: []Event{{Type: EventResync}}})
	for _, mc := range machines {
		if err := s.cfg.Conn.Publish(subjectAgent(mc), down); err == nil {
			s.msgsDown.Add(1)
		}
	}
}

// applyLocked applies one machine's event and queues it for upward.
func (s *SetService) applyLocked(r *setRoom, machine string, ev Event) {
	switch ev.Type {
	case EventJoined, EventUpdated:
		if ev.Participant == nil {
			return
		}
		p := *ev.Participant
		p.Node, p.Set = s.internLocked(machine), s.internLocked(p.Set)
		r.members[p.ID] = p
		ev.Participant = &p
	case EventLeft:
		p, ok := r.members[ev.ID]
		if !ok || p.Node != machine {
			return
		}
		delete(r.members, ev.ID)
	case EventSpeaking:
		r.speaking = ev.Speaking
	case EventRecording:
		r.recording = ev.Recording
	}
	r.pending = append(r.pending, ev)
}

// replaceLocked makes machine's participants exactly ps, queueing the
// difference as events.
func (s *SetService) replaceLocked(r *setRoom, machine string, ps []roster.Participant) {
	seen := make(map[string]bool, len(ps))
	for i := range ps {
		p := ps[i]
		p.Node, p.Set = s.internLocked(machine), s.internLocked(p.Set)
		seen[p.ID] = true
		old, ok := r.members[p.ID]
		switch {
		case !ok:
			s.applyLocked(r, machine, Event{Type: EventJoined, Participant: &p})
		case old != p:
			s.applyLocked(r, machine, Event{Type: EventUpdated, Participant: &p})
		}
	}
	for id, p := range r.members {
		if p.Node == machine && !seen[id] {
			s.applyLocked(r, machine, Event{Type: EventLeft, ID: id})
		}
	}
}

func (s *SetService) dropMachineLocked(r *setRoom, machine string) {
	s.replaceLocked(r, machine, nil)
	delete(r.machines, machine)
	delete(r.claims, machine)
}

// fromCentralLocked applies a batch from the central service to the
// cache and passes it to the room's machines, one message each.
func (s *SetService) fromCentralLocked(msg message) {
	s.batchesIn.Add(1)
	r := s.rooms[msg.Room]
	if r == nil {
		return
	}
	r.version++
	if msg.Counts != nil {
		c := *msg.Counts
		r.counts = &c
	}
	if slices.ContainsFunc(msg.Events, func(ev Event) bool { return ev.Type == EventResync }) {
		s.invalidated.Add(uint64(len(r.pages)))
		clear(r.pages)
	}
	if len(r.pages) > 0 {
		for _, ev := range msg.Events {
			var keys []Key
			switch {
			case ev.Participant != nil:
				keys = append(keys, keyOf(ev.Participant))
			case ev.Type == EventSpeaking:
				keys = ev.Touched
			}
			for _, k := range keys {
				for ck, c := range r.pages {
					if c.touches(k) {
						delete(r.pages, ck)
						s.invalidated.Add(1)
					}
				}
			}
		}
	}
	down := encode(message{V: WireVersion, T: msgEvents, From: s.info.ID, Room: msg.Room, Events: msg.Events})
	for mc := range r.machines {
		// A batch naming machines is for those only (a resync for
		// machines that moved here).
		if len(msg.Machines) > 0 && !slices.Contains(msg.Machines, mc) {
			continue
		}
		if err := s.cfg.Conn.Publish(subjectAgent(mc), down); err == nil {
			s.msgsDown.Add(1)
		}
	}
}

// onQuery answers page requests (from any node's Handler) and commands
// (from the central service).
func (s *SetService) onQuery(m *nats.Msg) {
	var msg message
	if err := decode(m.Data, &msg); err != nil {
		respond(m, errorReply(fmt.Errorf("%w: %w", ErrBadRequest, err)))
		return
	}
	switch {
	case msg.T == msgPage && msg.Query != nil:
		page, err := s.Page(msg.Room, *msg.Query)
		if err != nil {
			respond(m, errorReply(err))
			return
		}
		respond(m, reply{Page: &page})
	case msg.T == msgCommand && msg.Command != nil:
		s.commands.Add(1)
		if err := s.command(*msg.Command); err != nil {
			respond(m, errorReply(err))
			return
		}
		respond(m, reply{})
	default:
		respond(m, errorReply(ErrBadRequest))
	}
}

// Page returns a page of room's participants: from the cache when it
// holds the page and it has not expired, else from the central service.
func (s *SetService) Page(room string, q Query) (Page, error) {
	if err := q.normalize(); err != nil {
		return Page{}, err
	}
	s.pagesServed.Add(1)
	key := q.cacheKey(room)
	now := s.cfg.Clock.Now()
	s.mu.Lock()
	r := s.rooms[room]
	var version uint64
	if r != nil {
		if c := r.pages[key]; c != nil && now.Before(c.expires) {
			page := c.page
			if r.counts != nil {
				page.Total = r.counts.total(q.Filter)
			}
			s.mu.Unlock()
			s.cacheHits.Add(1)
			return page, nil
		}
		version = r.version
	}
	s.mu.Unlock()
	s.cacheMisses.Add(1)
	// The central service this room is registered with first: it is the
	// one whose batches keep the cache right, and this node's view of the
	// live set may lack it for a moment.
	owner := s.up.ownerOf(room)
	nodes := centrals(s.cfg.Node)
	if owner != "" {
		nodes = append([]string{owner}, slices.DeleteFunc(nodes, func(n string) bool { return n == owner })...)
	}
	rep, from, err := requestPage(s.cfg.Conn, nodes, func(n string) string { return subjectCentral(n) + ".q" },
		message{T: msgPage, From: s.info.ID, Room: room, Query: &q}, s.cfg.Timeout)
	if err != nil {
		return Page{}, err
	}
	if rep.Page == nil {
		return Page{Participants: []Member{}}, nil
	}
	page := *rep.Page
	s.mu.Lock()
	if r := s.rooms[room]; r != nil && r.version == version && from == owner {
		if len(r.pages) >= maxCachedPages {
			s.evictLocked(r, now)
		}
		c := &cachedPage{page: page, filter: q.Filter, full: len(page.Participants) == q.PageSize,
			expires: now.Add(s.cfg.CacheTTL)}
		if q.PageToken != "" {
			k, _ := decodeToken(q.PageToken)
			c.from = &k
		}
		if n := len(page.Participants); n > 0 {
			c.last = keyOf(&page.Participants[n-1].Participant)
		}
		r.pages[key] = c
		if rep.Counts != nil {
			cc := *rep.Counts
			r.counts = &cc
		}
	}
	s.mu.Unlock()
	return page, nil
}

// maxCachedPages bounds the pages cached per room (per filter, size and
// position, so a crawler cannot grow the cache without bound).
const maxCachedPages = 512

// evictLocked makes room in r's page cache: the expired pages go, and if
// none had, the one that expires first.
func (s *SetService) evictLocked(r *setRoom, now time.Time) {
	var oldest string
	var at time.Time
	for k, c := range r.pages {
		if now.After(c.expires) {
			delete(r.pages, k)
			continue
		}
		if oldest == "" || c.expires.Before(at) {
			oldest, at = k, c.expires
		}
	}
	if len(r.pages) >= maxCachedPages && oldest != "" {
		delete(r.pages, oldest)
	}
}

func centralSubjects(node *fabric.Node, suffix string) []string {
	cs := centrals(node)
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = subjectCentral(c) + suffix
	}
	return out
}

// command passes a moderation command to the machine of the participant,
// or to every machine of the room.
func (s *SetService) command(cmd Command) error {
	s.mu.Lock()
	r := s.rooms[cmd.Room]
	var machines []string
	if r != nil {
		if cmd.perParticipant() {
			if p, ok := r.members[cmd.Participant]; ok {
				machines = []string{p.Node}
			}
		} else {
			for mc := range r.machines {
				machines = append(machines, mc)
			}
		}
	}
	s.mu.Unlock()
	if len(machines) == 0 {
		if cmd.perParticipant() {
			return fmt.Errorf("%w: participant %s in room %s", ErrNotFound, cmd.Participant, cmd.Room)
		}
		return nil
	}
	return fanRequest(s.cfg.Conn, machines, func(n string) string { return subjectAgent(n) + ".q" },
		message{T: msgCommand, From: s.info.ID, Room: cmd.Room, Command: &cmd}, s.cfg.Timeout)
}

// fanRequest sends m to every node at once and joins the errors.
func fanRequest(nc *nats.Conn, nodes []string, subject func(string) string, m message, timeout time.Duration) error {
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rep, err := request(nc, []string{subject(n)}, m, timeout)
			if err == nil {
				err = replyError(rep)
			}
			if err != nil {
				errs[i] = fmt.Errorf("%s: %w", n, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Stats returns the service's counters.
func (s *SetService) Stats() SetStats {
	s.mu.Lock()
	st := SetStats{Rooms: len(s.rooms)}
	for _, r := range s.rooms {
		st.Machines += len(r.machines)
		st.Participants += len(r.members)
		st.CachedPages += len(r.pages)
	}
	s.mu.Unlock()
	st.MsgsIn, st.BatchesUp, st.EventsUp = s.msgsIn.Load(), s.up.deltas.Load(), s.eventsUp.Load()
	st.Registrations, st.BeatErrors = s.up.registrations.Load(), s.up.beatErrors.Load()
	st.BatchesIn, st.MsgsDown = s.batchesIn.Load(), s.msgsDown.Load()
	st.CacheHits, st.CacheMisses, st.Invalidated = s.cacheHits.Load(), s.cacheMisses.Load(), s.invalidated.Load()
	st.Commands, st.ExpiredMachines = s.commands.Load(), s.expiredMachines.Load()
	return st
}
