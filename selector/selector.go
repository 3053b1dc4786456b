// Package selector is the selector of the design ([0070]-[0073] of the
// seed patent): it caches each uplink of a room frame by frame, aligned to
// the mixer's ticks, measures each frame's energy, reports every uplink's
// energy to the room's mixer in one batch per tick, and forwards the frames
// of the uplinks the mixer selected from its cache.
//
// One tick, as the mixer drives it:
//
//	Report(t, &report)                 // read frame t of every uplink, measure it
//	...mixer ranks report, picks K...
//	Forward(&SelectionNotice{t, ids})  // frames t of the selected uplinks
//
// The cache holds Depth frames per uplink (3 by default), indexed by
// tick, so a selection that arrives a little late (a remote mixer, or a
// mixer that mixes a tick or two behind to keep a new talker's first
// frames) still finds the frames it asks for. Frames older than Depth ticks
// are gone and are simply not forwarded; the mixer counts them as silence.
//
// A room may have several selectors, each caching a share of its uplinks
// (the patent's selector nodes), and their Reports may run at the same
// time. One Selector is not safe for concurrent use: the room calls it from
// one goroutine at a time, and makes membership changes (Add, Remove,
// SetMuted) between ticks. It does not allocate per tick once the caller's
// report and forward slices have grown to the room's size.
//
// Energy is measured exactly over every sample of the frame; on amd64 the
// sum of squares runs in SSE2 (sumsq_amd64.s), elsewhere, or with the
// purego build tag, in Go.
package selector

import (
	"fmt"
	"slices"

	"github.com/setbridge/setbridge/media"
)

// DefaultDepth is the number of frames cached per uplink by default.
const DefaultDepth = 3

// Config configures a Selector.
type Config struct {
	// FrameSamples is the number of samples in one frame at the room's rate
	// (media.FrameSamples(rate)); required.
	FrameSamples int
	// Depth is the number of frames cached per uplink (default 3).
	Depth int
	// CacheLevel is the quietest level, in -dBov, of a frame worth caching
	// (default Silence: every frame with audio). A quieter frame of an
	// uplink that the last SelectionNotice did not select is measured but
	// not cached, so it cannot be forwarded later.
	//
	// A mixer that selects only uplinks whose recent frames were at least
	// as loud as its threshold, and mixes at most Depth-1 ticks late, sets
	// CacheLevel to that threshold and loses nothing: a newly selected
	// uplink's frames back to the delay are loud enough to be cached, and
	// a selected one's frames are cached whatever their level. Caching is
	// the selector's main memory traffic (a frame per uplink per tick into
	// memory that has left the CPU cache since it was last written), so
	// this saves most of it in a room of many open but quiet microphones.
	CacheLevel uint8
}

// Selector caches a set of uplinks. Construct it with New.
type Selector struct {
	frame      int
	depth      int
	cacheLevel uint8
	all        bool    // SetCacheAll: read and cache every uplink's frame
	tick       uint64  // the tick of the last Report
	scratch    []int16 // a frame measured before it is cached, or not

	ups     []*uplink // in report order
	byID    map[ParticipantID]*uplink
	lastSel []*uplink // the uplinks of the last SelectionNotice

	// The cache: one plane per slot (tick modulo depth), holding the
	// frame of ups[i] at [i*frame, (i+1)*frame). A tick's frames are
	// written in one sweep through memory, which costs less than
	// scattered per-uplink rings when the cache no longer fits the CPU's.
	planes [][]int16
}

type uplink struct {
	id       ParticipantID
	up       media.Uplink
	lr       LevelReader // non-nil when up ranks itself
	muted    bool
	selected bool // named by the last SelectionNotice
	pos      int  // index in Selector.ups

	ticks  []uint64 // tick cached in each slot; 0 for none
	readAt uint64   // LevelReader: the tick whose PCM was last asked for
}

// New returns an empty Selector.
func New(cfg Config) (*Selector, error) {
	if cfg.FrameSamples <= 0 {
		return nil, fmt.Errorf("new selector: %w", ErrFrameSize)
	}
	if cfg.Depth <= 0 {
		cfg.Depth = DefaultDepth
	}
	if cfg.CacheLevel == 0 {
		cfg.CacheLevel = Silence
	}
	return &Selector{frame: cfg.FrameSamples, depth: cfg.Depth, cacheLevel: cfg.CacheLevel,
		scratch: make([]int16, cfg.FrameSamples), byID: make(map[ParticipantID]*uplink)}, nil
}

// Depth returns the number of frames cached per uplink.
func (s *Selector) Depth() int { return s.depth }

// Len returns the number of uplinks.
func (s *Selector) Len() int { return len(s.ups) }

// Add starts caching up under id. If up implements LevelReader it is
// ranked by its own level and its PCM is read only when selected.
func (s *Selector) Add(id ParticipantID, up media.Uplink) error {
	if _, ok := s.byID[id]; ok {
		return fmt.Errorf("add %q: %w", id, ErrDuplicate)
	}
	u := &uplink{id: id, up: up, pos: len(s.ups), ticks: make([]uint64, s.depth)}
	u.lr, _ = up.(LevelReader)
	s.ups = append(s.ups, u)
	if need := len(s.ups) * s.frame; s.planes == nil || need > len(s.planes[0]) {
		planes := make([][]int16, s.depth)
		for i := range planes {
			planes[i] = make([]int16, max(need, 2*len(s.ups)*s.frame, 8*s.frame))
			if s.planes != nil {
				copy(planes[i], s.planes[i])
			}
		}
		s.planes = planes
	}
	s.byID[id] = u
	return nil
}

// Remove stops caching id; it reports whether id was present. The order of
// the remaining uplinks in later reports may change.
func (s *Selector) Remove(id ParticipantID) bool {
	u, ok := s.byID[id]
	if !ok {
		return false
	}
	delete(s.byID, id)
	if i := slices.Index(s.lastSel, u); i >= 0 {
		s.lastSel = slices.Delete(s.lastSel, i, i+1)
	}
	last := len(s.ups) - 1
	if u.pos != last {
		for _, p := range s.planes { // the last uplink's frames move with it
			copy(p[u.pos*s.frame:(u.pos+1)*s.frame], p[last*s.frame:(last+1)*s.frame])
		}
	}
	s.ups[u.pos] = s.ups[last]
	s.ups[u.pos].pos = u.pos
	s.ups[last] = nil
	s.ups = s.ups[:last]
	return true
}

// SetMuted marks id muted or not; a muted uplink is still read every tick
// (so its jitter buffer keeps draining) and measured, reported with Muted
// set, and never forwarded.
func (s *Selector) SetMuted(id ParticipantID, muted bool) {
	if u, ok := s.byID[id]; ok {
		u.muted = muted
	}
}

// slot returns u's cache slot for tick.
func (s *Selector) slot(u *uplink, tick uint64) []int16 {
	p := s.planes[tick%uint64(s.depth)]
	return p[u.pos*s.frame : (u.pos+1)*s.frame : (u.pos+1)*s.frame]
}

// Report reads frame tick of every uplink, measures it, caches it (see
// Config.CacheLevel), and fills rep with one entry per uplink, reusing
// rep.Entries. An uplink that has no audio this tick (ReadFrame false, or
// ReadLevel not ok) is reported as Silence. Ticks start at 1 and increase
// by one per call.
func (s *Selector) Report(tick uint64, rep *EnergyReport) {
	s.tick = tick
	rep.Tick = tick
	ents := rep.Entries[:0]
	slot := int(tick % uint64(s.depth))
	prev := int((tick - 1) % uint64(s.depth))
	for _, u := range s.ups {
		level := Silence
		u.ticks[slot] = 0
		if u.lr != nil {
			// The PCM is read only if the mixer selects the uplink, or
			// when every frame is wanted.
			if l, ok := u.lr.ReadLevel(); ok {
				level = min(l, Silence)
				if s.all && !u.muted {
					u.readAt = tick
					if u.up.ReadFrame(s.slot(u, tick)) {
						u.ticks[slot] = tick
					}
				}
			}
			ents = append(ents, EnergyEntry{ParticipantID: u.id, Level: level, Muted: u.muted})
			continue
		}
		// An uplink whose last frame was cached likely needs this one
		// cached too: read it into its slot. Others are read into the
		// scratch frame and copied only if they turn out to need it.
		direct := u.ticks[prev] == tick-1
		buf := s.scratch
		if direct {
			buf = s.slot(u, tick)
		}
		if u.up.ReadFrame(buf) {
			level = Level(buf)
			if !u.muted && (u.selected || s.all || level <= s.cacheLevel) {
				if !direct {
					copy(s.slot(u, tick), buf)
				}
				u.ticks[slot] = tick
			}
		}
		ents = append(ents, EnergyEntry{ParticipantID: u.id, Level: level, Muted: u.muted})
	}
	rep.Entries = ents
}

// SetCacheAll makes the Reports from the next on read and cache the frame
// of every uplink that is not muted, whatever its level, decoding
// LevelReader uplinks too, so that Frames returns them all: the
// per-participant tracks of a recording. It costs a decode and a copy per
// uplink per tick, so it is off by default.
func (s *Selector) SetCacheAll(on bool) { s.all = on }

// Frames appends to dst the cached frames of tick of every uplink that has
// one, like Forward for all of them, without changing the selection. It is
// complete only with SetCacheAll on.
func (s *Selector) Frames(tick uint64, dst []ForwardedFrame) []ForwardedFrame {
	if tick == 0 || tick > s.tick || s.tick-tick >= uint64(s.depth) {
		return dst
	}
	slot := int(tick % uint64(s.depth))
	for _, u := range s.ups {
		if u.muted || u.ticks[slot] != tick {
			continue
		}
		dst = append(dst, ForwardedFrame{Tick: tick, ParticipantID: u.id, PCM: s.slot(u, tick)})
	}
	return dst
}

// Forward appends to dst the cached frames of n.Tick of the uplinks named
// in n.Selected, and returns the extended slice. An uplink that is unknown
// (perhaps another selector's), muted, had no audio at n.Tick, or whose
// frame n.Tick was not cached or has left the cache is left out. A selected
// LevelReader uplink has its PCM read now, for the tick of the last Report.
// The uplinks named stay selected, for caching, until the next notice.
func (s *Selector) Forward(n *SelectionNotice, dst []ForwardedFrame) []ForwardedFrame {
	// A tick out of the cache forwards nothing, but the selection is noted.
	cached := n.Tick != 0 && n.Tick <= s.tick && s.tick-n.Tick < uint64(s.depth)
	slot := int(n.Tick % uint64(s.depth))
	cur := int(s.tick % uint64(s.depth))
	for _, u := range s.lastSel {
		u.selected = false
	}
	s.lastSel = s.lastSel[:0]
	for _, id := range n.Selected {
		u, ok := s.byID[id]
		if !ok || u.muted {
			continue
		}
		if !u.selected {
			u.selected = true
			s.lastSel = append(s.lastSel, u)
		}
		if u.lr != nil && u.readAt != s.tick {
			u.readAt = s.tick
			if u.up.ReadFrame(s.slot(u, s.tick)) {
				u.ticks[cur] = s.tick
			}
		}
		if !cached || u.ticks[slot] != n.Tick {
			continue
		}
		dst = append(dst, ForwardedFrame{Tick: n.Tick, ParticipantID: id, PCM: s.slot(u, n.Tick)})
	}
	return dst
}
