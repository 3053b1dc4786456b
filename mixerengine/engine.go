// Package mixerengine mixes each conference on a steady 20 ms clock.
//
// Each room has one tick goroutine, the only writer of the room's mixing
// state. Every tick it reads one frame from each participant's uplink, and
// writes each participant the mix of everyone else (N-1), so nobody hears
// themselves.
package mixerengine

import (
	"errors"
	"log/slog"
	"sync"

	"github.com/setbridge/setbridge/media"
)

// RoomID names a conference room.
type RoomID string

// ErrClosed is returned by Join after Close.
var ErrClosed = errors.New("mixer engine closed")

// Config configures an Engine.
type Config struct {
	// Rate is the sample rate rooms mix at (default 48000; 8000 and 16000
	// are allowed).
	Rate int
	// Clock drives the tick (default the system clock).
	Clock media.Clock
	// Logger receives room lifecycle logs (default slog.Default()).
	Logger *slog.Logger
}

// Engine owns the rooms of one process.
type Engine struct {
	cfg Config

	mu     sync.Mutex
	rooms  map[RoomID]*Room // guarded by mu
	closed bool             // guarded by mu
	wg     sync.WaitGroup
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
	return &Engine{cfg: cfg, rooms: make(map[RoomID]*Room)}
}

// Rate returns the rate rooms mix at.
func (e *Engine) Rate() int { return e.cfg.Rate }

// Join adds p to room id, creating and starting the room if needed. The
// returned Member's Leave removes it.
func (e *Engine) Join(id RoomID, p media.Participant) (*Member, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, ErrClosed
	}
	r := e.rooms[id]
	if r == nil {
		r = newRoom(id, e.cfg, e.cfg.Logger.With("component", "mixer", "room", string(id)))
		e.rooms[id] = r
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			r.run()
		}()
	}
	m := &Member{room: r, engine: e, p: p}
	r.add(m)
	return m, nil
}

// Participants returns the number of members of room id.
func (e *Engine) Participants(id RoomID) int {
	e.mu.Lock()
	r := e.rooms[id]
	e.mu.Unlock()
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

func (e *Engine) leave(m *Member) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := m.room
	if r.remove(m) == 0 && e.rooms[r.id] == r {
		delete(e.rooms, r.id)
		r.stop()
	}
}

// Close stops every room and waits for their tick goroutines.
func (e *Engine) Close() {
	e.mu.Lock()
	e.closed = true
	for id, r := range e.rooms {
		r.stop()
		delete(e.rooms, id)
	}
	e.mu.Unlock()
	e.wg.Wait()
}

// Member is one participant's place in a room.
type Member struct {
	room   *Room
	engine *Engine
	p      media.Participant
	once   sync.Once

	// Tick-owned state.
	in     []int16
	active bool
}

// Room returns the room the member is in.
func (m *Member) Room() RoomID { return m.room.id }

// Leave removes the member from its room; it is safe to call more than once.
func (m *Member) Leave() { m.once.Do(func() { m.engine.leave(m) }) }
