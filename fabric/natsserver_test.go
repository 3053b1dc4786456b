package fabric

import (
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/setbridge/setbridge/internal/peers"
)

// TestSETsJoinedAsLeafNodes runs the control plane as it is deployed on
// many machines: a hub server, and each SET's server joined to it as a leaf
// node; nodes on different servers see each other and a stream crosses.
func TestSETsJoinedAsLeafNodes(t *testing.T) {
	hubPort, err := peers.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	leafPort, err := peers.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	hub, err := StartServer(ServerConfig{Name: "hub", Listen: fmt.Sprintf("127.0.0.1:%d", hubPort), LeafListen: fmt.Sprintf("127.0.0.1:%d", leafPort)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hub.Shutdown)
	var leaves []*server.Server
	for _, set := range []string{"s1", "s2"} {
		l, err := StartServer(ServerConfig{Name: "leaf-" + set, LeafRemotes: []string{fmt.Sprintf("127.0.0.1:%d", leafPort)}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(l.Shutdown)
		leaves = append(leaves, l)
	}
	deadline := time.Now().Add(5 * time.Second)
	for hub.NumLeafNodes() != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("hub has %d leaf nodes, want 2", hub.NumLeafNodes())
		}
		time.Sleep(20 * time.Millisecond)
	}
	start := func(srv *server.Server, id, set string, roles ...string) *Node {
		nc, err := Connect(srv, "", id)
		if err != nil {
			t.Fatal(err)
		}
		n, err := Start(Config{Info: NodeInfo{ID: id, Set: set, Roles: roles}, Conn: nc, Logger: quiet,
			Heartbeat: 50 * time.Millisecond, Expiry: 250 * time.Millisecond, Refresh: 200 * time.Millisecond, Lease: 600 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close(); nc.Close() })
		return n
	}
	origin := start(leaves[0], "o", "s1", RoleInterface, RoleRetrieval)
	sub := start(leaves[1], "r", "s2", RoleInterface, RoleRetrieval)
	for len(origin.Live()) != 2 || len(sub.Live()) != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("across leaf nodes: o sees %d nodes, r sees %d; want 2", len(origin.Live()), len(sub.Live()))
		}
		time.Sleep(20 * time.Millisecond)
	}
	id := StreamID{Room: "r", Participant: "p", Kind: KindUplink}
	pub, err := origin.Publish(id)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	got := make(chan struct{}, 1)
	s, err := sub.Subscribe(id, func([]byte) {
		select {
		case got <- struct{}{}:
		default:
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pkt := make([]byte, 172)
	pkt[0] = 0x80
	for {
		_ = pub.Write(pkt)
		select {
		case <-got:
			return
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("no packet crossed from one leaf's node to the other's")
		}
	}
}
