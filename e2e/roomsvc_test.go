package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/setbridge/setbridge/internal/audiotest"
	"github.com/setbridge/setbridge/internal/peers"
)

// roomsView is the room services' part of GET /api/fabric.
type roomsView struct {
	Rooms struct {
		Central *struct {
			Rooms        int    `json:"rooms"`
			Participants int    `json:"participants"`
			NotifyOut    uint64 `json:"notify_out"`
			BatchesIn    uint64 `json:"batches_in"`
		} `json:"central"`
		Set *struct {
			Rooms     int    `json:"rooms"`
			CacheHits uint64 `json:"cache_hits"`
		} `json:"set"`
	} `json:"rooms"`
}

func fabricRooms(t *testing.T, s *server) roomsView {
	t.Helper()
	var v roomsView
	code, body := s.get("/api/fabric")
	if code != 200 || json.Unmarshal([]byte(body), &v) != nil {
		t.Fatalf("GET /api/fabric: %d %s", code, body)
	}
	return v
}

// page is GET /api/rooms/{room}/participants.
type page struct {
	Participants []struct {
		ID   string `json:"id"`
		Kind string `json:"kind"`
		Node string `json:"node"`
		Set  string `json:"set"`
	} `json:"participants"`
	Total int `json:"total"`
}

func participants(s *server, room string) (page, bool) {
	var p page
	code, body := s.get("/api/rooms/" + room + "/participants?page_size=50")
	return p, code == 200 && json.Unmarshal([]byte(body), &p) == nil
}

// TestRoomServicesAcrossProcesses: a central room service with a standby,
// 3 SETs of 2 nodes (each running a SET room service and taking calls),
// and phone calls on four nodes of the three SETs. Every node lists the
// four; the active central service sends one message per SET per change;
// a repeated page is a cache hit; kill -9 of the central service, then of
// the SET service holding the room: the lists are complete again within
// 2 s, and the first caller keeps hearing the second throughout.
func TestRoomServicesAcrossProcesses(t *testing.T) {
	port, err := peers.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	join := fmt.Sprintf("  nats:\n    url: nats://127.0.0.1:%d\n", port)
	procs := map[string]*server{}
	killed := map[string]bool{}
	procs["n0"] = fabricNode(t, "n0", "core", "default", fmt.Sprintf("  nats:\n    listen: 127.0.0.1:%d\n", port), "interface", "retrieval", "mixer")
	procs["c1"] = fabricNode(t, "c1", "core", "default", join, "room")
	procs["c2"] = fabricNode(t, "c2", "core", "default", join, "room")
	for _, set := range []string{"s1", "s2", "s3"} {
		for _, x := range []string{"a", "b"} {
			id := set + x
			procs[id] = fabricNode(t, id, set, "default", join, "interface", "retrieval", "selector", "sip", "roomset")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	a, recA := toneCaller(t, ctx, procs["s1a"], "1000", 440, []string{"PCMU"})
	b, _ := toneCaller(t, ctx, procs["s2b"], "1000", 1000, []string{"PCMU"})
	silent := map[string]*peers.Baresip{}
	for _, id := range []string{"s3a", "s1b"} {
		c := phone(t, ctx, peers.BaresipOptions{T: t, Dial: "sip:1000@" + procs[id].SIPUDP, Codecs: []string{"PCMU"}})
		defer c.Stop()
		silent[id] = c
	}
	want := 4
	complete := func(what string, within time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		waitFor(t, within, what, func() bool {
			for id, s := range procs {
				if killed[id] {
					continue
				}
				p, ok := participants(s, "demo")
				if !ok || p.Total != want || len(p.Participants) != want {
					return false
				}
			}
			return true
		})
		return time.Since(start)
	}
	complete("every node to list the 4 callers", 15*time.Second)
	p, _ := participants(procs["n0"], "demo")
	sets := map[string]bool{}
	for _, x := range p.Participants {
		if x.Kind != "phone" || x.Node == "" {
			t.Errorf("participant %+v: want a phone with its node", x)
		}
		sets[x.Set] = true
	}
	if len(sets) != 3 {
		t.Errorf("the callers are in SETs %v, want 3 SETs", sets)
	}

	// The active central service: one notification per SET per change.
	active := "c1"
	if v := fabricRooms(t, procs["c2"]); v.Rooms.Central != nil && v.Rooms.Central.Rooms > 0 {
		active = "c2"
	}
	before := fabricRooms(t, procs[active]).Rooms.Central
	if code, body := procs["s3a"].get("/api/rooms/demo/participants?page_size=50"); code != 200 {
		t.Fatalf("page: %d %s", code, body)
	}
	mute := p.Participants[3].ID
	if out, err := exec.Command(binPath, "rooms", "mute", "--server", "http://"+procs["n0"].HTTP, "demo", mute).CombinedOutput(); err != nil {
		t.Fatalf("setbridge rooms mute: %v\n%s", err, out)
	}
	waitFor(t, 5*time.Second, "the mute to reach the central service", func() bool {
		return fabricRooms(t, procs[active]).Rooms.Central.BatchesIn > before.BatchesIn
	})
	time.Sleep(500 * time.Millisecond)
	after := fabricRooms(t, procs[active]).Rooms.Central
	batches := after.BatchesIn - before.BatchesIn
	if sent := after.NotifyOut - before.NotifyOut; sent != 3*batches {
		t.Errorf("the central service sent %d messages for %d change batches, want 3 per batch (one per SET)", sent, batches)
	}

	// Repeated pages are served from the SET service's cache.
	hits := func() uint64 {
		var n uint64
		for _, s := range procs {
			if v := fabricRooms(t, s); v.Rooms.Set != nil {
				n += v.Rooms.Set.CacheHits
			}
		}
		return n
	}
	h0 := hits()
	for range 3 {
		participants(procs["s2a"], "demo")
	}
	if h := hits(); h < h0+2 {
		t.Errorf("3 repeated page requests made %d cache hits, want at least 2", h-h0)
	}

	// kill -9 of the central service, then of a SET room service.
	if err := procs[active].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed[active] = true
	t.Logf("central %s killed; lists complete again after %v", active, complete("the lists after the central service died", 2*time.Second))
	// The SET room service holding the room in SET s3 (s3a also takes a
	// silent call, which goes with it if it is the one).
	victim := ""
	for _, id := range []string{"s3a", "s3b"} {
		if v := fabricRooms(t, procs[id]); v.Rooms.Set != nil && v.Rooms.Set.Rooms > 0 {
			victim = id
		}
	}
	if victim == "" {
		t.Fatal("no SET room service of s3 holds the room")
	}
	if err := procs[victim].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed[victim] = true
	if victim == "s3a" {
		want = 3
	}
	t.Logf("SET service %s killed; lists complete (%d) again after %v", victim, want, complete("the lists after a SET service died", 2*time.Second))

	// A moderator kicks the silent caller on s1b from the shell: its call
	// is hung up, and every list drops it.
	out, err := exec.Command(binPath, "rooms", "participants", "--server", "http://"+procs["s2a"].HTTP, "demo").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "s1b") || !strings.Contains(string(out), fmt.Sprintf("(%d)", want)) {
		t.Fatalf("setbridge rooms participants: %v\n%s", err, out)
	}
	kick := ""
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) > 6 && f[len(f)-2] == "s1b" {
			kick = f[0]
		}
	}
	if out, err := exec.Command(binPath, "rooms", "kick", "--server", "http://"+procs["s2a"].HTTP, "demo", kick).CombinedOutput(); err != nil {
		t.Fatalf("setbridge rooms kick %s: %v\n%s", kick, err, out)
	}
	if _, err := silent["s1b"].WaitClosed(ctx); err != nil {
		t.Fatalf("the kicked caller's call did not end: %v", err)
	}
	want--
	complete("every list without the kicked caller", 3*time.Second)

	time.Sleep(time.Second)
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	ha, rate := heard(t, recA, 0)
	ha = ha[max(0, len(ha)-2*rate):]
	if l := audiotest.ToneLevelDB(ha, rate, 1000); l < -25 {
		t.Errorf("after the kills the first caller hears the second at %.1f dB", l)
	}
}
