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
// The cache is a ring of Depth frames per uplink (3 by default), indexed by
// tick, so a selection that arrives a little late (a remote mixer, or a
// mixer that mixes a tick or two behind to keep a new talker's first
// frames) still finds the frames it asks for. Frames older than Depth ticks
// are gone and are simply not forwarded; the mixer counts them as silence.
//
// A Selector is not safe for concurrent use: the room's tick goroutine owns
// it, and membership changes (Add, Remove, SetMuted) are made on that
// goroutine between ticks. It does not allocate per tick once the caller's
// report and forward slices have grown to the room's size.
package selector

import (
	"fmt"

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
}

// Selector caches a set of uplinks. Construct it with New.
type Selector struct {
	frame int
	depth int
	tick  uint64 // the tick of the last Report

	ups  []*uplink // in report order
	byID map[ParticipantID]*uplink
}

type uplink struct {
	id    ParticipantID
	up    media.Uplink
	lr    LevelReader // non-nil when up ranks itself
	muted bool
	pos   int // index in Selector.ups

	ring   []int16  // depth frames
	ticks  []uint64 // tick held by each slot; 0 for none
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
	return &Selector{frame: cfg.FrameSamples, depth: cfg.Depth, byID: make(map[ParticipantID]*uplink)}, nil
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
	u := &uplink{id: id, up: up, pos: len(s.ups),
		ring: make([]int16, s.depth*s.frame), ticks: make([]uint64, s.depth)}
	u.lr, _ = up.(LevelReader)
	s.ups = append(s.ups, u)
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
	last := len(s.ups) - 1
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

func (u *uplink) slot(tick uint64, frame, depth int) []int16 {
	i := int(tick % uint64(depth))
	return u.ring[i*frame : (i+1)*frame : (i+1)*frame]
}

// Report reads frame tick of every uplink into its cache, measures it, and
// fills rep with one entry per uplink, reusing rep.Entries. An uplink that
// has no audio this tick (ReadFrame false, or ReadLevel not ok) is reported
// as Silence. Ticks start at 1 and increase by one per call.
func (s *Selector) Report(tick uint64, rep *EnergyReport) {
	s.tick = tick
	rep.Tick = tick
	ents := rep.Entries[:0]
	slot := int(tick % uint64(s.depth))
	for _, u := range s.ups {
		level := Silence
		if u.lr != nil {
			// The PCM is read only if the mixer selects the uplink.
			u.ticks[slot] = 0
			if l, ok := u.lr.ReadLevel(); ok {
				level = min(l, Silence)
			}
		} else {
			buf := u.slot(tick, s.frame, s.depth)
			if u.up.ReadFrame(buf) {
				u.ticks[slot] = tick
				level = Level(buf)
			} else {
				u.ticks[slot] = 0
			}
		}
		ents = append(ents, EnergyEntry{ParticipantID: u.id, Level: level, Muted: u.muted})
	}
	rep.Entries = ents
}

// Forward appends to dst the cached frames of n.Tick of the uplinks named
// in n.Selected, and returns the extended slice. An uplink that is unknown,
// muted, had no audio at n.Tick, or whose frame n.Tick has left the cache
// is left out. A selected LevelReader uplink has its PCM read now, for the
// tick of the last Report.
func (s *Selector) Forward(n *SelectionNotice, dst []ForwardedFrame) []ForwardedFrame {
	if n.Tick == 0 || n.Tick > s.tick || s.tick-n.Tick >= uint64(s.depth) {
		return dst
	}
	slot := int(n.Tick % uint64(s.depth))
	cur := int(s.tick % uint64(s.depth))
	for _, id := range n.Selected {
		u, ok := s.byID[id]
		if !ok || u.muted {
			continue
		}
		if u.lr != nil && u.readAt != s.tick {
			u.readAt = s.tick
			if u.up.ReadFrame(u.slot(s.tick, s.frame, s.depth)) {
				u.ticks[cur] = s.tick
			}
		}
		if u.ticks[slot] != n.Tick {
			continue
		}
		dst = append(dst, ForwardedFrame{Tick: n.Tick, ParticipantID: id, PCM: u.slot(n.Tick, s.frame, s.depth)})
	}
	return dst
}
