package roomsvc

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/setbridge/setbridge/roster"
)

// fill joins n participants to room, round robin over the machines; every
// third is a phone.
func (b *bed) fill(room string, n int) []roster.Participant {
	var ps []roster.Participant
	for i := range n {
		kind := roster.KindBrowser
		if i%3 == 0 {
			kind = roster.KindPhone
		}
		p := person(i, kind)
		m := b.machines[i%len(b.machines)]
		b.agents[m].Join(room, p)
		p.Node, p.Set = m, b.nodes[m].Info().Set
		ps = append(ps, p)
	}
	eventually(b.t, 5*time.Second, "central holds every participant", func() bool { return b.participants() == n })
	return ps
}

// allPages pages through room on h and returns the ids in order.
func allPages(t testing.TB, h http.Handler, room, filter string, size int) ([]string, int) {
	t.Helper()
	var ids []string
	token, total := "", -1
	for {
		q := filter + "&page_size=" + itoa(size)
		if token != "" {
			q += "&page_token=" + token
		}
		p := getPage(t, h, room, q)
		total = p.Total
		for _, m := range p.Participants {
			ids = append(ids, m.ID)
		}
		if p.NextPageToken == "" {
			return ids, total
		}
		token = p.NextPageToken
	}
}

func itoa(n int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + fmtInt(n)) }

func fmtInt(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func TestJoinsAreListedFromEveryNode(t *testing.T) {
	b := newBed(t, 3)
	b.fill("r1", 30)
	for _, id := range append([]string{"c2"}, b.machines...) {
		p := getPage(t, b.handler(id), "r1", "page_size=10")
		if p.Total != 30 || len(p.Participants) != 10 || p.NextPageToken == "" {
			t.Fatalf("page from %s: total %d, %d participants, token %q", id, p.Total, len(p.Participants), p.NextPageToken)
		}
		first := p.Participants[0]
		if first.ID != "p00000" || first.Node != "s1a" || first.Set != "s1" || first.Kind != roster.KindPhone ||
			first.Caller != "+44 20 **** 0123" || first.JoinedAt.IsZero() {
			t.Fatalf("first participant from %s: %+v", id, first)
		}
	}
}

func TestCentralSendsOneMessagePerSetPerChange(t *testing.T) {
	b := newBed(t, 3)
	ps := b.fill("r1", 12)
	// Wait until nothing is in flight. (A machine does not hear of the
	// joins before its own first participant: its clients page.)
	b.quiet()
	c := b.activeCentral()
	before := c.Stats()
	var down uint64
	for _, s := range b.sets {
		down += s.Stats().MsgsDown
	}
	seen := map[string]int64{}
	for id, n := range b.seen {
		seen[id] = n.Load()
	}
	p := ps[4]
	p.Muted = true
	b.agents[p.Node].Update("r1", p)
	eventually(t, 2*time.Second, "every machine saw the mute", func() bool {
		for id, n := range b.seen {
			if n.Load() != seen[id]+1 {
				return false
			}
		}
		return true
	})
	after := c.Stats()
	var down2 uint64
	for _, s := range b.sets {
		down2 += s.Stats().MsgsDown
	}
	if got := after.NotifyOut - before.NotifyOut; got != 3 {
		t.Errorf("central sent %d messages for one change, want 3 (one per SET)", got)
	}
	if got := after.BatchesIn - before.BatchesIn; got != 1 {
		t.Errorf("central got %d batches for one change, want 1", got)
	}
	if got := down2 - down; got != 6 {
		t.Errorf("SET services sent %d messages to machines, want 6 (one per machine)", got)
	}
}

func TestJoinStormIsCoalesced(t *testing.T) {
	b := newBed(t, 3)
	b.fill("r1", 600)
	st := b.activeCentral().Stats()
	// 600 joins from 6 machines; each SET sends at most one batch per
	// window per room, and the central one message per SET per batch.
	if st.BatchesIn+st.Registrations > 100 {
		t.Errorf("central got %d batches and %d registrations for 600 joins: not coalesced", st.BatchesIn, st.Registrations)
	}
	if st.NotifyOut > 3*(st.BatchesIn+st.Registrations) {
		t.Errorf("central sent %d messages for %d batches", st.NotifyOut, st.BatchesIn+st.Registrations)
	}
	t.Logf("600 joins: %d batches and %d registrations in, %d messages out", st.BatchesIn, st.Registrations, st.NotifyOut)
}

func TestRepeatedPagesAreCacheHits(t *testing.T) {
	b := newBed(t, 3)
	ps := b.fill("r1", 100)
	time.Sleep(3 * testWindow)
	var svc *SetService
	for _, id := range b.setRank("s2", "r1") {
		svc = b.sets[id]
		break
	}
	q := Query{PageSize: 20}
	first, err := svc.Page("r1", q)
	if err != nil {
		t.Fatal(err)
	}
	st := svc.Stats()
	for range 5 {
		p, err := svc.Page("r1", q)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.EqualFunc(p.Participants, first.Participants, func(a, b Member) bool { return a.ID == b.ID }) {
			t.Fatal("a cached page differs")
		}
	}
	if got := svc.Stats().CacheHits - st.CacheHits; got != 5 {
		t.Fatalf("%d cache hits for 5 repeats, want 5", got)
	}
	// A join after the page's range leaves the page cached; the total
	// follows.
	late := person(500, roster.KindPhone)
	b.agents["s3b"].Join("r1", late)
	eventually(t, 2*time.Second, "the total counts the late join", func() bool {
		p, _ := svc.Page("r1", q)
		return p.Total == 101
	})
	if st2 := svc.Stats(); st2.CacheMisses != st.CacheMisses {
		t.Fatalf("a join after the page missed the cache (%d misses, was %d)", st2.CacheMisses, st.CacheMisses)
	}
	// A mute inside the page drops it.
	p := ps[3]
	p.Muted = true
	b.agents[p.Node].Update("r1", p)
	eventually(t, 2*time.Second, "the page shows the mute", func() bool {
		pg, _ := svc.Page("r1", q)
		return pg.Participants[3].Muted
	})
	if svc.Stats().Invalidated == 0 {
		t.Fatal("the mute invalidated no cached page")
	}
}

func TestPagesAreStableAndFiltered(t *testing.T) {
	b := newBed(t, 3)
	ps := b.fill("r1", 1000)
	want := make([]string, len(ps))
	for i, p := range ps {
		want[i] = p.ID
	}
	h := b.handler("s1b")
	got, total := allPages(t, h, "r1", "", 70)
	if total != 1000 || !slices.Equal(got, want) {
		t.Fatalf("paged %d ids (total %d); order or content differs", len(got), total)
	}
	// Mute participants 0..99, make 3 speak.
	for _, p := range ps[:100] {
		p.Muted = true
		b.agents[b.machines[indexOf(ps, p.ID)%6]].Update("r1", p)
	}
	b.agents["s2a"].Speaking("r1", []string{"p00007", "p00500", "p00999"})
	eventually(t, 3*time.Second, "muted and speaking counts", func() bool {
		p := getPage(t, h, "r1", "muted=true&page_size=1")
		s := getPage(t, h, "r1", "speaking=true&page_size=1")
		return p.Total == 100 && s.Total == 3
	})
	tests := []struct {
		filter    string
		wantTotal int
	}{
		{"muted=true", 100},
		{"muted=false", 900},
		{"kind=phone", 334},
		{"kind=browser", 666},
		{"speaking=true", 3},
		{"speaking=true&muted=true", 1},
		{"kind=phone&muted=true", 34},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			ids, total := allPages(t, h, "r1", tt.filter, 33)
			if total != tt.wantTotal || len(ids) != tt.wantTotal {
				t.Fatalf("total %d, listed %d, want %d", total, len(ids), tt.wantTotal)
			}
			if !slices.IsSorted(ids) {
				t.Fatal("not in join order")
			}
		})
	}
	// Paging stays right while others join and leave.
	p1 := getPage(t, h, "r1", "page_size=10")
	b.agents[b.machines[5]].Leave("r1", ps[5].ID)
	b.agents["s1a"].Join("r1", person(2000, roster.KindBrowser))
	eventually(t, 2*time.Second, "leave and join applied", func() bool { return b.participants() == 1000 })
	p2 := getPage(t, h, "r1", "page_size=10&page_token="+p1.NextPageToken)
	if p2.Participants[0].ID != "p00010" {
		t.Fatalf("the second page starts at %s, want p00010", p2.Participants[0].ID)
	}
}

// quiet waits until the central service has sent nothing for 4 windows.
func (b *bed) quiet() {
	last, since := b.activeCentral().Stats().NotifyOut, time.Now()
	eventually(b.t, 5*time.Second, "quiet", func() bool {
		n := b.activeCentral().Stats().NotifyOut
		if n != last {
			last, since = n, time.Now()
		}
		return time.Since(since) > 4*testWindow
	})
}

func indexOf(ps []roster.Participant, id string) int {
	return slices.IndexFunc(ps, func(p roster.Participant) bool { return p.ID == id })
}

func TestModerationReachesTheMachine(t *testing.T) {
	b := newBed(t, 3)
	b.fill("r1", 12)
	h := b.handler("s3a")
	post := func(path string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, nil))
		return rec.Code
	}
	// p00004 is on the fifth machine.
	if code := post("/api/rooms/r1/participants/p00004/mute"); code != http.StatusOK {
		t.Fatalf("mute: %d", code)
	}
	b.mu.Lock()
	got := b.commands[b.machines[4]]
	b.mu.Unlock()
	if len(got) != 1 || got[0] != (Command{Type: CmdMute, Room: "r1", Participant: "p00004"}) {
		t.Fatalf("machine %s got %+v", b.machines[4], got)
	}
	if code := post("/api/rooms/r1/participants/nobody/kick"); code != http.StatusNotFound {
		t.Fatalf("kick of an unknown participant: %d, want 404", code)
	}
	if code := post("/api/rooms/r1/lock"); code != http.StatusOK {
		t.Fatalf("lock: %d", code)
	}
	b.mu.Lock()
	for _, id := range b.machines {
		if cs := b.commands[id]; len(cs) == 0 || cs[len(cs)-1].Type != CmdLock {
			t.Errorf("machine %s did not get the lock: %+v", id, cs)
		}
	}
	b.mu.Unlock()
	eventually(t, 2*time.Second, "agents know the room is locked", func() bool {
		for _, a := range b.agents {
			if !a.Locked("r1") {
				return false
			}
		}
		return true
	})
	if code := post("/api/rooms/r1/bogus"); code != http.StatusNotFound {
		t.Fatalf("unknown command: %d", code)
	}
}

func TestCentralCrashIsRebuiltByTheStandby(t *testing.T) {
	b := newBed(t, 3)
	b.fill("r1", 300)
	active := b.centralRank()[0]
	standby := b.centralRank()[1]
	if b.centrals[standby].Stats().Participants != 0 {
		t.Fatal("the standby held participants before the crash")
	}
	b.killCentral(active)
	took := eventually(t, 2*time.Second, "the standby holds every participant", func() bool {
		return b.centrals[standby].Stats().Participants == 300
	})
	ids, total := allPages(t, b.handler("s2b"), "r1", "", 100)
	if total != 300 || len(ids) != 300 {
		t.Fatalf("after the crash: total %d, listed %d", total, len(ids))
	}
	t.Logf("central rebuilt in %v", took)
	// Changes flow again.
	b.agents["s1a"].Join("r1", person(900, roster.KindPhone))
	eventually(t, 2*time.Second, "a join after the crash", func() bool { return b.centrals[standby].Stats().Participants == 301 })
}

func TestSetServiceCrashIsRebuiltByTheNextInRank(t *testing.T) {
	b := newBed(t, 3)
	b.fill("r1", 300)
	rank := b.setRank("s1", "r1")
	dead, next := rank[0], rank[1]
	if b.sets[next].Stats().Participants != 0 {
		t.Fatal("the next in rank held participants before the crash")
	}
	b.killSet(dead)
	took := eventually(t, 2*time.Second, "the next in rank holds the SET's participants", func() bool {
		return b.sets[next].Stats().Participants == 100
	})
	t.Logf("SET service rebuilt in %v", took)
	if n := b.participants(); n != 300 {
		t.Fatalf("central holds %d participants after the SET service crash", n)
	}
	ids, total := allPages(t, b.handler("s1b"), "r1", "", 100)
	if total != 300 || len(ids) != 300 {
		t.Fatalf("after the crash: total %d, listed %d", total, len(ids))
	}
	// The SET's machines hear changes again.
	before := b.seen["s1a"].Load()
	b.agents["s2a"].Join("r1", person(900, roster.KindPhone))
	eventually(t, 5*time.Second, "s1a hears a join after the crash", func() bool { return b.seen["s1a"].Load() > before })
	// No participant left and came back at the central service.
	time.Sleep(1500 * time.Millisecond) // past the dead service's expiry
	if n := b.participants(); n != 301 {
		t.Fatalf("central holds %d participants once the dead service expired", n)
	}
}

func TestLastLeaveDeregisters(t *testing.T) {
	b := newBed(t, 1)
	b.agents["s1a"].Join("r1", person(1, roster.KindPhone))
	eventually(t, 2*time.Second, "registered", func() bool { return b.activeCentral().Stats().Rooms == 1 })
	b.agents["s1a"].Leave("r1", "p00001")
	eventually(t, 2*time.Second, "deregistered everywhere", func() bool {
		if b.activeCentral().Stats().Rooms != 0 {
			return false
		}
		for _, s := range b.sets {
			if s.Stats().Rooms != 0 {
				return false
			}
		}
		return b.agents["s1a"].Stats().Rooms == 0
	})
}
