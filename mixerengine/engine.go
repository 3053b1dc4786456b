// Package mixerengine is the mixer of the design ([0070]-[0074] of the seed
// patent): per conference room, on a steady 20 ms tick, it ranks the
// energies its selectors report, keeps the top K talkers with hysteresis,
// mixes them, sends each selected talker the mix of the other selected
// talkers (N-1), and sends everybody else one common mix, computed once per
// tick and, for legs that can take it, encoded once per codec.
//
// Each room has one tick goroutine, the only writer of the room's mixing
// state; joins, leaves, mutes and K changes are queued and applied by the
// tick at the start of the next tick. A tick does not allocate once the
// room's membership is steady.
//
// One tick t of a room:
//
//  1. apply queued membership changes;
//  2. each of the room's selectors (package selector; Config.Selectors of
//     them, each caching a share of the uplinks) reads frame t of its
//     uplinks, measures it, and reports all their levels in one
//     selector.EnergyReport; a big room's selectors do this in parallel;
//  3. the room ranks the reports and updates the selection (Config
//     documents the rules), then sends the selectors a
//     selector.SelectionNotice and gets the selected uplinks' frames back
//     as selector.ForwardedFrame;
//  4. it sums the selected frames in int32 and passes the common mix and
//     each talker's N-1 mix through a look-ahead limiter (mixer_limit.go);
//  5. it writes each talker its N-1 mix, each listener the common mix
//     (shared-encoded where the leg allows, downlink_shared.go), publishes
//     the talkers, and hands the common mix to the room's taps.
package mixerengine

import (
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/setbridge/setbridge/media"
	"github.com/setbridge/setbridge/selector"
)

// RoomID names a conference room.
type RoomID string

// ParticipantID names a participant within a room.
type ParticipantID = selector.ParticipantID

// MaxTopK is the largest number of talkers a room mixes at once.
const MaxTopK = 16

// Defaults of Config.
const (
	DefaultTopK      = 5
	DefaultThreshold = 50 // -50 dBov
	DefaultMargin    = 6  // dB
	DefaultConfirm   = 3  // frames (60 ms)
	DefaultHangOver  = 500 * time.Millisecond
)

// Config configures an Engine. Zero fields take the documented defaults.
//
// Ranking, once per tick for each room:
//
//   - A participant is active on a tick when it is not muted and its level
//     is Threshold or louder (RFC 6464 scale, so a level ≤ Threshold).
//     -50 dBov sits between room noise on a phone (about -55 to -65 dBov)
//     and quiet speech (about -40 dBov; normal speech is -20 to -30).
//   - A participant that is not selected joins the selection, when there is
//     a free place, after Confirm consecutive active frames; when all K
//     places are taken, after Confirm consecutive frames on each of which
//     it was active and at least Margin dB louder than the weakest selected
//     talker, and it then takes that talker's place. The loudest qualified
//     participants go first (on equal levels, the one active longer, then
//     the one that joined first).
//   - A selected talker's rank is its held level: on its active frames it
//     follows the level at once when louder and rises (gets quieter) by at
//     most 1 dB per frame, and on silent frames it is frozen. So pauses
//     between words neither lose the place nor make it weaker.
//   - A selected talker keeps its place until it has been silent (not
//     active) for HangOver, unless displaced as above; it leaves at once
//     when it is muted, leaves the room, or K shrinks below its rank (the
//     weakest go first). A freed place is filled on the same tick by the
//     loudest participant that has been active for Confirm frames.
type Config struct {
	// Rate is the sample rate rooms mix at (default 48000; 8000 and 16000
	// are allowed).
	Rate int
	// Clock drives the tick (default the system clock).
	Clock media.Clock
	// Logger receives room lifecycle logs (default slog.Default()).
	Logger *slog.Logger

	// TopK is how many talkers each room mixes (default 5; 1..MaxTopK).
	TopK int
	// Threshold is the level at or above which a participant counts as
	// talking, in -dBov (default 50, that is -50 dBov).
	Threshold uint8
	// Margin is how many dB louder than the weakest selected talker a
	// newcomer must be to displace it (default 6).
	Margin uint8
	// Confirm is how many consecutive frames a newcomer must qualify for
	// (default 3).
	Confirm int
	// HangOver is how long a selected talker keeps its place after it falls
	// silent (default 500 ms).
	HangOver time.Duration
	// MixDelay makes the room mix the selected talkers' frames of MixDelay
	// ticks ago (from the selector's cache) instead of this tick's. 0, the
	// default, adds no latency but a newcomer's first Confirm-1 frames,
	// spent qualifying, are not heard; Confirm-1 keeps them at that many
	// frames of extra latency. It must be less than the selector's depth
	// (3 by default); larger values are clamped.
	MixDelay int

	// Selectors is how many selectors each room spreads its uplinks over
	// (default GOMAXPROCS, at most 8). Like the patent's selector nodes,
	// each caches and measures its share; a room of MinParallel uplinks
	// or more has them report in parallel, one on the tick goroutine and
	// the others on helper goroutines of the room.
	Selectors int
	// NewSelector builds one selector of a new room (default an in-process
	// selector.Selector with frames at Rate that caches frames at
	// Threshold or louder).
	NewSelector func(room RoomID, frameSamples int) (Selector, error)
	// NewEncoder builds the shared encoder of a downlink format (default
	// DefaultEncoder).
	NewEncoder EncoderFunc
	// OnTickDuration, if set, is called on the room's tick goroutine with
	// how long each tick took (wall clock); it must not block.
	OnTickDuration func(time.Duration)
	// OnTalkers, if set, is called on the room's tick goroutine whenever the
	// selection changes, with the selected talkers in the order they were
	// selected. It must not block; talkers is valid only during the call.
	OnTalkers func(room RoomID, tick uint64, talkers []ParticipantID)
}

// Selector is the mixer's side of the conversation with one of a room's
// selectors: the room tells it who joins, leaves and is muted, and each
// tick asks for the energy report and then for the frames of the uplinks it
// selected. *selector.Selector implements it in process.
//
// The room calls one Selector from one goroutine at a time, but the
// Reports of a room's different selectors may run at the same time, so
// the ReadFrame and ReadLevel methods of different participants may be
// called concurrently (never those of one participant). WriteFrame and
// WriteShared are always called on the room's tick goroutine.
type Selector interface {
	Add(id ParticipantID, up media.Uplink) error
	Remove(id ParticipantID) bool
	SetMuted(id ParticipantID, muted bool)
	// Report fills rep with the level of frame tick of every uplink.
	Report(tick uint64, rep *selector.EnergyReport)
	// Forward appends the frames of n.Tick of the uplinks in n.Selected to
	// dst; an uplink with no frame is left out and mixed as silence.
	Forward(n *selector.SelectionNotice, dst []selector.ForwardedFrame) []selector.ForwardedFrame
}

// TapFunc receives a room's common mix (what every listener hears), once
// per tick, on the room's tick goroutine: tick increases by one per call,
// from 1 for each run of the room (a room stops when its last member leaves
// and a later Join starts a new run). It must not block; mix is valid only
// during the call.
type TapFunc func(tick uint64, mix []int16)

// TrackFunc receives what one participant said in a tick: the frame of
// its uplink that the tick's mix is made from (selected or not, so a
// quiet participant's track holds its quiet speech), or silence when it
// had none, was muted, or its packets were lost. It is called on the
// room's tick goroutine right after the room's TapFuncs, with the same
// tick, once for every member of the room in turn. It must not block; pcm
// is valid only during the call.
type TrackFunc func(tick uint64, p ParticipantID, pcm []int16)

// FrameSource is a Selector that can hand over the frame of every uplink
// of a tick, not only the selected ones; *selector.Selector is one. A
// room's TrackTaps need one: with another Selector every track is silent.
type FrameSource interface {
	// SetCacheAll makes the following Reports read and cache every frame.
	SetCacheAll(on bool)
	// Frames appends the cached frames of tick of every uplink to dst.
	Frames(tick uint64, dst []selector.ForwardedFrame) []selector.ForwardedFrame
}

// Stats are counters of the mixer's work.
type Stats struct {
	Ticks uint64
	// Overruns counts ticks that took longer than a frame. The room does
	// not catch up: the next tick simply starts when the clock next ticks.
	Overruns uint64
	// SharedEncodes counts encoder calls the room made for shared
	// downlink formats; SharedWrites the WriteShared calls that reused them.
	SharedEncodes uint64
	SharedWrites  uint64
	// PCMWrites counts WriteFrame calls, each encoded by its leg: the
	// talkers' N-1 mixes and the common mix for legs without shared
	// encoding.
	PCMWrites uint64
	// EncodeErrors counts failed shared encodes.
	EncodeErrors uint64
}

// EncodesPerTick is the average number of encodes per tick: the shared
// encodes plus one per PCM write.
func (s Stats) EncodesPerTick() float64 {
	if s.Ticks == 0 {
		return 0
	}
	return float64(s.SharedEncodes+s.PCMWrites) / float64(s.Ticks)
}

type counters struct {
	ticks, overruns, sharedEncodes, sharedWrites, pcmWrites, encodeErrors atomic.Uint64
}

func (c *counters) load() Stats {
	return Stats{Ticks: c.ticks.Load(), Overruns: c.overruns.Load(), SharedEncodes: c.sharedEncodes.Load(),
		SharedWrites: c.sharedWrites.Load(), PCMWrites: c.pcmWrites.Load(), EncodeErrors: c.encodeErrors.Load()}
}

// Engine owns the rooms of one process.
type Engine struct {
	cfg Config

	mu     sync.Mutex
	rooms  map[RoomID]*Room       // guarded by mu
	taps   map[RoomID][]*tapEntry // guarded by mu
	closed bool                   // guarded by mu
	wg     sync.WaitGroup

	total counters // totals over every room, running or stopped
}

type tapEntry struct {
	fn    TapFunc
	track TrackFunc
}

// New returns an Engine with cfg's defaults filled in.
func New(cfg Config) *Engine {
	if cfg.Rate == 0 {
		cfg.Rate = 48000
	}
	if cfg.Clock == nil {
		cfg.Clock = media.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.TopK <= 0 {
		cfg.TopK = DefaultTopK
	}
	cfg.TopK = min(cfg.TopK, MaxTopK)
	if cfg.Threshold == 0 {
		cfg.Threshold = DefaultThreshold
	}
	if cfg.Margin == 0 {
		cfg.Margin = DefaultMargin
	}
	if cfg.Confirm <= 0 {
		cfg.Confirm = DefaultConfirm
	}
	if cfg.HangOver <= 0 {
		cfg.HangOver = DefaultHangOver
	}
	cfg.MixDelay = max(cfg.MixDelay, 0)
	if cfg.Selectors <= 0 {
		cfg.Selectors = min(runtime.GOMAXPROCS(0), 8)
	}
	if cfg.NewSelector == nil {
		threshold := cfg.Threshold
		cfg.NewSelector = func(_ RoomID, frame int) (Selector, error) {
			return selector.New(selector.Config{FrameSamples: frame, CacheLevel: threshold})
		}
		cfg.MixDelay = min(cfg.MixDelay, selector.DefaultDepth-1)
	}
	if cfg.NewEncoder == nil {
		cfg.NewEncoder = DefaultEncoder
	}
	return &Engine{cfg: cfg, rooms: make(map[RoomID]*Room), taps: make(map[RoomID][]*tapEntry)}
}

// Rate returns the rate rooms mix at.
func (e *Engine) Rate() int { return e.cfg.Rate }

// Join adds p to room id under a generated ParticipantID, creating and
// starting the room if needed. The returned Member's Leave removes it.
// p is mixed from the room's next tick.
func (e *Engine) Join(id RoomID, p media.Participant) (*Member, error) {
	return e.JoinWithID(id, "", p)
}

// JoinWithID is Join with the participant's id chosen by the caller; an
// empty pid generates one. It fails with ErrDuplicateID if pid is in the
// room already.
//
// If p implements selector.LevelReader it is ranked by its own level, and
// if it implements SharedDownlink it is sent the shared encoding of the
// common mix while it is not a selected talker.
func (e *Engine) JoinWithID(id RoomID, pid ParticipantID, p media.Participant) (*Member, error) {
	if pid == "" {
		pid = ParticipantID(uuid.NewString())
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, ErrClosed
	}
	r := e.rooms[id]
	if r == nil {
		var err error
		r, err = newRoom(id, e)
		if err != nil {
			return nil, fmt.Errorf("join %s: %w", id, err)
		}
		r.setTaps(e.tapsLocked(id))
		e.rooms[id] = r
		// The ticker exists before Join returns, so that no tick of a
		// (fake) clock advanced right after Join is missed.
		tk := e.cfg.Clock.NewTicker(media.FrameDuration)
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			r.run(tk)
		}()
	}
	m := &Member{id: pid, room: r, engine: e, p: p}
	m.sd, _ = p.(SharedDownlink)
	if err := r.add(m); err != nil {
		if r.size() == 0 {
			e.stopLocked(r)
		}
		return nil, fmt.Errorf("join %s: %w", id, err)
	}
	return m, nil
}

func (e *Engine) room(id RoomID) *Room {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.rooms[id]
}

// Participants returns the number of members of room id.
func (e *Engine) Participants(id RoomID) int {
	r := e.room(id)
	if r == nil {
		return 0
	}
	return r.size()
}

// RoomCount returns the number of rooms running.
func (e *Engine) RoomCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.rooms)
}

// Talkers returns the selected talkers of room id, in the order they were
// selected, as of the last tick; nil if the room is not running.
func (e *Engine) Talkers(id RoomID) []ParticipantID {
	r := e.room(id)
	if r == nil {
		return nil
	}
	return r.talkers()
}

// SetTopK changes how many talkers room id mixes, from its next tick.
func (e *Engine) SetTopK(id RoomID, k int) error {
	if k < 1 || k > MaxTopK {
		return fmt.Errorf("set top k %d: %w", k, ErrTopK)
	}
	r := e.room(id)
	if r == nil {
		return fmt.Errorf("set top k: %w: %s", ErrNoRoom, id)
	}
	r.enqueue(op{kind: opTopK, k: k})
	return nil
}

// Tap calls fn with room id's common mix every tick until stop is called,
// including across the room stopping and starting again. See TapFunc.
func (e *Engine) Tap(id RoomID, fn TapFunc) (stop func()) {
	return e.addTap(id, &tapEntry{fn: fn})
}

// TrackTap calls fn with the frame of every member of room id every tick
// until stop is called. While a room has a TrackTap its selectors decode
// and keep every uplink's frame, not only the talkers'. See TrackFunc.
func (e *Engine) TrackTap(id RoomID, fn TrackFunc) (stop func()) {
	return e.addTap(id, &tapEntry{track: fn})
}

func (e *Engine) addTap(id RoomID, t *tapEntry) (stop func()) {
	e.mu.Lock()
	e.taps[id] = append(e.taps[id], t)
	e.updateTapsLocked(id)
	e.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			e.mu.Lock()
			defer e.mu.Unlock()
			ts := e.taps[id]
			for i, x := range ts {
				if x == t {
					e.taps[id] = append(ts[:i:i], ts[i+1:]...)
					break
				}
			}
			if len(e.taps[id]) == 0 {
				delete(e.taps, id)
			}
			e.updateTapsLocked(id)
		})
	}
}

func (e *Engine) tapsLocked(id RoomID) ([]TapFunc, []TrackFunc) {
	var fns []TapFunc
	var tracks []TrackFunc
	for _, t := range e.taps[id] {
		if t.fn != nil {
			fns = append(fns, t.fn)
		}
		if t.track != nil {
			tracks = append(tracks, t.track)
		}
	}
	return fns, tracks
}

func (e *Engine) updateTapsLocked(id RoomID) {
	if r := e.rooms[id]; r != nil {
		r.setTaps(e.tapsLocked(id))
	}
}

// Stats returns the engine's counters, totalled over every room it ran.
func (e *Engine) Stats() Stats { return e.total.load() }

// RoomStats returns the counters of room id's current run.
func (e *Engine) RoomStats(id RoomID) (Stats, bool) {
	r := e.room(id)
	if r == nil {
		return Stats{}, false
	}
	return r.stats.load(), true
}

func (e *Engine) leave(m *Member) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := m.room
	if r.remove(m) == 0 && e.rooms[r.id] == r {
		e.stopLocked(r)
	}
}

// stopLocked stops r; its goroutine finishes the tick it is in, if any.
func (e *Engine) stopLocked(r *Room) {
	if e.rooms[r.id] == r {
		delete(e.rooms, r.id)
	}
	r.stop()
}

// Close stops every room and waits for their tick goroutines.
func (e *Engine) Close() {
	e.mu.Lock()
	e.closed = true
	for _, r := range e.rooms {
		e.stopLocked(r)
	}
	e.mu.Unlock()
	e.wg.Wait()
}

// Member is one participant's place in a room.
type Member struct {
	id     ParticipantID
	room   *Room
	engine *Engine
	p      media.Participant
	sd     SharedDownlink // p, if it implements it
	once   sync.Once
	muted  atomic.Bool // as last requested

	// Owned by the tick goroutine.
	seq        uint64 // join order in the room
	pos        int    // index in Room.members
	shard      *shard // the selector caching the member's uplink
	tickMuted  bool
	level      uint8  // this tick's level
	activeRun  int    // consecutive active frames
	beatRun    int    // consecutive frames active and Margin louder than the weakest talker
	selected   bool   //
	slot       int    // talker slot while selected
	held       uint8  // rank level while selected
	lastActive uint64 // last active tick while selected
	frame      []int16
	track      []int16        // this tick's frame for the TrackTaps
	format     FormatKey      // shared format bound, if enc != nil
	enc        *sharedEncoder //
	badFormat  FormatKey      // a format that failed to build; not retried
	out        *SharedFrame   // this tick's shared frame, nil for PCM
}

// ID returns the member's participant id.
func (m *Member) ID() ParticipantID { return m.id }

// Room returns the room the member is in.
func (m *Member) Room() RoomID { return m.room.id }

// SetMuted mutes or unmutes the member from the next tick: a muted member
// is never selected and never heard, and still hears the room.
func (m *Member) SetMuted(muted bool) {
	m.muted.Store(muted)
	m.room.enqueue(op{kind: opMute, m: m, muted: muted})
}

// Muted reports what SetMuted last set.
func (m *Member) Muted() bool { return m.muted.Load() }

// Leave removes the member from its room; it is safe to call more than
// once. A tick already running may still call the participant once more.
func (m *Member) Leave() { m.once.Do(func() { m.engine.leave(m) }) }

// Cue plays clip (mono, at the engine's rate) once into every output of
// room: the talkers' mixes and the common mix alike, after any cue already
// playing. It is for short tones such as a join or leave beep; the room
// keeps at most a few waiting and drops the rest. The clip must not be
// modified afterwards.
func (e *Engine) Cue(id RoomID, clip []int16) {
	e.mu.Lock()
	r := e.rooms[id]
	e.mu.Unlock()
	if r == nil || len(clip) == 0 {
		return
	}
	r.enqueue(op{kind: opCue, clip: clip})
}
