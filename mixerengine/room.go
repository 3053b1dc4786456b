package mixerengine

import (
	"log/slog"
	"math"
	"sync"

	"github.com/setbridge/setbridge/media"
)

// Room mixes one conference.
type Room struct {
	id    RoomID
	cfg   Config
	log   *slog.Logger
	frame int // samples per frame at cfg.Rate

	mu      sync.Mutex
	members []*Member // guarded by mu; copied into tickMembers when dirty
	dirty   bool      // guarded by mu
	done    chan struct{}
	once    sync.Once

	// Owned by the tick goroutine.
	tickMembers []*Member
	sum         []int32
	out         []int16
}

func newRoom(id RoomID, cfg Config, log *slog.Logger) *Room {
	n := media.FrameSamples(cfg.Rate)
	return &Room{id: id, cfg: cfg, log: log, frame: n, done: make(chan struct{}),
		sum: make([]int32, n), out: make([]int16, n)}
}

func (r *Room) add(m *Member) {
	m.in = make([]int16, r.frame)
	r.mu.Lock()
	r.members = append(r.members, m)
	r.dirty = true
	n := len(r.members)
	r.mu.Unlock()
	r.log.Info("participant joined", "participants", n)
}

// remove drops m and returns how many members are left.
func (r *Room) remove(m *Member) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, x := range r.members {
		if x == m {
			r.members = append(r.members[:i:i], r.members[i+1:]...)
			r.dirty = true
			break
		}
	}
	r.log.Info("participant left", "participants", len(r.members))
	return len(r.members)
}

func (r *Room) size() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.members)
}

func (r *Room) stop() { r.once.Do(func() { close(r.done) }) }

func (r *Room) run() {
	t := r.cfg.Clock.NewTicker(media.FrameDuration)
	defer t.Stop()
	r.log.Info("room started", "rate", r.cfg.Rate)
	defer r.log.Info("room stopped")
	for {
		select {
		case <-r.done:
			return
		case <-t.C():
			r.tick()
		}
	}
}

// tick mixes one frame: everyone's uplink summed, and each member gets the
// sum without its own contribution.
func (r *Room) tick() {
	r.mu.Lock()
	if r.dirty {
		r.tickMembers = append(r.tickMembers[:0], r.members...)
		r.dirty = false
	}
	r.mu.Unlock()

	clear(r.sum)
	for _, m := range r.tickMembers {
		m.active = m.p.ReadFrame(m.in)
		if !m.active {
			continue
		}
		for i, s := range m.in {
			r.sum[i] += int32(s)
		}
	}
	for _, m := range r.tickMembers {
		if m.active {
			for i, s := range m.in {
				r.out[i] = saturate(r.sum[i] - int32(s))
			}
		} else {
			for i, s := range r.sum {
				r.out[i] = saturate(s)
			}
		}
		m.p.WriteFrame(r.out)
	}
}

func saturate(v int32) int16 {
	switch {
	case v > math.MaxInt16:
		return math.MaxInt16
	case v < math.MinInt16:
		return math.MinInt16
	}
	return int16(v)
}
