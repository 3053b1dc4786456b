package fabric

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
)

// LoadConfig configures RunLoad.
type LoadConfig struct {
	// Streams are published by Origin (default: the first live interface
	// node by id); Endpoints probe endpoints subscribe to them, spread
	// over the live interface nodes other than the origin (or Nodes, when
	// set) and the streams.
	Streams   int
	Endpoints int
	Origin    string
	Nodes     []string
	Duration  time.Duration
	Payload   int
	// Discover is how long to listen for heartbeats (default 1.5 s).
	Discover time.Duration
}

// LoadResult is what RunLoad measured.
type LoadResult struct {
	Origin     string           `json:"origin"`
	Streams    int              `json:"streams"`
	Endpoints  int              `json:"endpoints"`
	Seconds    float64          `json:"seconds"`
	Published  uint64           `json:"published"`
	Received   uint64           `json:"received"`
	Lost       uint64           `json:"lost"`
	LossPct    float64          `json:"loss_pct"`
	DelayP50   float64          `json:"delay_p50_us"`
	DelayP99   float64          `json:"delay_p99_us"`
	Hops       float64          `json:"hops"` // mean hops from the origin to an endpoint's node
	HopP50     float64          `json:"delay_per_hop_p50_us"`
	HopP99     float64          `json:"delay_per_hop_p99_us"`
	OriginPPS  float64          `json:"origin_egress_pps"`
	OriginCopy float64          `json:"origin_copies_per_packet"` // per packet of a subscribed stream
	Nodes      []LoadNodeResult `json:"nodes"`
}

// LoadNodeResult is one node's share of the load.
type LoadNodeResult struct {
	Node       string  `json:"node"`
	Set        string  `json:"set"`
	InPPS      float64 `json:"in_pps"`
	OutPPS     float64 `json:"out_pps"`
	CPU        float64 `json:"cpu_pct"` // of one core
	PPSPerCore float64 `json:"forwarded_pps_per_core"`
}

// Discover listens to heartbeats for d and returns the live nodes by id.
func Discover(nc *nats.Conn, d time.Duration) ([]NodeInfo, error) {
	var mu sync.Mutex
	seen := map[string]NodeInfo{}
	sub, err := nc.Subscribe("sb.hb.>", func(m *nats.Msg) {
		var hb heartbeat
		if decode(m.Data, &hb) == nil && !hb.Leaving {
			mu.Lock()
			seen[hb.Node.ID] = hb.Node
			mu.Unlock()
		}
	})
	if err != nil {
		return nil, err
	}
	time.Sleep(d)
	_ = sub.Unsubscribe()
	mu.Lock()
	defer mu.Unlock()
	var out []NodeInfo
	for _, n := range seen {
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b NodeInfo) int { return cmpString(a.ID, b.ID) })
	return out, nil
}

// RunLoad publishes streams and subscribes probe endpoints across a
// running fabric, and measures rates, delay and loss from the nodes'
// own counters and probes.
func RunLoad(ctx context.Context, nc *nats.Conn, cfg LoadConfig) (LoadResult, error) {
	if cfg.Discover <= 0 {
		cfg.Discover = 1500 * time.Millisecond
	}
	cfg.Streams, cfg.Endpoints = max(cfg.Streams, 1), max(cfg.Endpoints, 1)
	live, err := Discover(nc, cfg.Discover)
	if err != nil {
		return LoadResult{}, err
	}
	byID := map[string]NodeInfo{}
	for _, n := range live {
		byID[n.ID] = n
	}
	if cfg.Origin == "" {
		for _, n := range live {
			if n.Has(RoleInterface) {
				cfg.Origin = n.ID
				break
			}
		}
	}
	if _, ok := byID[cfg.Origin]; !ok {
		return LoadResult{}, fmt.Errorf("origin %q is not a live node (live: %d nodes)", cfg.Origin, len(live))
	}
	subs := cfg.Nodes
	if len(subs) == 0 {
		for _, n := range live {
			if n.Has(RoleInterface) && n.ID != cfg.Origin {
				subs = append(subs, n.ID)
			}
		}
	}
	if len(subs) == 0 {
		return LoadResult{}, errors.New("no interface node to subscribe endpoints on")
	}
	const to = 10 * time.Second
	ids := make([]StreamID, cfg.Streams)
	for i := range ids {
		ids[i] = StreamID{Room: "loadtest", Participant: fmt.Sprintf("s%05d", i), Kind: KindUplink}
	}
	for _, n := range live {
		_, _ = Probe(nc, n.ID, ProbeRequest{Op: "stop"}, to)
	}
	if _, err := Probe(nc, cfg.Origin, ProbeRequest{Op: "publish", Streams: ids, Payload: cfg.Payload}, to); err != nil {
		return LoadResult{}, err
	}
	defer func() {
		for _, n := range live {
			_, _ = Probe(nc, n.ID, ProbeRequest{Op: "stop"}, to)
		}
	}()
	// Endpoints cycle through the (node, stream) pairs, nodes first: with
	// at least nodes × streams endpoints every node subscribes to every
	// stream.
	want := map[string]map[StreamID]int{}
	subscribed := map[StreamID]bool{}
	for e := range cfg.Endpoints {
		p := e % (len(subs) * len(ids))
		node, id := subs[p%len(subs)], ids[p/len(subs)]
		subscribed[id] = true
		if want[node] == nil {
			want[node] = map[StreamID]int{}
		}
		want[node][id]++
	}
	for node, per := range want {
		byCount := map[int][]StreamID{}
		for id, c := range per {
			byCount[c] = append(byCount[c], id)
		}
		for c, streams := range byCount {
			if _, err := Probe(nc, node, ProbeRequest{Op: "subscribe", Streams: streams, Count: c}, to); err != nil {
				return LoadResult{}, err
			}
		}
	}
	// Let every pull settle, then measure.
	select {
	case <-time.After(time.Second):
	case <-ctx.Done():
		return LoadResult{}, ctx.Err()
	}
	before := map[string]Stats{}
	for _, n := range live {
		if s, err := NodeStats(nc, n.ID, to); err == nil {
			before[n.ID] = s
		}
	}
	start := time.Now()
	select {
	case <-time.After(cfg.Duration):
	case <-ctx.Done():
		return LoadResult{}, ctx.Err()
	}
	secs := time.Since(start).Seconds()
	res := LoadResult{Origin: cfg.Origin, Streams: cfg.Streams, Endpoints: cfg.Endpoints, Seconds: secs}
	after := map[string]Stats{}
	for _, n := range live {
		s, err := NodeStats(nc, n.ID, to)
		if err != nil {
			continue
		}
		after[n.ID] = s
		b := before[n.ID]
		r := LoadNodeResult{Node: n.ID, Set: n.Set,
			InPPS:  float64(s.PacketsIn-b.PacketsIn) / secs,
			OutPPS: float64(s.PacketsOut-b.PacketsOut) / secs,
			CPU:    100 * (s.CPUSeconds - b.CPUSeconds) / secs}
		if r.CPU > 0 {
			r.PPSPerCore = r.OutPPS / (r.CPU / 100)
		}
		res.Nodes = append(res.Nodes, r)
		if n.ID == cfg.Origin {
			res.OriginPPS = r.OutPPS
		}
	}
	// Hops from the origin to each subscribing node, by following the
	// stream's upstreams.
	var hops, paths float64
	for _, node := range subs {
		for _, id := range ids[:min(len(ids), 4)] {
			h, cur := 0, node
			for cur != cfg.Origin && h < 8 {
				st, ok := after[cur].Stream(id)
				if !ok || st.Upstream == "" {
					break
				}
				cur = st.Upstream
				h++
			}
			if cur == cfg.Origin && h > 0 {
				hops += float64(h)
				paths++
			}
		}
	}
	if paths > 0 {
		res.Hops = hops / paths
	}
	var hist []uint64
	for node := range want {
		rep, err := Probe(nc, node, ProbeRequest{Op: "stop"}, to)
		if err != nil {
			return res, err
		}
		res.Received += rep.Received
		res.Lost += rep.Lost
		for i, v := range rep.Delays {
			if i >= len(hist) {
				hist = append(hist, make([]uint64, i+1-len(hist))...)
			}
			hist[i] += v
		}
	}
	if rep, err := Probe(nc, cfg.Origin, ProbeRequest{Op: "stop"}, to); err == nil {
		res.Published = rep.Published
	}
	if res.Received+res.Lost > 0 {
		res.LossPct = 100 * float64(res.Lost) / float64(res.Received+res.Lost)
	}
	res.DelayP50, res.DelayP99 = Quantile(hist, 0.5), Quantile(hist, 0.99)
	if res.Hops > 0 {
		res.HopP50, res.HopP99 = res.DelayP50/res.Hops, res.DelayP99/res.Hops
	}
	if pub := float64(len(subscribed)) * 50; pub > 0 {
		res.OriginCopy = res.OriginPPS / pub
	}
	return res, nil
}

// cpuSeconds is the user and system CPU time of this process.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}
