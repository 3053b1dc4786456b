package fabric

import (
	"slices"
	"time"

	"github.com/nats-io/nats.go"
)

// Stats are a node's own counters.
type Stats struct {
	Node    string `json:"node"`
	Set     string `json:"set"`
	Network string `json:"network"`
	// Packets received on the media socket, sent from it (one per
	// subscriber), and dropped (unknown stream, not RTP).
	PacketsIn  uint64 `json:"packets_in"`
	PacketsOut uint64 `json:"packets_out"`
	Dropped    uint64 `json:"dropped"`
	// UpstreamPulls counts pulls of a stream from a new upstream;
	// Failovers those that replaced a previous upstream.
	UpstreamPulls uint64 `json:"upstream_pulls"`
	Failovers     uint64 `json:"failovers"`
	PullErrors    uint64 `json:"pull_errors"`
	// PullsServed counts subscribers taken; CacheHits those served from a
	// stream the node already had, with no new upstream pull.
	PullsServed uint64 `json:"pulls_served"`
	CacheHits   uint64 `json:"cache_hits"`
	Refreshes   uint64 `json:"refreshes"`
	Releases    uint64 `json:"releases"`
	ExpiredSubs uint64 `json:"expired_subscribers"`
	LiveNodes   int    `json:"live_nodes"`
	// CPUSeconds is the process's CPU time so far (user and system).
	CPUSeconds float64       `json:"cpu_seconds"`
	Streams    []StreamStats `json:"streams"`
}

// StreamStats describe one stream on a node.
type StreamStats struct {
	Stream      string   `json:"stream"`
	Origin      bool     `json:"origin"`
	Upstream    string   `json:"upstream,omitempty"`
	Subscribers []string `json:"subscribers,omitempty"` // remote, by node id
	Local       int      `json:"local"`                 // local handlers
	PacketsIn   uint64   `json:"packets_in"`
	PacketsOut  uint64   `json:"packets_out"`
}

// Stats returns the node's counters.
func (n *Node) Stats() Stats {
	s := Stats{Node: n.info.ID, Set: n.info.Set, Network: n.info.Network,
		PacketsIn: n.stats.packetsIn.Load(), PacketsOut: n.stats.packetsOut.Load(), Dropped: n.stats.dropped.Load(),
		UpstreamPulls: n.stats.upstreamPulls.Load(), Failovers: n.stats.failovers.Load(), PullErrors: n.stats.pullErrors.Load(),
		PullsServed: n.stats.pullsServed.Load(), CacheHits: n.stats.cacheHits.Load(), Refreshes: n.stats.refreshes.Load(),
		Releases: n.stats.releases.Load(), ExpiredSubs: n.stats.expiredSubs.Load()}
	s.CPUSeconds = cpuSeconds()
	n.mu.Lock()
	s.LiveNodes = len(n.live) + 1
	for _, r := range n.relays {
		st := StreamStats{Stream: r.id.String(), Origin: r.origin, Upstream: r.up.node, Local: len(r.localSubs),
			PacketsIn: r.in.Load(), PacketsOut: r.sent.Load()}
		for id := range r.subs {
			st.Subscribers = append(st.Subscribers, id)
		}
		slices.Sort(st.Subscribers)
		s.Streams = append(s.Streams, st)
	}
	n.mu.Unlock()
	slices.SortFunc(s.Streams, func(a, b StreamStats) int { return cmpString(a.Stream, b.Stream) })
	return s
}

// Stream returns the stats of one stream on the node.
func (s Stats) Stream(id StreamID) (StreamStats, bool) {
	for _, st := range s.Streams {
		if st.Stream == id.String() {
			return st, true
		}
	}
	return StreamStats{}, false
}

type statsReply struct {
	V     int   `json:"v"`
	Stats Stats `json:"stats"`
}

func (n *Node) onStats(m *nats.Msg) {
	_ = m.Respond(encode(statsReply{V: WireVersion, Stats: n.Stats()}))
}

// NodeStats asks node id for its counters over the control plane.
func NodeStats(nc *nats.Conn, id string, timeout time.Duration) (Stats, error) {
	msg, err := nc.Request("sb.node."+id+".stats", []byte(`{"v":1}`), timeout)
	if err != nil {
		return Stats{}, err
	}
	var r statsReply
	if err := decode(msg.Data, &r); err != nil {
		return Stats{}, err
	}
	return r.Stats, nil
}
