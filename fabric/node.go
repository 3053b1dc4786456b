package fabric

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/setbridge/setbridge/media"
)

// Defaults of Config.
const (
	DefaultHeartbeat = 250 * time.Millisecond
	DefaultExpiry    = time.Second
	DefaultRefresh   = time.Second
	DefaultLease     = 3 * time.Second
	requestTimeout   = 500 * time.Millisecond
)

// TransitRoute names the transit node for pulls from one network to another.
type TransitRoute struct {
	From string `yaml:"from"` // the subscriber's network
	To   string `yaml:"to"`   // the origin's network
	Node string `yaml:"node"`
}

// Config configures a Node.
type Config struct {
	// Info describes the node; Info.Media is filled in from the socket.
	Info NodeInfo
	// MediaAddr is the UDP address to bind for RTP ("127.0.0.1:0").
	MediaAddr string
	// Conn is the node's connection to the NATS control plane.
	Conn *nats.Conn
	// Transit routes, tried before hashing over the transit nodes.
	Transit []TransitRoute
	// Heartbeat, Expiry, Refresh and Lease are the heartbeat interval, the
	// silence after which a node leaves the rings, the pull refresh
	// interval, and the silence after which an upstream drops a
	// subscriber (defaults 250 ms, 1 s, 1 s, 3 s).
	Heartbeat, Expiry, Refresh, Lease time.Duration
	Logger                            *slog.Logger
	Clock                             media.Clock
}

// Node is one machine of the fabric. Construct it with Start.
type Node struct {
	cfg   Config
	info  NodeInfo
	nc    *nats.Conn
	conn  *net.UDPConn
	log   *slog.Logger
	clock media.Clock
	stats counters

	mu      sync.Mutex
	relays  map[StreamID]*relay // guarded by mu
	live    map[string]liveNode // guarded by mu: other nodes by id
	closed  bool                // guarded by mu
	inbound atomic.Pointer[map[inKey]*relay]

	probes probes
	subs   []*nats.Subscription
	done   chan struct{}
	wg     sync.WaitGroup
}

type liveNode struct {
	info NodeInfo
	seen time.Time
}

type counters struct {
	packetsIn, packetsOut, dropped       atomic.Uint64
	upstreamPulls, refreshes, pullErrors atomic.Uint64
	pullsServed, cacheHits, releases     atomic.Uint64
	expiredSubs, failovers               atomic.Uint64
}

// Start binds the node's media socket, joins the control plane and starts
// the heartbeat; Close stops it.
func Start(cfg Config) (*Node, error) {
	if cfg.Conn == nil {
		return nil, errors.New("fabric: a NATS connection is required")
	}
	if cfg.Info.ID == "" || cfg.Info.Set == "" {
		return nil, errors.New("fabric: a node needs an id and a set")
	}
	if cfg.Info.Network == "" {
		cfg.Info.Network = "default"
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.Expiry <= 0 {
		cfg.Expiry = DefaultExpiry
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = DefaultRefresh
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = media.SystemClock{}
	}
	if cfg.MediaAddr == "" {
		cfg.MediaAddr = "127.0.0.1:0"
	}
	ua, err := net.ResolveUDPAddr("udp", cfg.MediaAddr)
	if err != nil {
		return nil, fmt.Errorf("fabric media address: %w", err)
	}
	conn, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, fmt.Errorf("fabric media socket: %w", err)
	}
	_ = conn.SetReadBuffer(4 << 20)
	_ = conn.SetWriteBuffer(4 << 20)
	info := cfg.Info
	info.Media = conn.LocalAddr().String()
	n := &Node{cfg: cfg, info: info, nc: cfg.Conn, conn: conn, clock: cfg.Clock,
		log:    cfg.Logger.With("component", "fabric", "node", info.ID),
		relays: make(map[StreamID]*relay), live: make(map[string]liveNode), done: make(chan struct{})}
	empty := map[inKey]*relay{}
	n.inbound.Store(&empty)
	n.probes.init(n)
	handlers := map[string]nats.MsgHandler{
		"sb.hb.>":                         n.onHeartbeat,
		"sb.node." + info.ID + ".pull":    n.async(n.onPull),
		"sb.node." + info.ID + ".release": n.onRelease,
		"sb.node." + info.ID + ".stats":   n.onStats,
		"sb.node." + info.ID + ".probe":   n.async(n.probes.onProbe),
	}
	for subj, h := range handlers {
		s, err := n.nc.Subscribe(subj, h)
		if err != nil {
			n.unsubscribeAll()
			conn.Close()
			return nil, fmt.Errorf("fabric: subscribing %s: %w", subj, err)
		}
		n.subs = append(n.subs, s)
	}
	n.beat(false)
	n.wg.Add(3)
	go n.receive()
	go n.heartbeats()
	go n.maintain()
	n.log.Info("fabric node started", "set", info.Set, "network", info.Network, "roles", info.Roles, "media", info.Media)
	return n, nil
}

// Info returns what the node tells the others about itself.
func (n *Node) Info() NodeInfo { return n.info }

// async runs h on its own goroutine, so that a slow request (a pull that
// pulls upstream first) does not hold up the next.
func (n *Node) async(h nats.MsgHandler) nats.MsgHandler {
	return func(m *nats.Msg) {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			h(m)
		}()
	}
}

func (n *Node) unsubscribeAll() {
	for _, s := range n.subs {
		_ = s.Unsubscribe()
	}
	n.subs = nil
}

// Close leaves the fabric: it says so in a last heartbeat, releases its
// pulls and waits for its goroutines.
func (n *Node) Close() {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.closed = true
	var pulled []*relay
	for _, r := range n.relays {
		if r.up.node != "" {
			pulled = append(pulled, r)
		}
	}
	n.mu.Unlock()
	n.probes.stopAll()
	for _, r := range pulled {
		n.release(r.up.node, r.id)
	}
	n.beat(true)
	n.unsubscribeAll()
	_ = n.nc.Flush()
	close(n.done)
	n.conn.Close()
	n.wg.Wait()
	n.log.Info("fabric node stopped")
}

// beat publishes the node's heartbeat.
func (n *Node) beat(leaving bool) {
	_ = n.nc.Publish("sb.hb."+n.info.Set, encode(heartbeat{V: WireVersion, Node: n.info, Leaving: leaving}))
}

func (n *Node) onHeartbeat(m *nats.Msg) {
	var hb heartbeat
	if err := decode(m.Data, &hb); err != nil {
		n.log.Debug("heartbeat ignored", "error", err)
		return
	}
	if hb.Node.ID == n.info.ID {
		return
	}
	n.mu.Lock()
	if hb.Leaving {
		delete(n.live, hb.Node.ID)
	} else {
		if _, ok := n.live[hb.Node.ID]; !ok {
			n.log.Debug("node joined", "peer", hb.Node.ID, "set", hb.Node.Set)
		}
		n.live[hb.Node.ID] = liveNode{info: hb.Node, seen: n.clock.Now()}
	}
	n.mu.Unlock()
}

// Live returns the live nodes, this one included, sorted by id.
func (n *Node) Live() []NodeInfo {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := []NodeInfo{n.info}
	for _, l := range n.live {
		out = append(out, l.info)
	}
	slices.SortFunc(out, func(a, b NodeInfo) int { return cmpString(a.ID, b.ID) })
	return out
}

// liveLocked returns the live nodes (this one included) that match keep.
func (n *Node) liveLocked(keep func(NodeInfo) bool) []NodeInfo {
	var out []NodeInfo
	if keep(n.info) {
		out = append(out, n.info)
	}
	for _, l := range n.live {
		if keep(l.info) {
			out = append(out, l.info)
		}
	}
	return out
}

func (n *Node) nodeLocked(id string) (NodeInfo, bool) {
	if id == n.info.ID {
		return n.info, true
	}
	l, ok := n.live[id]
	return l.info, ok
}

// RetrievalFor returns the retrieval node this node's SET uses for stream
// id, by rank among the SET's live retrieval nodes.
func (n *Node) RetrievalFor(id StreamID) (NodeInfo, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.retrievalLocked(id)
}

func (n *Node) retrievalLocked(id StreamID) (NodeInfo, bool) {
	rs := n.liveLocked(func(x NodeInfo) bool { return x.Set == n.info.Set && x.Has(RoleRetrieval) })
	if len(rs) == 0 {
		return NodeInfo{}, false
	}
	return Rank(id.String(), rs)[0], true
}

func newSSRC() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint32(b[:]) | 1
}

// Publish makes this node the origin of stream id.
func (n *Node) Publish(id StreamID) (*Publisher, error) {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil, ErrClosed
	}
	r := n.relays[id]
	if r != nil && r.origin {
		n.mu.Unlock()
		return nil, ErrPublished
	}
	if r == nil {
		r = &relay{id: id, ssrc: newSSRC(), subs: map[string]*remoteSub{}}
		n.relays[id] = r
	} else if r.up.node != "" {
		// Someone here pulled it before it was published here: stop.
		defer n.release(r.up.node, id)
		n.dropInboundLocked(r)
		r.up = upstream{}
	}
	r.origin = true
	r.publishSubsLocked()
	n.mu.Unlock()
	s, err := n.nc.Subscribe("sb.stream."+id.token()+".where", func(m *nats.Msg) {
		_ = m.Respond(encode(whereReply{V: WireVersion, Node: n.info}))
	})
	if err != nil {
		n.unpublish(r)
		return nil, fmt.Errorf("fabric: announcing %s: %w", id, err)
	}
	return &Publisher{n: n, r: r, stop: func() { _ = s.Unsubscribe() }}, nil
}

func (n *Node) unpublish(r *relay) {
	n.mu.Lock()
	defer n.mu.Unlock()
	r.origin = false
	// Remote subscribers lose the stream; their next refresh finds no
	// origin, and they keep asking until one publishes it again.
	clear(r.subs)
	r.publishSubsLocked()
	if !r.wantedLocked() {
		delete(n.relays, r.id)
	}
}

// Subscribe calls fn with every RTP packet of stream id, on the node's
// receive goroutine (fn must not block, and pkt is valid only during the
// call), until the Subscription is closed. The stream is pulled through
// the SET's retrieval node unless this node has it already.
func (n *Node) Subscribe(id StreamID, fn func(pkt []byte)) (*Subscription, error) {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil, ErrClosed
	}
	r := n.relays[id]
	if r == nil {
		r = &relay{id: id, ssrc: newSSRC(), subs: map[string]*remoteSub{}}
		n.relays[id] = r
	}
	s := &Subscription{n: n, r: r, fn: fn}
	r.localSubs = append(r.localSubs, s)
	r.publishSubsLocked()
	n.mu.Unlock()
	if err := n.upkeep(r, n.clock.Now()); err != nil {
		n.log.Warn("stream not reachable yet; retrying", "stream", id.String(), "error", err)
	}
	return s, nil
}

func (n *Node) unsubscribe(s *Subscription) {
	n.mu.Lock()
	r := s.r
	if i := slices.Index(r.localSubs, s); i >= 0 {
		r.localSubs = slices.Delete(r.localSubs, i, i+1)
	}
	r.publishSubsLocked()
	n.mu.Unlock()
	_ = n.upkeep(r, n.clock.Now())
}

// onPull takes a subscriber: from the relay's cache when the stream is
// here already, else after pulling it upstream.
func (n *Node) onPull(m *nats.Msg) {
	var req pullRequest
	if err := decode(m.Data, &req); err != nil {
		_ = m.Respond(encode(pullReply{V: WireVersion, Error: err.Error()}))
		return
	}
	addr, err := netip.ParseAddrPort(req.Media)
	if err != nil {
		_ = m.Respond(encode(pullReply{V: WireVersion, Error: "bad media address: " + err.Error()}))
		return
	}
	now := n.clock.Now()
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		_ = m.Respond(encode(pullReply{V: WireVersion, Error: ErrClosed.Error()}))
		return
	}
	r := n.relays[req.Stream]
	if r == nil {
		r = &relay{id: req.Stream, ssrc: newSSRC(), subs: map[string]*remoteSub{}}
		n.relays[req.Stream] = r
	}
	cached := r.origin || r.up.node != ""
	sub, known := r.subs[req.Subscriber]
	if !known {
		sub = &remoteSub{node: req.Subscriber}
		r.subs[req.Subscriber] = sub
	}
	sub.media, sub.seen = addr, now
	if req.Origin != "" && r.originOf == nil {
		if o, ok := n.nodeLocked(req.Origin); ok {
			r.originOf = &o
		}
	}
	r.publishSubsLocked()
	ssrc := r.ssrc
	n.mu.Unlock()
	if !known {
		n.stats.pullsServed.Add(1)
		if cached {
			n.stats.cacheHits.Add(1)
		}
	} else {
		n.stats.refreshes.Add(1)
	}
	if !cached {
		if err := n.upkeep(r, now); err != nil {
			n.mu.Lock()
			delete(r.subs, req.Subscriber)
			r.publishSubsLocked()
			n.mu.Unlock()
			_ = m.Respond(encode(pullReply{V: WireVersion, Error: err.Error()}))
			return
		}
	}
	_ = m.Respond(encode(pullReply{V: WireVersion, SSRC: ssrc, Cached: cached}))
}

func (n *Node) onRelease(m *nats.Msg) {
	var req releaseRequest
	if err := decode(m.Data, &req); err != nil {
		return
	}
	n.mu.Lock()
	r := n.relays[req.Stream]
	if r != nil {
		if _, ok := r.subs[req.Subscriber]; ok {
			delete(r.subs, req.Subscriber)
			r.publishSubsLocked()
			n.stats.releases.Add(1)
		}
	}
	n.mu.Unlock()
	if r != nil {
		_ = n.upkeep(r, n.clock.Now())
	}
	if m.Reply != "" {
		_ = m.Respond([]byte(`{"v":1}`))
	}
}

// release tells node it no longer needs stream id from here.
func (n *Node) release(node string, id StreamID) {
	_, _ = n.nc.Request("sb.node."+node+".release",
		encode(releaseRequest{V: WireVersion, Stream: id, Subscriber: n.info.ID}), requestTimeout)
}

// upkeep makes r's upstream what it should be: none when nobody wants the
// stream (the relay is then dropped), else the SET's retrieval node or,
// for a retrieval node or one with remote subscribers, the origin (through
// a transit node across networks). It refreshes the pull when due.
func (n *Node) upkeep(r *relay, now time.Time) error {
	r.pull.Lock()
	defer r.pull.Unlock()
	n.mu.Lock()
	if r.origin {
		n.mu.Unlock()
		return nil
	}
	if !r.wantedLocked() || n.closed {
		old := r.up.node
		n.dropInboundLocked(r)
		r.up = upstream{}
		if n.relays[r.id] == r && !r.wantedLocked() {
			delete(n.relays, r.id)
		}
		n.mu.Unlock()
		if old != "" {
			n.release(old, r.id)
		}
		return nil
	}
	cands, err := n.upstreamsLocked(r)
	cur := r.up
	// An upstream that has missed two heartbeats is asked at once rather
	// than at the next refresh: if it is dead, its pull fails at once (no
	// responder) and the next in rank takes over well before it leaves
	// the ring.
	suspect := false
	if l, ok := n.live[cur.node]; ok && now.Sub(l.seen) > 2*n.cfg.Heartbeat {
		suspect = true
	}
	n.mu.Unlock()
	if err != nil {
		return err
	}
	if cur.node != "" && cands[0].ID == cur.node && now.Sub(cur.lastPull) < n.cfg.Refresh && !suspect {
		return nil
	}
	var errs []error
	for _, c := range cands {
		up, err := n.pull(r, c)
		if err != nil {
			n.stats.pullErrors.Add(1)
			errs = append(errs, fmt.Errorf("%s: %w", c.ID, err))
			continue
		}
		up.lastPull = now
		n.mu.Lock()
		changed := up.node != cur.node || up.ssrc != cur.ssrc
		if changed {
			n.dropInboundLocked(r)
		}
		r.up = up
		if changed {
			n.addInboundLocked(r)
		}
		n.mu.Unlock()
		if up.node != cur.node {
			n.stats.upstreamPulls.Add(1)
			if cur.node != "" {
				n.stats.failovers.Add(1)
				n.log.Info("stream moved to a new upstream", "stream", r.id.String(), "from", cur.node, "to", up.node)
				go n.release(cur.node, r.id)
			}
		}
		return nil
	}
	return fmt.Errorf("%w %s: %w", ErrNoRoute, r.id, errors.Join(errs...))
}

// upstreamsLocked lists where r may be pulled from, best first: the SET's
// retrieval nodes in rank order, down to this node if it is one (then it
// pulls directly), and last the origin, or the transit node towards it. A
// retrieval node that died but has not yet left the ring fails its pull
// at once (NATS has no responder), and the next in rank, which is the one
// that takes over, is asked instead: a dead retrieval node does not send
// a SET's nodes to the origin.
func (n *Node) upstreamsLocked(r *relay) ([]NodeInfo, error) {
	var cands []NodeInfo
	if len(r.subs) == 0 {
		rs := n.liveLocked(func(x NodeInfo) bool { return x.Set == n.info.Set && x.Has(RoleRetrieval) })
		for _, x := range Rank(r.id.String(), rs) {
			if x.ID == n.info.ID {
				break
			}
			cands = append(cands, x)
		}
	}
	origin, err := n.originLocked(r)
	if err != nil {
		if len(cands) > 0 {
			return cands, nil
		}
		return nil, err
	}
	// Reached directly: on the same network, or from a transit node that
	// joins one of the origin's.
	if origin.Joins(n.info.Network) ||
		n.info.Has(RoleTransit) && (n.info.Joins(origin.Network) || slices.ContainsFunc(origin.Networks, n.info.Joins)) {
		return append(cands, origin), nil
	}
	t, ok := n.transitLocked(r.id, origin.Network)
	if !ok {
		if len(cands) > 0 {
			return cands, nil
		}
		return nil, fmt.Errorf("%w: origin %s is on network %s, and no live transit node joins %s and %s",
			ErrNoRoute, origin.ID, origin.Network, n.info.Network, origin.Network)
	}
	return append(cands, t), nil
}

// originLocked returns r's origin, asking for it if it is not known or
// no longer live. It drops n.mu while it asks.
func (n *Node) originLocked(r *relay) (NodeInfo, error) {
	if r.originOf != nil {
		if o, ok := n.nodeLocked(r.originOf.ID); ok {
			return o, nil
		}
	}
	n.mu.Unlock()
	msg, err := n.nc.Request("sb.stream."+r.id.token()+".where", encode(struct {
		V int `json:"v"`
	}{WireVersion}), requestTimeout)
	n.mu.Lock()
	if err != nil {
		return NodeInfo{}, fmt.Errorf("%w: no origin answers for %s: %w", ErrNoRoute, r.id, err)
	}
	var w whereReply
	if err := decode(msg.Data, &w); err != nil {
		return NodeInfo{}, err
	}
	r.originOf = &w.Node
	return w.Node, nil
}

// transitLocked picks the transit node for pulls from this node's network
// to net: a configured route, else the first by rank of the live transit
// nodes that join both.
func (n *Node) transitLocked(id StreamID, net string) (NodeInfo, bool) {
	for _, rt := range n.cfg.Transit {
		if rt.From == n.info.Network && rt.To == net {
			if t, ok := n.nodeLocked(rt.Node); ok {
				return t, true
			}
		}
	}
	ts := n.liveLocked(func(x NodeInfo) bool { return x.Has(RoleTransit) && x.Joins(n.info.Network) && x.Joins(net) })
	if len(ts) == 0 {
		return NodeInfo{}, false
	}
	return Rank(id.String(), ts)[0], true
}

// pull asks node c for r's stream.
func (n *Node) pull(r *relay, c NodeInfo) (upstream, error) {
	media, err := netip.ParseAddrPort(c.Media)
	if err != nil {
		return upstream{}, fmt.Errorf("media address %q: %w", c.Media, err)
	}
	req := pullRequest{V: WireVersion, Stream: r.id, Subscriber: n.info.ID, Media: n.info.Media}
	n.mu.Lock()
	if r.originOf != nil {
		req.Origin = r.originOf.ID
	}
	n.mu.Unlock()
	msg, err := n.nc.Request("sb.node."+c.ID+".pull", encode(req), 2*requestTimeout)
	if err != nil {
		return upstream{}, err
	}
	var rep pullReply
	if err := decode(msg.Data, &rep); err != nil {
		return upstream{}, err
	}
	if rep.Error != "" {
		return upstream{}, errors.New(rep.Error)
	}
	return upstream{node: c.ID, media: netip.AddrPortFrom(media.Addr().Unmap(), media.Port()), ssrc: rep.SSRC}, nil
}

func (n *Node) addInboundLocked(r *relay) {
	old := *n.inbound.Load()
	m := make(map[inKey]*relay, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[inKey{r.up.media, r.up.ssrc}] = r
	n.inbound.Store(&m)
}

func (n *Node) dropInboundLocked(r *relay) {
	if r.up.node == "" {
		return
	}
	old := *n.inbound.Load()
	k := inKey{r.up.media, r.up.ssrc}
	if old[k] != r {
		return
	}
	m := make(map[inKey]*relay, len(old))
	for kk, v := range old {
		if kk != k {
			m[kk] = v
		}
	}
	n.inbound.Store(&m)
}

// receive relays every packet that arrives on the media socket.
func (n *Node) receive() {
	defer n.wg.Done()
	buf := make([]byte, maxPacket)
	for {
		sz, from, err := n.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			select {
			case <-n.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		n.handle(buf[:sz], from)
	}
}

// handle relays one received packet. It does not allocate.
func (n *Node) handle(pkt []byte, from netip.AddrPort) {
	n.stats.packetsIn.Add(1)
	if len(pkt) < 12 || pkt[0]>>6 != 2 {
		n.stats.dropped.Add(1)
		return
	}
	k := inKey{netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), binary.BigEndian.Uint32(pkt[8:12])}
	r := (*n.inbound.Load())[k]
	if r == nil {
		n.stats.dropped.Add(1)
		return
	}
	sent := r.forward(n.conn, pkt, n.clock.Now().UnixNano())
	n.stats.packetsOut.Add(uint64(sent))
}

// heartbeats publishes the node's heartbeat every Config.Heartbeat, on
// its own goroutine so that slow pulls never delay it.
func (n *Node) heartbeats() {
	defer n.wg.Done()
	t := n.clock.NewTicker(n.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-n.done:
			return
		case <-t.C():
			n.beat(false)
		}
	}
}

// maintain expires dead nodes and stale subscribers, and keeps every
// relay's pull alive.
func (n *Node) maintain() {
	defer n.wg.Done()
	t := n.clock.NewTicker(n.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-n.done:
			return
		case <-t.C():
		}
		now := n.clock.Now()
		n.mu.Lock()
		for id, l := range n.live {
			if now.Sub(l.seen) > n.cfg.Expiry {
				delete(n.live, id)
				n.log.Info("node left the fabric", "peer", id, "set", l.info.Set)
			}
		}
		rs := make([]*relay, 0, len(n.relays))
		for _, r := range n.relays {
			changed := false
			for id, s := range r.subs {
				if now.Sub(s.seen) > n.cfg.Lease {
					delete(r.subs, id)
					changed = true
					n.stats.expiredSubs.Add(1)
				}
			}
			if changed {
				r.publishSubsLocked()
			}
			rs = append(rs, r)
		}
		n.mu.Unlock()
		for _, r := range rs {
			if err := n.upkeep(r, now); err != nil {
				n.mu.Lock()
				warn := now.Sub(r.lastWarn) >= 5*time.Second
				if warn {
					r.lastWarn = now
				}
				n.mu.Unlock()
				if warn {
					n.log.Warn("stream unreachable", "stream", r.id.String(), "error", err)
				}
			}
		}
	}
}
