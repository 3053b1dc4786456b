package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/setbridge/setbridge/fabric"
	"github.com/setbridge/setbridge/internal/peers"
)

// fabricNode starts one setbridge process as a fabric node.
func fabricNode(t *testing.T, id, set, network, natsYAML string, roles ...string) *server {
	t.Helper()
	y := fmt.Sprintf("node:\n  id: %s\n  set: %s\n  network: %s\n  roles: [%s]\n%s", id, set, network, strings.Join(roles, ", "), natsYAML)
	return startServer(t, y)
}

// TestFabricAcrossProcesses runs the fabric as 11 processes on loopback:
// an origin that also hosts NATS, 3 SETs of 3 nodes (two retrieval nodes
// each; SET s3 on another network) and a transit node joining both
// networks. Everything is asserted from the nodes' own counters.
func TestFabricAcrossProcesses(t *testing.T) {
	port, err := peers.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	natsURL := fmt.Sprintf("nats://127.0.0.1:%d", port)
	procs := map[string]*server{}
	procs["hub"] = fabricNode(t, "hub", "s0", "net-a", fmt.Sprintf("  nats:\n    listen: 127.0.0.1:%d\n", port), "interface", "sip")
	join := fmt.Sprintf("  nats:\n    url: %s\n", natsURL)
	nets := map[string]string{"s1": "net-a", "s2": "net-a", "s3": "net-b"}
	for _, set := range []string{"s1", "s2", "s3"} {
		for i := 1; i <= 3; i++ {
			id := fmt.Sprintf("%sn%d", set, i)
			roles := []string{"interface"}
			if i <= 2 {
				roles = append(roles, "retrieval")
			}
			procs[id] = fabricNode(t, id, set, nets[set], join, roles...)
		}
	}
	procs["t1"] = fabricNode(t, "t1", "t", "net-a", join+"  networks: [net-a, net-b]\n", "transit")

	// Roles decide what runs: only the hub has the sip role.
	if procs["hub"].SIPUDP == "" || procs["s1n3"].SIPUDP != "" || procs["t1"].SIPUDP != "" {
		t.Fatalf("SIP listeners: hub %q, s1n3 %q, t1 %q; want only the hub's", procs["hub"].SIPUDP, procs["s1n3"].SIPUDP, procs["t1"].SIPUDP)
	}
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	live, err := fabric.Discover(nc, 1500*time.Millisecond)
	if err != nil || len(live) != len(procs) {
		t.Fatalf("%d live nodes, want %d (%v)", len(live), len(procs), err)
	}
	stats := func(id string) fabric.Stats {
		t.Helper()
		s, err := fabric.NodeStats(nc, id, 5*time.Second)
		if err != nil {
			t.Fatalf("stats of %s: %v", id, err)
		}
		return s
	}
	probe := func(id string, req fabric.ProbeRequest) fabric.ProbeReport {
		t.Helper()
		r, err := fabric.Probe(nc, id, req, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	// The retrieval node of stream s in each SET, ranked as the nodes do.
	s := fabric.StreamID{Room: "town-hall", Participant: "mayor", Kind: fabric.KindUplink}
	retrieval := map[string]string{}
	for _, set := range []string{"s1", "s2", "s3"} {
		rs := []fabric.NodeInfo{{ID: set + "n1"}, {ID: set + "n2"}}
		retrieval[set] = fabric.Rank(s.String(), rs)[0].ID
	}
	others := func(set string) []string {
		var out []string
		for i := 1; i <= 3; i++ {
			if id := fmt.Sprintf("%sn%d", set, i); id != retrieval[set] {
				out = append(out, id)
			}
		}
		return out
	}
	probe("hub", fabric.ProbeRequest{Op: "publish", Streams: []fabric.StreamID{s}})

	// The first subscriber of SET s2 makes its retrieval node pull; the
	// second is served from that node's cache.
	a, b := others("s2")[0], others("s2")[1]
	probe(a, fabric.ProbeRequest{Op: "subscribe", Streams: []fabric.StreamID{s}})
	waitReceived(t, nc, a, 10)
	ret := stats(retrieval["s2"])
	hub := stats("hub")
	probe(b, fabric.ProbeRequest{Op: "subscribe", Streams: []fabric.StreamID{s}})
	waitReceived(t, nc, b, 10)
	ret2, hub2 := stats(retrieval["s2"]), stats("hub")
	if ret2.CacheHits != ret.CacheHits+1 || ret2.UpstreamPulls != ret.UpstreamPulls {
		t.Fatalf("second subscriber in s2: retrieval %s cache hits %d→%d, upstream pulls %d→%d; want +1, +0",
			retrieval["s2"], ret.CacheHits, ret2.CacheHits, ret.UpstreamPulls, ret2.UpstreamPulls)
	}
	if hub2.PullsServed != hub.PullsServed {
		t.Fatalf("the origin took %d new pulls for a second subscriber in a SET", hub2.PullsServed-hub.PullsServed)
	}

	// Every node of every SET subscribes; the origin still sends each
	// packet once per SET: to s1's and s2's retrieval nodes, and to the
	// transit node that carries it to s3 on the other network.
	for _, set := range []string{"s1", "s2", "s3"} {
		for i := 1; i <= 3; i++ {
			id := fmt.Sprintf("%sn%d", set, i)
			if id != a && id != b {
				probe(id, fabric.ProbeRequest{Op: "subscribe", Streams: []fabric.StreamID{s}})
			}
		}
	}
	for _, set := range []string{"s1", "s2", "s3"} {
		for i := 1; i <= 3; i++ {
			waitReceived(t, nc, fmt.Sprintf("%sn%d", set, i), 10)
		}
	}
	h1 := stats("hub")
	time.Sleep(time.Second)
	h2 := stats("hub")
	st, _ := h2.Stream(s)
	wantSubs := []string{retrieval["s1"], retrieval["s2"], "t1"}
	slices.Sort(wantSubs)
	if !slices.Equal(st.Subscribers, wantSubs) {
		t.Fatalf("the origin sends to %v, want %v (one per SET)", st.Subscribers, wantSubs)
	}
	o1, _ := h1.Stream(s)
	in, out := st.PacketsIn-o1.PacketsIn, st.PacketsOut-o1.PacketsOut
	t.Logf("origin: %d packets published, %d sent in 1 s", in, out)
	if in < 40 || out < 3*in-3 || out > 3*in+3 {
		t.Fatalf("the origin published %d packets and sent %d, want 3 copies each", in, out)
	}
	if t3, _ := stats(retrieval["s3"]).Stream(s); t3.Upstream != "t1" {
		t.Fatalf("s3's retrieval node pulls from %q, want the transit node t1", t3.Upstream)
	}

	// kill -9 of s1's retrieval node: its SET's other nodes hear the
	// stream again within 2 s, from the next in rank.
	dead := retrieval["s1"]
	watch := others("s1")
	for _, id := range watch {
		if up, _ := stats(id).Stream(s); up.Upstream != dead {
			t.Fatalf("%s pulls from %q before the kill, want %s", id, up.Upstream, dead)
		}
	}
	base := map[string]uint64{}
	for _, id := range watch {
		base[id] = probe(id, fabric.ProbeRequest{Op: "report"}).Received
	}
	if err := procs[dead].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	for _, id := range watch {
		for {
			st, _ := stats(id).Stream(s)
			r := probe(id, fabric.ProbeRequest{Op: "report"})
			if st.Upstream != dead && st.Upstream != "" && r.Received > base[id]+25 {
				t.Logf("%s hears the stream from %s %v after the kill", id, st.Upstream, time.Since(killed).Round(time.Millisecond))
				break
			}
			if time.Since(killed) > 2*time.Second {
				t.Fatalf("%s: no stream from a new upstream 2 s after the kill (upstream %q, received %d→%d)",
					id, st.Upstream, base[id], r.Received)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	for id := range procs {
		if id != dead {
			probe(id, fabric.ProbeRequest{Op: "stop"})
		}
	}

	// The load tool, against what is left.
	outJSON, err := exec.Command(binPath, "loadtest", "--nats", natsURL, "--streams", "4", "--endpoints", "64",
		"--duration", "2s", "--json").Output()
	if err != nil {
		t.Fatalf("loadtest: %v\n%s", err, outJSON)
	}
	var res fabric.LoadResult
	if err := json.Unmarshal(outJSON, &res); err != nil {
		t.Fatalf("loadtest output: %v\n%s", err, outJSON)
	}
	t.Logf("loadtest: origin %s, %d received, %.3f%% lost, delay p50 %.0f µs p99 %.0f µs over %.1f hops, %.2f copies per packet at the origin",
		res.Origin, res.Received, res.LossPct, res.DelayP50, res.DelayP99, res.Hops, res.OriginCopy)
	if res.Received < 64*50 || res.LossPct > 1 {
		t.Fatalf("loadtest: %d received, %.2f%% lost", res.Received, res.LossPct)
	}
	if res.OriginCopy < 2.9 || res.OriginCopy > 3.1 {
		t.Fatalf("the origin sent %.2f copies of each packet, want 3 (one per SET)", res.OriginCopy)
	}
	if res.Hops <= 1 {
		t.Fatalf("%.1f hops from the origin on average, want more than 1 (origin, retrieval node, node)", res.Hops)
	}
}

// waitReceived waits until node's probe endpoints have received n packets.
func waitReceived(t *testing.T, nc *nats.Conn, node string, n uint64) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		r, err := fabric.Probe(nc, node, fabric.ProbeRequest{Op: "report"}, 5*time.Second)
		if err == nil && r.Received >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d packets received after 3 s, want %d (%v)", node, r.Received, n, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPhonesOnTwoSETsHearEachOtherThroughTheSplitMixer: the room is mixed
// on node m1, which has the mixer role and no SIP; one phone calls node p1
// of the same SET, another node p2 of another SET. Each node's selector
// reports energies to m1 and forwards frames; each caller hears the other
// and not itself.
func TestPhonesOnTwoSETsHearEachOtherThroughTheSplitMixer(t *testing.T) {
	port, err := peers.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	join := fmt.Sprintf("  nats:\n    url: nats://127.0.0.1:%d\n", port)
	m1 := fabricNode(t, "m1", "s1", "default", fmt.Sprintf("  nats:\n    listen: 127.0.0.1:%d\n", port), "interface", "retrieval", "mixer")
	p1 := fabricNode(t, "p1", "s1", "default", join, "interface", "retrieval", "selector", "sip")
	p2 := fabricNode(t, "p2", "s2", "default", join, "interface", "retrieval", "selector", "sip")
	type view struct {
		Live  []fabric.NodeInfo `json:"live"`
		Mixer struct {
			ReportsIn    uint64 `json:"reports_in"`
			FramesIn     uint64 `json:"frames_in"`
			N1Frames     uint64 `json:"n1_frames"`
			CommonFrames uint64 `json:"common_frames"`
			ReportsOut   uint64 `json:"reports_out"`
			FramesOut    uint64 `json:"frames_out"`
			MixFramesIn  uint64 `json:"mix_frames_in"`
			MixingRooms  int    `json:"mixing_rooms"`
			EdgeRooms    int    `json:"edge_rooms"`
		} `json:"mixer"`
	}
	fabricView := func(s *server) view {
		t.Helper()
		code, body := s.get("/api/fabric")
		var v view
		if code != 200 || json.Unmarshal([]byte(body), &v) != nil {
			t.Fatalf("GET /api/fabric: %d %s", code, body)
		}
		return v
	}
	waitFor(t, 5*time.Second, "three live nodes", func() bool {
		return len(fabricView(p1).Live) == 3 && len(fabricView(p2).Live) == 3
	})

	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	a, recA := toneCaller(t, ctx, p1, "1000", 440, []string{"PCMU"})
	b, recB := toneCaller(t, ctx, p2, "1000", 1000, []string{"PCMU"})
	time.Sleep(4 * time.Second) // the audio being measured
	vm, v1, v2 := fabricView(m1), fabricView(p1), fabricView(p2)
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("mixer m1: %+v; p1: %+v; p2: %+v", vm.Mixer, v1.Mixer, v2.Mixer)
	if vm.Mixer.MixingRooms != 1 || vm.Mixer.ReportsIn == 0 || vm.Mixer.FramesIn == 0 || vm.Mixer.N1Frames == 0 {
		t.Errorf("m1 does not mix the room for the others: %+v", vm.Mixer)
	}
	for _, v := range []view{v1, v2} {
		if v.Mixer.EdgeRooms != 1 || v.Mixer.ReportsOut == 0 || v.Mixer.FramesOut == 0 || v.Mixer.MixFramesIn == 0 {
			t.Errorf("a caller's node is not the room's selector node: %+v", v.Mixer)
		}
	}
	if p1.logged(`"msg":"room started"`) || p2.logged(`"msg":"room started"`) {
		t.Errorf("a selector node mixed the room itself")
	}

	ha, rate := heard(t, recA, 0)
	ha = ha[max(0, len(ha)-2*rate):]
	hb, rateB := heard(t, recB, 0)
	hb = hb[max(0, len(hb)-2*rateB):]
	hearsOtherNotSelf(t, "440 Hz caller on p1 (SET s1)", ha, rate, 1000, 440)
	hearsOtherNotSelf(t, "1000 Hz caller on p2 (SET s2)", hb, rateB, 440, 1000)
}
