package roomsvc

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"

	"github.com/setbridge/setbridge/fabric"
	"github.com/setbridge/setbridge/roster"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server.(*Server).startGoRoutine.func1"))
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// Fast timers for tests.
const (
	testBeat   = 50 * time.Millisecond
	testWindow = 50 * time.Millisecond
)

// bed is a cluster on one embedded NATS server: central nodes c1, c2 (c2
// the standby) and SETs s1..sN of two machines each, every machine with an
// agent and a SET room service (on a connection of its own, so that the
// service can be killed alone).
type bed struct {
	t        testing.TB
	srv      *server.Server
	nodes    map[string]*fabric.Node
	conns    []*nats.Conn
	agents   map[string]*Agent
	sets     map[string]*SetService
	setConns map[string]*nats.Conn
	centrals map[string]*Central
	cConns   map[string]*nats.Conn
	machines []string // agent nodes in order

	mu       sync.Mutex
	commands map[string][]Command // by machine
	seen     map[string]*atomic.Int64
	onEvent  func(node, room string, ev Event)
}

func newBed(t testing.TB, sets int) *bed {
	t.Helper()
	b := newBedNodes(t, sets)
	for _, id := range []string{"c1", "c2"} {
		b.startCentral(id)
	}
	for _, id := range b.machines {
		b.startSet(id)
		b.startAgent(id)
	}
	return b
}

// newBedNodes starts the nodes only.
func newBedNodes(t testing.TB, sets int) *bed {
	t.Helper()
	s, err := fabric.StartServer(fabric.ServerConfig{Name: "roomsvc-test"})
	if err != nil {
		t.Fatal(err)
	}
	b := &bed{t: t, srv: s, nodes: map[string]*fabric.Node{}, agents: map[string]*Agent{},
		sets: map[string]*SetService{}, setConns: map[string]*nats.Conn{}, centrals: map[string]*Central{},
		cConns: map[string]*nats.Conn{}, commands: map[string][]Command{}, seen: map[string]*atomic.Int64{}}
	t.Cleanup(b.close)
	for _, id := range []string{"c1", "c2"} {
		b.node(id, "s0", RoleRoom)
	}
	for i := 1; i <= sets; i++ {
		for _, m := range []string{"a", "b"} {
			id := fmt.Sprintf("s%d%s", i, m)
			b.node(id, fmt.Sprintf("s%d", i), fabric.RoleInterface, RoleRoomSet)
			b.machines = append(b.machines, id)
		}
	}
	b.settle()
	return b
}

func (b *bed) connect(name string) *nats.Conn {
	nc, err := fabric.Connect(b.srv, "", name)
	if err != nil {
		b.t.Fatal(err)
	}
	b.conns = append(b.conns, nc)
	return nc
}

func (b *bed) node(id, set string, roles ...string) {
	n, err := fabric.Start(fabric.Config{Info: fabric.NodeInfo{ID: id, Set: set, Roles: roles}, Conn: b.connect(id),
		Logger: quiet, Heartbeat: testBeat, Expiry: 250 * time.Millisecond})
	if err != nil {
		b.t.Fatal(err)
	}
	b.nodes[id] = n
}

func (b *bed) settle() {
	deadline := time.Now().Add(5 * time.Second)
	for _, n := range b.nodes {
		for len(n.Live()) != len(b.nodes) {
			if time.Now().After(deadline) {
				b.t.Fatalf("%s sees %d nodes, want %d", n.Info().ID, len(n.Live()), len(b.nodes))
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

func (b *bed) startCentral(id string) {
	nc := b.connect(id + "-central")
	c, err := NewCentral(CentralConfig{Node: b.nodes[id], Conn: nc, Expiry: time.Second, Logger: quiet})
	if err != nil {
		b.t.Fatal(err)
	}
	b.centrals[id], b.cConns[id] = c, nc
}

func (b *bed) startSet(id string) {
	nc := b.connect(id + "-roomset")
	s, err := NewSetService(SetConfig{Node: b.nodes[id], Conn: nc, Window: testWindow, Heartbeat: testBeat,
		Expiry: time.Second, Logger: quiet})
	if err != nil {
		b.t.Fatal(err)
	}
	b.sets[id], b.setConns[id] = s, nc
}

func (b *bed) startAgent(id string) {
	b.seen[id] = &atomic.Int64{}
	a, err := NewAgent(AgentConfig{Node: b.nodes[id], Conn: b.connect(id + "-agent"), Heartbeat: testBeat, Logger: quiet,
		OnCommand: func(c Command) error {
			b.mu.Lock()
			b.commands[id] = append(b.commands[id], c)
			b.mu.Unlock()
			return nil
		},
		OnEvent: func(room string, ev Event) {
			b.seen[id].Add(1)
			b.mu.Lock()
			f := b.onEvent
			b.mu.Unlock()
			if f != nil {
				f(id, room, ev)
			}
		}})
	if err != nil {
		b.t.Fatal(err)
	}
	b.agents[id] = a
}

// killCentral stops the central service on id as kill -9 would: its
// connection is gone, nothing is said.
func (b *bed) killCentral(id string) {
	b.cConns[id].Close()
	b.centrals[id].kill()
	delete(b.centrals, id)
}

func (b *bed) killSet(id string) {
	b.setConns[id].Close()
	b.sets[id].kill()
	delete(b.sets, id)
}

func (b *bed) close() {
	for _, a := range b.agents {
		a.Close()
	}
	for _, s := range b.sets {
		s.Close()
	}
	for _, c := range b.centrals {
		c.Close()
	}
	for _, n := range b.nodes {
		n.Close()
	}
	for _, nc := range b.conns {
		nc.Close()
	}
	b.srv.Shutdown()
	b.srv.WaitForShutdown()
}

// eventually polls cond every 5 ms until it holds or within passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

func person(i int, kind roster.Kind) roster.Participant {
	return roster.Participant{ID: fmt.Sprintf("p%05d", i), Name: fmt.Sprintf("Person %d", i), Kind: kind,
		Caller: "+44 20 **** 0123", JoinedAt: time.Unix(1_700_000_000, 0).Add(time.Duration(i) * time.Millisecond)}
}

// getPage asks node's Handler for a page.
func getPage(t testing.TB, h http.Handler, room, query string) Page {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/rooms/"+room+"/participants?"+query, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", query, rec.Code, rec.Body)
	}
	var p Page
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func (b *bed) handler(id string) http.Handler {
	return Handler(HandlerConfig{Node: b.nodes[id], Conn: b.connect(id + "-http"), Logger: quiet})
}

// activeCentral is the first by rank of the running central services.
// It ranks the bed's nodes, not one node's view of the live set, which
// may lack a node for a moment under load.
func (b *bed) activeCentral() *Central {
	for _, id := range b.centralRank() {
		if c := b.centrals[id]; c != nil {
			return c
		}
	}
	return nil
}

// centralRank ranks the bed's room nodes as every node does once all are
// live.
func (b *bed) centralRank() []string {
	var ns []fabric.NodeInfo
	for _, n := range b.nodes {
		if n.Info().Has(RoleRoom) {
			ns = append(ns, n.Info())
		}
	}
	return ids(fabric.Rank(centralKey, ns))
}

// setRank ranks set's roomset nodes for room.
func (b *bed) setRank(set, room string) []string {
	var ns []fabric.NodeInfo
	for _, n := range b.nodes {
		if i := n.Info(); i.Set == set && i.Has(RoleRoomSet) {
			ns = append(ns, i)
		}
	}
	return ids(fabric.Rank(room, ns))
}

func (b *bed) participants() int { return b.activeCentral().Stats().Participants }
