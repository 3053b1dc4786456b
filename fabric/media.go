package fabric

import (
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// maxPacket is the largest RTP packet relayed.
const maxPacket = 1500

// inKey tells the streams arriving on a node's socket apart: the
// upstream's address and the SSRC its pull reply assigned.
type inKey struct {
	from netip.AddrPort
	ssrc uint32
}

// relay is one stream on one node: its origin, or a relay of it pulled
// from an upstream, fanned out to remote subscribers and local handlers.
type relay struct {
	id     StreamID
	ssrc   uint32 // the SSRC this node sends the stream with
	origin bool

	// Read on the receive path without locks.
	out    atomic.Pointer[[]netip.AddrPort] // remote subscribers
	locals atomic.Pointer[[]*Subscription]
	in     atomic.Uint64 // packets received (or published)
	sent   atomic.Uint64 // packets sent to remote subscribers
	last   atomic.Int64  // unix nanoseconds of the last packet

	pull sync.Mutex // serialises upkeep of this relay

	// Guarded by Node.mu.
	subs      map[string]*remoteSub // by subscriber node id
	localSubs []*Subscription
	up        upstream
	originOf  *NodeInfo // the origin, once located
	lastWarn  time.Time
}

// upstream is where a relay pulls its stream from.
type upstream struct {
	node     string // node id; "" when not pulling
	media    netip.AddrPort
	ssrc     uint32
	lastPull time.Time
}

type remoteSub struct {
	node  string
	media netip.AddrPort
	seen  time.Time
}

// forward sends pkt (an RTP packet in a buffer the relay may change) to
// every subscriber with the relay's SSRC. It does not allocate.
func (r *relay) forward(conn *net.UDPConn, pkt []byte, now int64) (sent int) {
	r.in.Add(1)
	r.last.Store(now)
	binary.BigEndian.PutUint32(pkt[8:12], r.ssrc)
	if outs := r.out.Load(); outs != nil {
		for _, a := range *outs {
			if _, err := conn.WriteToUDPAddrPort(pkt, a); err == nil {
				sent++
			}
		}
		r.sent.Add(uint64(sent))
	}
	if ls := r.locals.Load(); ls != nil {
		for _, s := range *ls {
			s.deliver(pkt)
		}
	}
	return sent
}

// publishSubsLocked refreshes the snapshots the receive path reads.
func (r *relay) publishSubsLocked() {
	outs := make([]netip.AddrPort, 0, len(r.subs))
	for _, s := range r.subs {
		outs = append(outs, s.media)
	}
	r.out.Store(&outs)
	ls := append([]*Subscription(nil), r.localSubs...)
	r.locals.Store(&ls)
}

// wanted reports whether anyone still needs the stream.
func (r *relay) wantedLocked() bool { return len(r.subs) > 0 || len(r.localSubs) > 0 }

// Subscription is a local handler of a stream; see Node.Subscribe.
type Subscription struct {
	n       *Node
	r       *relay
	fn      func(pkt []byte)
	once    sync.Once
	packets atomic.Uint64
}

func (s *Subscription) deliver(pkt []byte) {
	s.packets.Add(1)
	s.fn(pkt)
}

// Packets returns the number of packets handed to the handler so far.
func (s *Subscription) Packets() uint64 { return s.packets.Load() }

// Close ends the subscription; when it was the stream's last, the node
// releases its pull.
func (s *Subscription) Close() {
	s.once.Do(func() { s.n.unsubscribe(s) })
}

// Publisher sends a stream this node originates; see Node.Publish.
type Publisher struct {
	n    *Node
	r    *relay
	mu   sync.Mutex
	buf  [maxPacket]byte
	once sync.Once
	stop func()
}

// Write sends one RTP packet of the stream to its subscribers; its SSRC
// is replaced by the stream's. It does not allocate.
func (p *Publisher) Write(pkt []byte) error {
	if len(pkt) < 12 || len(pkt) > maxPacket {
		return errPacketSize
	}
	p.mu.Lock()
	n := copy(p.buf[:], pkt)
	sent := p.r.forward(p.n.conn, p.buf[:n], p.n.clock.Now().UnixNano())
	p.mu.Unlock()
	p.n.stats.packetsOut.Add(uint64(sent))
	return nil
}

// SSRC returns the SSRC the stream leaves the origin with.
func (p *Publisher) SSRC() uint32 { return p.r.ssrc }

// Close stops publishing: subscribers stop receiving the stream.
func (p *Publisher) Close() {
	p.once.Do(func() {
		if p.stop != nil {
			p.stop()
		}
		p.n.unpublish(p.r)
	})
}
