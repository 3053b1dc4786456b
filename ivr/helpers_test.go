package ivr

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/setbridge/setbridge/media"
	"github.com/setbridge/setbridge/media/dtmf"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testRate = 8000

var testEpoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// testPrompts returns a small synthetic set at testRate holding every
// prompt a Session needs. Prompt i is 2 to 4 frames long (never a whole
// number of frames, so prompts share frames at their boundaries) and its
// samples are non-zero and tell it apart from every other prompt.
func testPrompts(t testing.TB) *PromptSet {
	t.Helper()
	names := append(slices.Clone(sessionPrompts), PromptBeepJoin, PromptBeepLeave, "digits/hundred", "digits/thousand")
	for _, n := range digitPrompts {
		if n != "" {
			names = append(names, n)
		}
	}
	m := make(map[string][]int16, len(names))
	frame := media.FrameSamples(testRate)
	for i, n := range names {
		v := make([]int16, 2*frame+37*(i%17)+11)
		for j := range v {
			v[j] = int16(100*(i+1) + j%97 + 1)
		}
		m[n] = v
	}
	set, err := NewPromptSet(testRate, m)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// event is one Handler call, stamped with the frame being read.
type event struct {
	frame int
	kind  string // join, command, pin, hangup
	arg   string
}

func (e event) String() string { return e.kind + " " + e.arg }

// recHandler records Handler calls and answers them like a small room.
type recHandler struct {
	mu           sync.Mutex
	frame        *int
	events       []event
	participants int   // in the room before the caller joins
	joinErr      error // returned by Join
	cmdErr       error // returned by Command
	muted        bool
	locked       bool
}

func (h *recHandler) add(kind, arg string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, event{frame: *h.frame, kind: kind, arg: arg})
}

func (h *recHandler) Join(room RoomID, role Role) (int, error) {
	h.add("join", string(room)+" "+role.String())
	if h.joinErr != nil {
		return 0, h.joinErr
	}
	h.participants++
	return h.participants, nil
}

func (h *recHandler) Command(cmd Command) (CommandResult, error) {
	if cmd.Number != "" {
		h.add("command", cmd.Action.String()+" "+cmd.Number)
	} else {
		h.add("command", cmd.Action.String())
	}
	if h.cmdErr != nil {
		return CommandResult{}, h.cmdErr
	}
	switch cmd.Action {
	case ActionToggleMute:
		h.muted = !h.muted
	case ActionToggleLock:
		h.locked = !h.locked
	}
	return CommandResult{Muted: h.muted, Locked: h.locked, Participants: h.participants}, nil
}

func (h *recHandler) PINEntry(active bool) { h.add("pin", fmt.Sprint(active)) }

func (h *recHandler) Hangup(reason HangupReason) { h.add("hangup", string(reason)) }

func (h *recHandler) list() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, e := range h.events {
		out = append(out, e.String())
	}
	return out
}

func (h *recHandler) find(kind string) (event, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range h.events {
		if e.kind == kind {
			return e, true
		}
	}
	return event{}, false
}

// harness drives a Session the way a leg does: one Read per 20 ms of the
// fake clock, recording every frame.
type harness struct {
	t      testing.TB
	clk    *media.FakeClock
	s      *Session
	h      *recHandler
	set    *PromptSet
	n      int     // frames read
	audio  []int16 // every frame read, back to back
	frames []Frame // every frame's description
	buf    []int16
}

type testDir map[string]Room

func (d testDir) Lookup(n string) (Room, bool) {
	r, ok := d[n]
	return r, ok
}

func newHarness(t testing.TB, cfg Config) *harness {
	t.Helper()
	hs := &harness{t: t, clk: media.NewFakeClock(testEpoch), h: &recHandler{}}
	hs.h.frame = &hs.n
	if cfg.Prompts == nil {
		cfg.Prompts = testPrompts(t)
	}
	hs.set = cfg.Prompts
	if cfg.Handler == nil {
		cfg.Handler = hs.h
	}
	cfg.Clock = hs.clk
	s, err := NewSession(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs.s = s
	hs.buf = make([]int16, s.FrameSamples())
	return hs
}

// tick reads one frame, then advances the clock by a frame.
func (hs *harness) tick() Frame {
	f := hs.s.Read(hs.buf)
	hs.audio = append(hs.audio, hs.buf...)
	hs.frames = append(hs.frames, f)
	hs.n++
	hs.clk.Advance(media.FrameDuration)
	return f
}

func (hs *harness) ticks(n int) {
	for range n {
		hs.tick()
	}
}

// wait reads frames for d.
func (hs *harness) wait(d time.Duration) { hs.ticks(int(d / media.FrameDuration)) }

// idle reads frames until one is silent (the queue has drained), at most
// a minute's worth.
func (hs *harness) idle() {
	hs.t.Helper()
	for range 3000 {
		if !hs.tick().Audio {
			return
		}
	}
	hs.t.Fatal("prompts never stopped")
}

// keys types keys, one every 5 frames (100 ms), reading frames in between.
func (hs *harness) keys(keys string) {
	for _, r := range keys {
		hs.s.Digit(dtmf.Digit{Rune: r, Duration: 80 * time.Millisecond, Start: hs.clk.Now()})
		hs.ticks(5)
	}
}

// burst types keys all at once, then reads one frame.
func (hs *harness) burst(keys string) {
	for _, r := range keys {
		hs.s.Digit(dtmf.Digit{Rune: r})
	}
	hs.tick()
}

// started returns the names of the prompts that started playing, in order.
func (hs *harness) started() []string {
	var out []string
	for _, f := range hs.frames {
		if f.Started != "" {
			out = append(out, f.Started)
		}
	}
	return out
}

// spurts splits the audio read into talk-spurts: runs of frames with
// Audio set.
func (hs *harness) spurts() (spurts [][]int16, firstFrame []int) {
	fs := len(hs.buf)
	for i, f := range hs.frames {
		if !f.Audio {
			continue
		}
		if i == 0 || !hs.frames[i-1].Audio {
			spurts = append(spurts, nil)
			firstFrame = append(firstFrame, i)
		}
		spurts[len(spurts)-1] = append(spurts[len(spurts)-1], hs.audio[i*fs:(i+1)*fs]...)
	}
	return spurts, firstFrame
}

// concat returns the named prompts back to back, padded with zeros to a
// whole number of frames: what a talk-spurt of them must hold exactly.
func (hs *harness) concat(names ...string) []int16 {
	var v []int16
	for _, n := range names {
		p, ok := hs.set.Get(n)
		if !ok {
			hs.t.Fatalf("no prompt %s", n)
		}
		v = append(v, p.Samples()...)
	}
	fs := len(hs.buf)
	return append(v, make([]int16, (fs-len(v)%fs)%fs)...)
}

func firstDiff(a, b []int16) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("sample %d: got %d, want %d", i, a[i], b[i])
		}
	}
	if len(a) != len(b) {
		return fmt.Sprintf("got %d samples, want %d", len(a), len(b))
	}
	return ""
}

func mustHash(t testing.TB, pin string) string {
	t.Helper()
	h, err := HashPIN(pin)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func join(s []string) string { return strings.Join(s, ", ") }
