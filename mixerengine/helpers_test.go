package mixerengine

import (
	"io"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/setbridge/setbridge/media"
)

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// harness runs an Engine on a FakeClock and steps one room tick by tick.
type harness struct {
	t     *testing.T
	clk   *media.FakeClock
	e     *Engine
	room  RoomID
	ticks chan uint64
	mixes [][]int16 // the room's tap, one frame per tick, if recording
	rec   bool
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	h := &harness{t: t, clk: media.NewFakeClock(time.Unix(1700000000, 0)), room: "r", ticks: make(chan uint64, 1)}
	cfg.Clock = h.clk
	if cfg.Logger == nil {
		cfg.Logger = quietLog
	}
	h.e = New(cfg)
	stop := h.e.Tap(h.room, func(tick uint64, mix []int16) {
		if h.rec {
			h.mixes = append(h.mixes, slices.Clone(mix))
		}
		h.ticks <- tick
	})
	t.Cleanup(func() {
		stop()
		h.e.Close()
	})
	return h
}

// step runs one tick of the room and waits for it to finish; it returns
// the tick number.
func (h *harness) step() uint64 {
	h.t.Helper()
	h.clk.Advance(media.FrameDuration)
	select {
	case tick := <-h.ticks:
		return tick
	case <-time.After(10 * time.Second):
		h.t.Fatal("tick did not run")
		return 0
	}
}

func (h *harness) steps(n int) {
	h.t.Helper()
	for range n {
		h.step()
	}
}

func (h *harness) join(id ParticipantID, p media.Participant) *Member {
	h.t.Helper()
	m, err := h.e.JoinWithID(h.room, id, p)
	if err != nil {
		h.t.Fatal(err)
	}
	return m
}

func (h *harness) talkers() []string {
	var out []string
	for _, id := range h.e.Talkers(h.room) {
		out = append(out, string(id))
	}
	slices.Sort(out)
	return out
}

// scripted ranks itself by a level the test sets (selector.LevelReader);
// level < 0 means no audio. Its audio is a constant, and it counts what it
// is sent.
type scripted struct {
	level  atomic.Int32
	writes atomic.Int64
}

func newScripted(level int) *scripted {
	s := &scripted{}
	s.level.Store(int32(level))
	return s
}

func (s *scripted) ReadLevel() (uint8, bool) {
	l := s.level.Load()
	return uint8(max(l, 0)), l >= 0
}

func (s *scripted) ReadFrame(dst []int16) bool {
	for i := range dst {
		dst[i] = 100
	}
	return s.level.Load() >= 0
}

func (s *scripted) WriteFrame([]int16) { s.writes.Add(1) }

// tone is a PCM participant that speaks a continuous sine (or a square
// wave) and records what it hears.
type tone struct {
	rate   int
	freq   float64
	amp    float64
	square bool
	silent bool
	n      int // samples produced

	mu    sync.Mutex
	heard [][]int16
}

func (p *tone) sample(i int) float64 {
	v := math.Sin(2 * math.Pi * p.freq * float64(i) / float64(p.rate))
	if p.square {
		v = math.Copysign(1, v)
	}
	return p.amp * v
}

func (p *tone) ReadFrame(dst []int16) bool {
	if p.silent {
		return false
	}
	for i := range dst {
		dst[i] = int16(math.Round(p.sample(p.n + i)))
	}
	p.n += len(dst)
	return true
}

func (p *tone) WriteFrame(pcm []int16) {
	p.mu.Lock()
	p.heard = append(p.heard, slices.Clone(pcm))
	p.mu.Unlock()
}

// last returns the last n frames heard, concatenated.
func (p *tone) last(n int) []int16 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Concat(p.heard[len(p.heard)-n:]...)
}
