package fabric

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// Probes are synthetic streams and endpoints that a node runs on request
// ("sb.node.<id>.probe"), to test a deployment end to end without callers:
// `setbridge loadtest` drives them, and so do the fabric's integration
// tests. A probe stream sends one RTP packet every 20 ms whose payload
// starts with its send time; a probe endpoint counts what it receives,
// the sequence gaps (loss), and the delay from the origin.

// ProbeRequest asks a node to start or stop probes, or to report.
type ProbeRequest struct {
	V int `json:"v"`
	// Op is "publish" (originate Streams), "subscribe" (Count endpoints
	// per stream of Streams), "report", or "stop" (end every probe here).
	Op      string     `json:"op"`
	Streams []StreamID `json:"streams,omitempty"`
	Count   int        `json:"count,omitempty"`
	// Payload is the payload size of published packets (default 160 bytes,
	// 20 ms of G.711).
	Payload int `json:"payload,omitempty"`
}

// ProbeReport is a node's probes' totals.
type ProbeReport struct {
	V         int    `json:"v"`
	Node      string `json:"node"`
	Error     string `json:"error,omitempty"`
	Published uint64 `json:"published"` // packets sent by probe streams
	Endpoints int    `json:"endpoints"`
	Received  uint64 `json:"received"` // packets received by probe endpoints
	Lost      uint64 `json:"lost"`     // sequence numbers never received
	// Delay from the origin's send to the endpoint, in microseconds.
	DelayP50 float64 `json:"delay_p50_us"`
	DelayP99 float64 `json:"delay_p99_us"`
	// Delays holds the delay histogram: Delays[i] packets took between
	// i and i+1 times DelayBucket.
	Delays []uint64 `json:"delays,omitempty"`
}

// DelayBucket is the width of a ProbeReport delay bucket.
const DelayBucket = 20 * time.Microsecond

const delayBuckets = 5000 // 100 ms

type probes struct {
	n    *Node
	mu   sync.Mutex
	pubs []*Publisher
	eps  []*endpoint
	stop chan struct{}
	wg   sync.WaitGroup

	published atomic.Uint64
	hist      [delayBuckets + 1]atomic.Uint64
}

type endpoint struct {
	p        *probes
	sub      *Subscription
	started  bool
	first    uint64
	high     uint64 // extended sequence numbers
	received atomic.Uint64
	span     atomic.Uint64 // high - first + 1
}

func (p *probes) init(n *Node) { p.n = n }

func (p *probes) onProbe(m *nats.Msg) {
	var req ProbeRequest
	rep := ProbeReport{V: WireVersion, Node: p.n.info.ID}
	err := decode(m.Data, &req)
	if err == nil && req.Op == "stop" {
		p.report(&rep) // the totals before they are reset
		p.stopAll()
		_ = m.Respond(encode(rep))
		return
	}
	if err == nil {
		err = p.do(req)
	}
	if err != nil {
		rep.Error = err.Error()
	}
	p.report(&rep)
	_ = m.Respond(encode(rep))
}

func (p *probes) do(req ProbeRequest) error {
	switch req.Op {
	case "publish":
		return p.publish(req)
	case "subscribe":
		return p.subscribe(req)
	case "report":
		return nil
	case "stop":
		p.stopAll()
		return nil
	}
	return fmt.Errorf("unknown probe op %q", req.Op)
}

func (p *probes) publish(req ProbeRequest) error {
	size := req.Payload
	if size <= 0 {
		size = 160
	}
	size = max(size, 8)
	var pubs []*Publisher
	for _, id := range req.Streams {
		pub, err := p.n.Publish(id)
		if err != nil {
			for _, x := range pubs {
				x.Close()
			}
			return err
		}
		pubs = append(pubs, pub)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pubs = append(p.pubs, pubs...)
	if p.stop == nil {
		p.stop = make(chan struct{})
	}
	stop := p.stop
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.send(pubs, size, stop)
	}()
	return nil
}

// send writes one packet per stream every 20 ms until stop.
func (p *probes) send(pubs []*Publisher, size int, stop chan struct{}) {
	t := p.n.clock.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	pkt := make([]byte, 12+size)
	pkt[0], pkt[1] = 0x80, 0 // RTP version 2, PCMU
	var seq uint16
	var ts uint32
	for {
		select {
		case <-stop:
			return
		case <-p.n.done:
			return
		case <-t.C():
		}
		seq++
		ts += 160
		binary.BigEndian.PutUint16(pkt[2:], seq)
		binary.BigEndian.PutUint32(pkt[4:], ts)
		for _, pub := range pubs {
			binary.BigEndian.PutUint64(pkt[12:], uint64(p.n.clock.Now().UnixNano()))
			if pub.Write(pkt) == nil {
				p.published.Add(1)
			}
		}
	}
}

func (p *probes) subscribe(req ProbeRequest) error {
	count := max(req.Count, 1)
	var eps []*endpoint
	var errs []error
	for _, id := range req.Streams {
		for range count {
			ep := &endpoint{p: p}
			sub, err := p.n.Subscribe(id, ep.recv)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			ep.sub = sub
			eps = append(eps, ep)
		}
	}
	p.mu.Lock()
	p.eps = append(p.eps, eps...)
	p.mu.Unlock()
	return errors.Join(errs...)
}

// recv runs on the node's receive goroutine.
func (e *endpoint) recv(pkt []byte) {
	if len(pkt) < 20 {
		return
	}
	seq := uint64(binary.BigEndian.Uint16(pkt[2:]))
	if !e.started {
		e.started, e.first, e.high = true, seq, seq
	} else {
		// Extend to 64 bits around the highest seen.
		cur := e.high&^0xffff | seq
		switch {
		case cur+0x8000 < e.high:
			cur += 0x10000
		case cur > e.high+0x8000 && cur >= 0x10000:
			cur -= 0x10000
		}
		if cur > e.high {
			e.high = cur
		}
	}
	e.received.Add(1)
	e.span.Store(e.high - e.first + 1)
	sent := int64(binary.BigEndian.Uint64(pkt[12:]))
	d := time.Duration(e.p.n.clock.Now().UnixNano() - sent)
	b := min(max(int(d/DelayBucket), 0), delayBuckets)
	e.p.hist[b].Add(1)
}

func (p *probes) report(r *ProbeReport) {
	p.mu.Lock()
	eps := p.eps
	p.mu.Unlock()
	r.Published = p.published.Load()
	r.Endpoints = len(eps)
	for _, e := range eps {
		got, span := e.received.Load(), e.span.Load()
		r.Received += got
		if span > got {
			r.Lost += span - got
		}
	}
	r.Delays = make([]uint64, delayBuckets+1)
	var total uint64
	for i := range p.hist {
		r.Delays[i] = p.hist[i].Load()
		total += r.Delays[i]
	}
	r.DelayP50 = Quantile(r.Delays, 0.50)
	r.DelayP99 = Quantile(r.Delays, 0.99)
	for len(r.Delays) > 0 && r.Delays[len(r.Delays)-1] == 0 {
		r.Delays = r.Delays[:len(r.Delays)-1]
	}
}

// Quantile returns quantile q of a delay histogram in microseconds (the
// upper edge of the bucket it falls in), or 0 for an empty one.
func Quantile(h []uint64, q float64) float64 {
	var total uint64
	for _, v := range h {
		total += v
	}
	if total == 0 {
		return 0
	}
	want := uint64(q*float64(total) + 0.5)
	var acc uint64
	for i, v := range h {
		acc += v
		if acc >= max(want, 1) {
			return float64(time.Duration(i+1)*DelayBucket) / float64(time.Microsecond)
		}
	}
	return float64(time.Duration(len(h))*DelayBucket) / float64(time.Microsecond)
}

func (p *probes) stopAll() {
	p.mu.Lock()
	pubs, eps, stop := p.pubs, p.eps, p.stop
	p.pubs, p.eps, p.stop = nil, nil, nil
	p.mu.Unlock()
	if stop != nil {
		close(stop)
	}
	p.wg.Wait()
	for _, pub := range pubs {
		pub.Close()
	}
	for _, e := range eps {
		e.sub.Close()
	}
	p.published.Store(0)
	for i := range p.hist {
		p.hist[i].Store(0)
	}
}

// Probe sends a probe request to node id and returns its report.
func Probe(nc *nats.Conn, id string, req ProbeRequest, timeout time.Duration) (ProbeReport, error) {
	req.V = WireVersion
	msg, err := nc.Request("sb.node."+id+".probe", encode(req), timeout)
	if err != nil {
		return ProbeReport{}, fmt.Errorf("probe %s on %s: %w", req.Op, id, err)
	}
	var rep ProbeReport
	if err := decode(msg.Data, &rep); err != nil {
		return ProbeReport{}, err
	}
	if rep.Error != "" {
		return rep, fmt.Errorf("probe %s on %s: %s", req.Op, id, rep.Error)
	}
	return rep, nil
}
