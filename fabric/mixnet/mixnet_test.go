package mixnet

import (
	"io"
	"log/slog"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/setbridge/setbridge/fabric"
	"github.com/setbridge/setbridge/internal/audiotest"
	"github.com/setbridge/setbridge/media"
	"github.com/setbridge/setbridge/mixerengine"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

const rate = 48000

// tone is a participant that plays a sine (or silence at freq 0) and keeps
// what it hears.
type tone struct {
	freq  float64
	phase float64
	mu    sync.Mutex
	heard []int16
}

func (p *tone) ReadFrame(dst []int16) bool {
	if p.freq == 0 {
		clear(dst)
		return true
	}
	for i := range dst {
		dst[i] = int16(6000 * math.Sin(p.phase))
		p.phase += 2 * math.Pi * p.freq / rate
	}
	return true
}

func (p *tone) WriteFrame(pcm []int16) {
	p.mu.Lock()
	p.heard = append(p.heard, pcm...)
	p.mu.Unlock()
}

// last returns the last d of what p heard.
func (p *tone) last(d time.Duration) []int16 {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := audiotest.Samples(rate, d)
	if len(p.heard) < n {
		return append([]int16(nil), p.heard...)
	}
	return append([]int16(nil), p.heard[len(p.heard)-n:]...)
}

// node is one fabric node with its own mixer engine and split mixer.
type node struct {
	fab *fabric.Node
	nc  *nats.Conn
	eng *mixerengine.Engine
	mn  *Service
}

func startNode(t *testing.T, srv *server.Server, id, set string, roles ...string) *node {
	t.Helper()
	nc, err := fabric.Connect(srv, "", id)
	if err != nil {
		t.Fatal(err)
	}
	fab, err := fabric.Start(fabric.Config{Info: fabric.NodeInfo{ID: id, Set: set, Roles: roles}, Conn: nc, Logger: quiet,
		Heartbeat: 50 * time.Millisecond, Expiry: 250 * time.Millisecond, Refresh: 200 * time.Millisecond, Lease: 600 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	n := &node{fab: fab, nc: nc}
	var mn *Service
	n.eng = mixerengine.New(mixerengine.Config{Rate: rate, Logger: quiet,
		OnTalkers: func(room mixerengine.RoomID, tick uint64, talkers []mixerengine.ParticipantID) {
			if mn != nil {
				mn.Talkers(string(room), tick, talkers)
			}
		}})
	mn, err = New(Config{Node: fab, Conn: nc, Rate: rate, Logger: quiet, Refresh: 200 * time.Millisecond,
		Join: func(room, pid string, p media.Participant) (Member, error) {
			return n.eng.JoinWithID(mixerengine.RoomID(room), mixerengine.ParticipantID(pid), p)
		},
		Tap: func(room string, fn func(uint64, []int16)) func() {
			return n.eng.Tap(mixerengine.RoomID(room), fn)
		}})
	if err != nil {
		t.Fatal(err)
	}
	n.mn = mn
	t.Cleanup(func() {
		mn.Close()
		n.eng.Close()
		fab.Close()
		nc.Close()
	})
	return n
}

func settle(t *testing.T, nodes ...*node) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for _, n := range nodes {
		for len(n.fab.Live()) != len(nodes) {
			if time.Now().After(deadline) {
				t.Fatalf("%s sees %d nodes", n.fab.Info().ID, len(n.fab.Live()))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// hears checks that p heard want at -30 dBFS or louder, and none of the
// unwanted tones above -50 dBFS.
func hears(t *testing.T, name string, p *tone, want []float64, not []float64) {
	t.Helper()
	got := p.last(600 * time.Millisecond)
	if len(got) < audiotest.Samples(rate, 500*time.Millisecond) {
		t.Fatalf("%s heard only %d samples", name, len(got))
	}
	for _, f := range want {
		if db := audiotest.ToneLevelDB(got, rate, f); db < -30 {
			t.Errorf("%s: %.0f Hz at %.1f dBFS, want it heard", name, f, db)
		}
	}
	for _, f := range not {
		if db := audiotest.ToneLevelDB(got, rate, f); db > -50 {
			t.Errorf("%s: %.0f Hz at %.1f dBFS, want it absent", name, f, db)
		}
	}
}

// TestSplitMixer puts a room's participants on three nodes of two SETs,
// mixed on the one node with the mixer role: each talker hears the others
// and not itself, a listener hears every talker.
func TestSplitMixer(t *testing.T) {
	srv, err := fabric.StartServer(fabric.ServerConfig{Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	roles := []string{fabric.RoleInterface, fabric.RoleRetrieval, fabric.RoleSelector}
	m := startNode(t, srv, "m", "s1", append(roles, fabric.RoleMixer)...)
	a := startNode(t, srv, "a", "s1", roles...)
	b := startNode(t, srv, "b", "s2", roles...)
	settle(t, m, a, b)
	if mx, _ := a.mn.MixerFor("room"); mx.ID != "m" || a.mn.Local("room") || !m.mn.Local("room") {
		t.Fatalf("mixer of room = %q, want m", mx.ID)
	}

	local := &tone{freq: 1000}
	onA := &tone{freq: 440}
	onB := &tone{freq: 700}
	listener := &tone{}
	if _, err := m.eng.Join("room", local); err != nil {
		t.Fatal(err)
	}
	ma, err := a.mn.Join("room", "", onA)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.mn.Join("room", "", onB); err != nil {
		t.Fatal(err)
	}
	if _, err := b.mn.Join("room", "", listener); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)

	hears(t, "local caller on the mixer", local, []float64{440, 700}, []float64{1000})
	hears(t, "caller on a (same SET)", onA, []float64{1000, 700}, []float64{440})
	hears(t, "caller on b (other SET)", onB, []float64{1000, 440}, []float64{700})
	hears(t, "listener on b", listener, []float64{1000, 440, 700}, nil)
	if n := m.eng.Participants("room"); n != 4 {
		t.Errorf("mixer engine has %d participants, want 4", n)
	}
	ms, bs := m.mn.Stats(), b.mn.Stats()
	if ms.ReportsIn == 0 || ms.FramesIn == 0 || ms.N1Frames == 0 || ms.CommonFrames == 0 {
		t.Errorf("mixer stats %+v: want reports, frames, N-1 and common mixes", ms)
	}
	// The listener is quiet: b forwards only its talker's frames.
	if bs.FramesOut > bs.ReportsOut+bs.ReportsOut/10 {
		t.Errorf("b forwarded %d frames in %d ticks; want only its talker's", bs.FramesOut, bs.ReportsOut)
	}

	// Leaving is seen by the mixer, and the room goes on.
	ma.Leave()
	deadline := time.Now().Add(2 * time.Second)
	for m.eng.Participants("room") != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("mixer engine has %d participants after a leave, want 3", m.eng.Participants("room"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(700 * time.Millisecond)
	hears(t, "listener on b after a left", listener, []float64{1000, 700}, []float64{440})
	if a.mn.Stats().EdgeRooms != 0 {
		t.Errorf("a still a selector node of %d rooms", a.mn.Stats().EdgeRooms)
	}
}

// TestRoomMovesWhenItsMixerDies: two nodes may mix; the one the room hashes
// to stops, and the selector nodes move the room to the other within a
// couple of seconds, without their participants doing anything.
func TestRoomMovesWhenItsMixerDies(t *testing.T) {
	srv, err := fabric.StartServer(fabric.ServerConfig{Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	roles := []string{fabric.RoleInterface, fabric.RoleRetrieval, fabric.RoleSelector}
	m1 := startNode(t, srv, "m1", "s1", append(roles, fabric.RoleMixer)...)
	m2 := startNode(t, srv, "m2", "s2", append(roles, fabric.RoleMixer)...)
	a := startNode(t, srv, "a", "s1", roles...)
	b := startNode(t, srv, "b", "s2", roles...)
	settle(t, m1, m2, a, b)
	first, _ := a.mn.MixerFor("room")
	dying, heir := m1, m2
	if first.ID == "m2" {
		dying, heir = m2, m1
	}
	onA := &tone{freq: 440}
	onB := &tone{freq: 1000}
	if _, err := a.mn.Join("room", "", onA); err != nil {
		t.Fatal(err)
	}
	if _, err := b.mn.Join("room", "", onB); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	hears(t, "caller on a", onA, []float64{1000}, []float64{440})
	if n := dying.eng.Participants("room"); n != 2 {
		t.Fatalf("the room's mixer has %d participants, want 2", n)
	}

	start := time.Now()
	dying.mn.Close()
	dying.eng.Close()
	dying.fab.Close()
	for heir.eng.Participants("room") != 2 {
		if time.Since(start) > 3*time.Second {
			t.Fatalf("the room did not move to %s within 3 s", heir.fab.Info().ID)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("room moved from %s to %s in %v", dying.fab.Info().ID, heir.fab.Info().ID, time.Since(start).Round(time.Millisecond))
	time.Sleep(time.Second)
	hears(t, "caller on a after the move", onA, []float64{1000}, []float64{440})
	hears(t, "caller on b after the move", onB, []float64{440}, []float64{1000})
	if a.mn.Stats().Moves == 0 || b.mn.Stats().Moves == 0 {
		t.Errorf("moves: a %d, b %d; want both", a.mn.Stats().Moves, b.mn.Stats().Moves)
	}
}
