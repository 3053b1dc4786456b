package fabric

import (
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// cluster is nodes on one embedded NATS server, each with its own
// connection, on fast timers.
type cluster struct {
	t     *testing.T
	srv   *server.Server
	nodes map[string]*Node
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	s, err := StartServer(ServerConfig{Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, srv: s, nodes: map[string]*Node{}}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			n.Close()
			n.nc.Close()
		}
		s.Shutdown()
	})
	return c
}

func (c *cluster) add(id, set, network string, roles ...string) *Node {
	c.t.Helper()
	return c.addInfo(NodeInfo{ID: id, Set: set, Network: network, Roles: roles})
}

func (c *cluster) addInfo(info NodeInfo) *Node {
	c.t.Helper()
	id := info.ID
	nc, err := Connect(c.srv, "", id)
	if err != nil {
		c.t.Fatal(err)
	}
	n, err := Start(Config{Info: info, Conn: nc, Logger: quiet,
		Heartbeat: 50 * time.Millisecond, Expiry: 250 * time.Millisecond, Refresh: 200 * time.Millisecond, Lease: 600 * time.Millisecond})
	if err != nil {
		c.t.Fatal(err)
	}
	c.nodes[id] = n
	return n
}

// settle waits until every node sees every other.
func (c *cluster) settle() {
	c.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for _, n := range c.nodes {
		for len(n.Live()) != len(c.nodes) {
			if time.Now().After(deadline) {
				c.t.Fatalf("%s sees %d nodes, want %d", n.info.ID, len(n.Live()), len(c.nodes))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// kill stops n as kill -9 would: no last heartbeat, no releases.
func (c *cluster) kill(id string) {
	n := c.nodes[id]
	delete(c.nodes, id)
	n.nc.Close()
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	close(n.done)
	n.conn.Close()
	n.wg.Wait()
}

// source publishes id from n, one packet every 5 ms, until the test ends.
func source(t *testing.T, n *Node, id StreamID) {
	t.Helper()
	p, err := n.Publish(id)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		pkt := make([]byte, 40)
		pkt[0] = 0x80
		for seq := uint16(1); ; seq++ {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			binary.BigEndian.PutUint16(pkt[2:], seq)
			p.Write(pkt)
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
		p.Close()
	})
}

type counter struct{ n atomic.Uint64 }

func (c *counter) fn(pkt []byte) { c.n.Add(1) }

// gets waits until c has counted more packets than it had.
func gets(t *testing.T, what string, c *counter, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	from := c.n.Load()
	for c.n.Load() < from+5 {
		if time.Since(start) > within {
			t.Fatalf("%s: no packets within %v", what, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

func subscribe(t *testing.T, n *Node, id StreamID) *counter {
	t.Helper()
	c := &counter{}
	s, err := n.Subscribe(id, c.fn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return c
}

// threeSets: an origin node, and 3 SETs of 3 nodes, two of them
// retrieval nodes per SET.
func threeSets(t *testing.T) *cluster {
	c := newCluster(t)
	c.add("origin", "s0", "lan", RoleInterface)
	for s := 1; s <= 3; s++ {
		for i := 1; i <= 3; i++ {
			roles := []string{RoleInterface}
			if i <= 2 {
				roles = append(roles, RoleRetrieval)
			}
			c.add(fmt.Sprintf("s%dn%d", s, i), fmt.Sprintf("s%d", s), "lan", roles...)
		}
	}
	c.settle()
	return c
}

func TestOriginSendsOncePerSETAndTheSecondSubscriberIsACacheHit(t *testing.T) {
	c := threeSets(t)
	id := StreamID{Room: "r", Participant: "alice", Kind: KindUplink}
	source(t, c.nodes["origin"], id)

	// Every node of every SET subscribes.
	counters := map[string]*counter{}
	for s := 1; s <= 3; s++ {
		for i := 1; i <= 3; i++ {
			name := fmt.Sprintf("s%dn%d", s, i)
			counters[name] = subscribe(t, c.nodes[name], id)
		}
	}
	for name, cn := range counters {
		gets(t, name, cn, 2*time.Second)
	}
	st, _ := c.nodes["origin"].Stats().Stream(id)
	if len(st.Subscribers) != 3 {
		t.Fatalf("the origin sends to %v, want one retrieval node per SET", st.Subscribers)
	}
	for _, sub := range st.Subscribers {
		r := c.nodes[sub]
		if ret, _ := r.RetrievalFor(id); ret.ID != sub {
			t.Errorf("the origin sends to %s, not its SET's retrieval node %s", sub, ret.ID)
		}
		rs := r.Stats()
		if rs.UpstreamPulls != 1 {
			t.Errorf("retrieval %s pulled upstream %d times, want 1", sub, rs.UpstreamPulls)
		}
		// Its SET's other two nodes pulled from it: the first may have
		// made it pull, the second was served from its cache.
		if rs.CacheHits < 1 {
			t.Errorf("retrieval %s: %d cache hits, want at least 1 (%+v)", sub, rs.CacheHits, rs)
		}
	}

	// One more subscriber, on a node that has no copy yet: a cache hit at
	// its SET's retrieval node, and no new pull from the origin.
	late := c.add("s1n4", "s1", "lan", RoleInterface)
	c.settle()
	ret, _ := late.RetrievalFor(id)
	before := c.nodes[ret.ID].Stats()
	originBefore := c.nodes["origin"].Stats()
	gets(t, "late", subscribe(t, late, id), 2*time.Second)
	after := c.nodes[ret.ID].Stats()
	if after.CacheHits != before.CacheHits+1 || after.UpstreamPulls != before.UpstreamPulls {
		t.Fatalf("late subscriber: cache hits %d→%d, upstream pulls %d→%d; want +1 and +0",
			before.CacheHits, after.CacheHits, before.UpstreamPulls, after.UpstreamPulls)
	}
	if o := c.nodes["origin"].Stats(); o.PullsServed != originBefore.PullsServed {
		t.Fatalf("the origin served %d new pulls for a late subscriber", o.PullsServed-originBefore.PullsServed)
	}
}

func TestRetrievalNodeDiesAndSubscribersGetTheStreamBack(t *testing.T) {
	c := threeSets(t)
	id := StreamID{Room: "r", Participant: "bob", Kind: KindUplink}
	source(t, c.nodes["origin"], id)
	ret, _ := c.nodes["s2n3"].RetrievalFor(id)
	var others []string
	for i := 1; i <= 3; i++ {
		if name := fmt.Sprintf("s2n%d", i); name != ret.ID {
			others = append(others, name)
		}
	}
	cs := map[string]*counter{}
	for _, name := range others {
		cs[name] = subscribe(t, c.nodes[name], id)
		gets(t, name, cs[name], 2*time.Second)
	}
	c.kill(ret.ID)
	for _, name := range others {
		took := gets(t, name+" after the retrieval node died", cs[name], 2*time.Second)
		t.Logf("%s hears the stream again %v after the kill", name, took)
	}
	// Once the dead node has left the ring, the SET's one copy comes
	// from the next in rank, and the origin sends it once to the SET.
	time.Sleep(time.Second)
	next, _ := c.nodes[others[0]].RetrievalFor(id)
	if next.ID == ret.ID {
		t.Fatal("the dead node is still ranked")
	}
	st, _ := c.nodes["origin"].Stats().Stream(id)
	var inSet []string
	for _, s := range st.Subscribers {
		if c.nodes[s] != nil && c.nodes[s].info.Set == "s2" {
			inSet = append(inSet, s)
		}
	}
	if len(inSet) != 1 || inSet[0] != next.ID {
		t.Fatalf("the origin sends to %v in SET s2, want only the new retrieval node %s", inSet, next.ID)
	}
}

func TestPullsCrossNetworksThroughATransitNode(t *testing.T) {
	c := newCluster(t)
	c.add("origin", "a1", "net-a", RoleInterface)
	c.add("a-ret", "a1", "net-a", RoleRetrieval)
	c.add("b-ret", "b1", "net-b", RoleRetrieval)
	c.add("b-edge1", "b1", "net-b", RoleInterface)
	c.add("b-edge2", "b1", "net-b", RoleInterface)
	c.addInfo(NodeInfo{ID: "transit", Set: "t", Network: "net-a", Networks: []string{"net-a", "net-b"}, Roles: []string{RoleTransit}})
	c.settle()
	id := StreamID{Room: "r", Participant: "carol", Kind: KindUplink}
	source(t, c.nodes["origin"], id)
	gets(t, "b-edge1", subscribe(t, c.nodes["b-edge1"], id), 2*time.Second)
	gets(t, "b-edge2", subscribe(t, c.nodes["b-edge2"], id), 2*time.Second)
	bret, _ := c.nodes["b-ret"].Stats().Stream(id)
	if bret.Upstream != "transit" {
		t.Fatalf("net-b's retrieval node pulls from %q, want the transit node", bret.Upstream)
	}
	if st, _ := c.nodes["transit"].Stats().Stream(id); st.Upstream != "origin" || len(st.Subscribers) != 1 {
		t.Fatalf("transit: upstream %q subscribers %v", st.Upstream, st.Subscribers)
	}
	if st, _ := c.nodes["origin"].Stats().Stream(id); len(st.Subscribers) != 1 || st.Subscribers[0] != "transit" {
		t.Fatalf("the origin sends to %v, want only the transit node", st.Subscribers)
	}
}

func TestLastUnsubscribeReleasesUpstream(t *testing.T) {
	c := threeSets(t)
	id := StreamID{Room: "r", Participant: "dave", Kind: KindUplink}
	source(t, c.nodes["origin"], id)
	s, err := c.nodes["s3n3"].Subscribe(id, func([]byte) {})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		st, _ := c.nodes["origin"].Stats().Stream(id)
		if len(st.Subscribers) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the origin never got a subscriber")
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.Close()
	deadline = time.Now().Add(2 * time.Second)
	for {
		st, _ := c.nodes["origin"].Stats().Stream(id)
		if len(st.Subscribers) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pull was not released upstream: the origin still sends to %v", st.Subscribers)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, n := range c.nodes {
		if _, ok := n.Stats().Stream(id); ok && n.info.ID != "origin" {
			t.Errorf("%s still holds the stream", n.info.ID)
		}
	}
}

func TestRelayDoesNotAllocate(t *testing.T) {
	c := newCluster(t)
	n := c.add("n", "s", "lan", RoleRetrieval)
	r := &relay{id: StreamID{Room: "r", Kind: KindMix}, ssrc: 7, subs: map[string]*remoteSub{}}
	for i := range 4 {
		r.subs[fmt.Sprint(i)] = &remoteSub{media: netip.MustParseAddrPort(fmt.Sprintf("127.0.0.1:%d", 9+i))}
	}
	r.publishSubsLocked()
	from := netip.MustParseAddrPort("127.0.0.1:40000")
	r.up = upstream{node: "x", media: from, ssrc: 99}
	n.mu.Lock()
	n.addInboundLocked(r)
	n.mu.Unlock()
	pkt := make([]byte, 172)
	pkt[0] = 0x80
	if a := testing.AllocsPerRun(1000, func() {
		binary.BigEndian.PutUint32(pkt[8:], 99)
		n.handle(pkt, from)
	}); a != 0 {
		t.Fatalf("relaying a packet allocates %v times", a)
	}
	if got := r.sent.Load(); got < 4000 {
		t.Fatalf("sent %d packets, want 4 per relayed packet", got)
	}
}

func TestRankIsStableAndSpreads(t *testing.T) {
	var nodes []NodeInfo
	for i := range 5 {
		nodes = append(nodes, NodeInfo{ID: fmt.Sprintf("node-%d", i)})
	}
	first := map[string]int{}
	for i := range 5000 {
		key := fmt.Sprintf("room/p%d/uplink", i)
		r := Rank(key, nodes)
		first[r[0].ID]++
		// Removing a node that is not first does not move the stream.
		if r[0].ID != "node-3" {
			var without []NodeInfo
			for _, n := range nodes {
				if n.ID != "node-3" {
					without = append(without, n)
				}
			}
			if Rank(key, without)[0].ID != r[0].ID {
				t.Fatalf("%s moved when another node left", key)
			}
		} else {
			// It moves to its own next in rank.
			if Rank(key, append(append([]NodeInfo{}, nodes[:3]...), nodes[4:]...))[0].ID != r[1].ID {
				t.Fatalf("%s did not move to its next in rank", key)
			}
		}
	}
	for id, n := range first {
		if n < 800 || n > 1200 {
			t.Errorf("%s is first for %d of 5000 streams, want about 1000", id, n)
		}
	}
}

func containsStr(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
