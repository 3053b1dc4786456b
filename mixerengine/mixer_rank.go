package mixerengine

import (
	"time"

	"github.com/setbridge/setbridge/media"
)

// ranker keeps a room's selection of talkers; Config documents the rules.
// It is owned by the room's tick goroutine.
type ranker struct {
	topK      int
	threshold uint8
	margin    int
	confirm   int
	hang      uint64 // silent ticks after which a talker is released

	sel     []*Member // the selected talkers, in the order they were selected
	cands   []*Member // this tick's qualified newcomers, loudest first, at most topK
	changed bool      // the selection changed this tick
}

func newRanker(cfg Config) ranker {
	return ranker{topK: cfg.TopK, threshold: cfg.Threshold, margin: int(cfg.Margin), confirm: cfg.Confirm,
		hang:  hangTicks(cfg.HangOver),
		sel:   make([]*Member, 0, MaxTopK),
		cands: make([]*Member, 0, MaxTopK)}
}

// hangTicks converts a hang-over time to ticks, at least one.
func hangTicks(d time.Duration) uint64 {
	return max(uint64((d+media.FrameDuration-1)/media.FrameDuration), 1)
}

// update ranks the selectors' reports of tick t and updates the selection.
func (k *ranker) update(r *Room, t uint64) {
	var weakest uint8 // the weakest talker's held level; 0 means none
	if w := k.weakest(); w >= 0 {
		weakest = k.sel[w].held
	}
	k.cands = k.cands[:0]
	for _, sh := range r.shards {
		k.rankReport(r, sh, t, weakest)
	}

	// Release talkers silent for the whole hang-over.
	for i := 0; i < len(k.sel); {
		if m := k.sel[i]; t-m.lastActive >= k.hang {
			k.unselect(r, m)
			continue
		}
		i++
	}

	// Fill free places, then displace the weakest.
	for _, c := range k.cands {
		if len(k.sel) < k.topK {
			k.choose(r, c, t)
			continue
		}
		if c.beatRun < k.confirm {
			continue
		}
		w := k.weakest()
		if int(c.level)+k.margin <= int(k.sel[w].held) {
			k.unselect(r, k.sel[w])
			k.choose(r, c, t)
		}
	}
	clear(k.cands)
	k.cands = k.cands[:0]
}

// rankReport updates the members of one selector's report and offers the
// qualified newcomers.
func (k *ranker) rankReport(r *Room, sh *shard, t uint64, weakest uint8) {
	rep := &sh.rep
	if n := len(rep.Entries); len(sh.byPos) < n {
		sh.byPos = append(sh.byPos, make([]*Member, n-len(sh.byPos))...)
	}
	for i := range rep.Entries {
		e := &rep.Entries[i]
		m := r.lookup(sh, i, e.ParticipantID)
		if m == nil {
			continue
		}
		m.level = e.Level
		active := !e.Muted && !m.tickMuted && e.Level <= k.threshold
		if !active {
			m.activeRun, m.beatRun = 0, 0
			continue
		}
		m.activeRun++
		if m.selected {
			m.lastActive = t
			if e.Level < m.held {
				m.held = e.Level
			} else {
				m.held = min(e.Level, m.held+1)
			}
			continue
		}
		if len(k.sel) > 0 && int(e.Level)+k.margin <= int(weakest) {
			m.beatRun++
		} else {
			m.beatRun = 0
		}
		if m.activeRun >= k.confirm {
			k.offer(m)
		}
	}
}

// offer keeps m among this tick's candidates if it is among the topK
// first by ahead.
func (k *ranker) offer(m *Member) {
	n := len(k.cands)
	if n == k.topK {
		if !ahead(m, k.cands[n-1]) {
			return
		}
		n--
	} else {
		k.cands = append(k.cands, nil)
	}
	i := n
	for i > 0 && ahead(m, k.cands[i-1]) {
		k.cands[i] = k.cands[i-1]
		i--
	}
	k.cands[i] = m
}

// ahead orders newcomers: louder first, then the one talking longer, then
// the one that joined first, so the order does not depend on which
// selector reported whom.
func ahead(a, b *Member) bool {
	if a.level != b.level {
		return a.level < b.level
	}
	if a.activeRun != b.activeRun {
		return a.activeRun > b.activeRun
	}
	return a.seq < b.seq
}

// weakest returns the index of the selected talker with the quietest held
// level (on a tie, the one silent longest), or -1 if none is selected.
func (k *ranker) weakest() int {
	w := -1
	for i, m := range k.sel {
		if w < 0 || m.held > k.sel[w].held || (m.held == k.sel[w].held && m.lastActive < k.sel[w].lastActive) {
			w = i
		}
	}
	return w
}

// choose selects m on tick t: it takes a free talker slot, whose limiter
// continues from the common mix m was hearing.
func (k *ranker) choose(r *Room, m *Member, t uint64) {
	s := 0
	for r.slots[s].used {
		s++
	}
	r.slots[s].used = true
	r.slots[s].lim.copyFrom(&r.common)
	m.selected, m.slot = true, s
	m.held, m.lastActive = m.level, t
	m.beatRun = 0
	k.sel = append(k.sel, m)
	k.changed = true
}

// unselect releases m's place.
func (k *ranker) unselect(r *Room, m *Member) {
	for i, x := range k.sel {
		if x == m {
			copy(k.sel[i:], k.sel[i+1:])
			k.sel[len(k.sel)-1] = nil
			k.sel = k.sel[:len(k.sel)-1]
			break
		}
	}
	r.slots[m.slot].used = false
	m.selected = false
	m.frame = nil
	m.beatRun = 0 // activeRun goes on: a talker released while still talking may fill the next free place
	k.changed = true
}

// setTopK changes K, releasing the weakest talkers if K shrinks.
func (k *ranker) setTopK(r *Room, n int) {
	k.topK = n
	for len(k.sel) > n {
		k.unselect(r, k.sel[k.weakest()])
	}
}
