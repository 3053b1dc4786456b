package roomsvc

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/setbridge/setbridge/roster"
)

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func percentile(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkHugeRoom puts 100 000 participants in one room across 3 SETs
// of 2 machines, each level started after the one below so that its
// memory can be told apart, then measures pages and join propagation.
// It runs once whatever b.N is.
func BenchmarkHugeRoom(b *testing.B) {
	const n = 100_000
	bd := newBedNodes(b, 3)
	for _, id := range bd.machines {
		bd.startAgent(id)
	}
	h0 := heap()
	for i := range n {
		kind := roster.KindBrowser
		if i%3 == 0 {
			kind = roster.KindPhone
		}
		p := person(i, kind)
		p.Caller = fmt.Sprintf("+44 20 **** %04d", i%10000)
		bd.agents[bd.machines[i%len(bd.machines)]].Join("huge", p)
	}
	h1 := heap()
	start := time.Now()
	for _, id := range bd.machines {
		bd.startSet(id)
	}
	eventually(b, 60*time.Second, "SET services hold everyone", func() bool {
		total := 0
		for _, s := range bd.sets {
			total += s.Stats().Participants
		}
		return total == n
	})
	setsUp := time.Since(start)
	bd.still(func() uint64 {
		var n uint64
		for _, a := range bd.agents {
			st := a.Stats()
			n += st.Registrations + st.Deltas
		}
		return n
	})
	h2 := heap()
	start = time.Now()
	rank := bd.centralRank()
	bd.startCentral(rank[0])
	eventually(b, 60*time.Second, "central holds everyone", func() bool { return bd.centrals[rank[0]].Stats().Participants == n })
	centralUp := time.Since(start)
	// Everything in flight (batches to the SETs and the machines) is
	// delivered before the heap is measured.
	bd.still(func() uint64 {
		n := bd.centrals[rank[0]].Stats().NotifyOut
		for _, a := range bd.agents {
			n += a.Stats().EventsIn
		}
		return n
	})
	h3 := heap()
	bd.startCentral(rank[1])

	bd.quiet()
	h := bd.handler("s2b")
	var first []time.Duration
	for range 200 {
		t0 := time.Now()
		p := getPage(b, h, "huge", "page_size=100")
		first = append(first, time.Since(t0))
		if p.Total != n {
			b.Fatalf("first page: total %d, want %d", p.Total, n)
		}
	}
	var cold []time.Duration
	for i := range 100 {
		t0 := time.Now()
		getPage(b, h, "huge", fmt.Sprintf("page_size=%d", 100+i)) // a new cache key each time
		cold = append(cold, time.Since(t0))
	}
	t0 := time.Now()
	ids, total := allPages(b, h, "huge", "", 1000)
	pageAll := time.Since(t0)
	if len(ids) != n || total != n {
		b.Fatalf("paged %d of %d", len(ids), total)
	}

	// Join-to-seen-everywhere: one join at a time into the full room.
	var mu sync.Mutex
	seenBy := map[string]int{}
	done := make(chan struct{}, 1)
	bd.mu.Lock()
	bd.onEvent = func(node, room string, ev Event) {
		if ev.Type != EventJoined || ev.Participant == nil || ev.Participant.ID[0] != 'x' {
			return
		}
		mu.Lock()
		seenBy[ev.Participant.ID]++
		if seenBy[ev.Participant.ID] == len(bd.machines) {
			select {
			case done <- struct{}{}:
			default:
			}
		}
		mu.Unlock()
	}
	bd.mu.Unlock()
	var joins []time.Duration
	for i := range 100 {
		p := roster.Participant{ID: fmt.Sprintf("x%03d", i), Name: "late", Kind: roster.KindBrowser}
		t0 := time.Now()
		bd.agents[bd.machines[rand.IntN(len(bd.machines))]].Join("huge", p)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			b.Fatalf("join %d not seen everywhere", i)
		}
		joins = append(joins, time.Since(t0))
	}

	per := func(d uint64) float64 { return float64(d) / n }
	b.ReportMetric(per(h1-h0), "agent_B/participant")
	b.ReportMetric(per(h2-h1), "set_B/participant")
	b.ReportMetric(per(h3-h2), "central_B/participant")
	b.ReportMetric(ms(percentile(first, 0.5)), "first_page_p50_ms")
	b.ReportMetric(ms(percentile(first, 0.99)), "first_page_p99_ms")
	b.ReportMetric(ms(percentile(cold, 0.5)), "cold_page_p50_ms")
	b.ReportMetric(ms(percentile(cold, 0.99)), "cold_page_p99_ms")
	b.ReportMetric(ms(pageAll), "page_all_ms")
	b.ReportMetric(ms(percentile(joins, 0.5)), "join_seen_p50_ms")
	b.ReportMetric(ms(percentile(joins, 0.99)), "join_seen_p99_ms")
	b.ReportMetric(ms(setsUp), "sets_rebuild_ms")
	b.ReportMetric(ms(centralUp), "central_rebuild_ms")
	var hits, misses uint64
	for _, s := range bd.sets {
		st := s.Stats()
		hits, misses = hits+st.CacheHits, misses+st.CacheMisses
	}
	b.Logf("cache hits %d, misses %d; central %+v", hits, misses, bd.centrals[rank[0]].Stats())
	for range b.N {
	}
}

// still waits until count has not changed for 200 ms.
func (b *bed) still(count func() uint64) {
	last, since := count(), time.Now()
	eventually(b.t, 30*time.Second, "still", func() bool {
		if n := count(); n != last {
			last, since = n, time.Now()
		}
		return time.Since(since) > 200*time.Millisecond
	})
}
