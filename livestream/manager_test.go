package livestream

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/setbridge/setbridge/media"
)

func TestBackoffDoublesUpToMax(t *testing.T) {
	m := New(Config{Tap: func(string, func(uint64, []int16)) func() { return func() {} }})
	s := &stream{m: m}
	tests := []struct {
		give int
		want time.Duration
	}{
		{1, 500 * time.Millisecond}, {2, time.Second}, {3, 2 * time.Second},
		{7, 30 * time.Second}, {50, 30 * time.Second},
	}
	for _, tt := range tests {
		if got := s.backoff(tt.give); got != tt.want {
			t.Errorf("backoff(%d) = %v, want %v", tt.give, got, tt.want)
		}
	}
}

// scriptPusher plays a script: each push takes the next step; "fail"
// returns an error at once, "live" goes live and waits for drop (or the
// stream's end), "hold" goes live and stays until stopped.
type scriptPusher struct {
	pcm   bool
	mu    sync.Mutex
	steps []string
	drop  chan struct{}
	got   atomic.Int64 // frames received
}

func (p *scriptPusher) wantsPCM() bool { return p.pcm }
func (p *scriptPusher) slotSize() int  { return 2000 }

func (p *scriptPusher) push(ctx context.Context, r *frameRing, live func(), sent *atomic.Uint64) error {
	p.mu.Lock()
	step := "hold"
	if len(p.steps) > 0 {
		step, p.steps = p.steps[0], p.steps[1:]
	}
	p.mu.Unlock()
	if step == "fail" {
		return errors.New("connection refused")
	}
	live()
	buf := make([]byte, 2000)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-p.drop:
			if step == "live" {
				return errors.New("server went away")
			}
		case <-r.ready:
			for {
				n, ok := r.pop(buf)
				if !ok {
					break
				}
				p.got.Add(1)
				sent.Add(uint64(n))
			}
		}
	}
}

func TestStreamStatesThroughLossAndFailure(t *testing.T) {
	states := newStateLog()
	m := New(Config{
		Tap:        func(string, func(uint64, []int16)) func() { return func() {} },
		Clock:      media.SystemClock{},
		Logger:     testLogger(t),
		OnState:    states.onState,
		BackoffMin: time.Millisecond, BackoffMax: 2 * time.Millisecond, MaxAttempts: 3,
	})
	defer m.Close()
	p := &scriptPusher{steps: []string{"fail", "fail", "live", "fail", "fail", "fail"}, drop: make(chan struct{})}
	m.pusherHook = func(target, Request) pusher { return p }
	in, err := m.Start("r", Request{Target: "http://h/m"})
	if err != nil {
		t.Fatal(err)
	}
	// Two failures (fewer than MaxAttempts) and then live: attempts reset.
	n, live := states.wait(t, in.ID, StateLive, 0, 5*time.Second)
	if live.Attempts != 0 {
		t.Errorf("live with attempts %d", live.Attempts)
	}
	close(p.drop)
	n, _ = states.wait(t, in.ID, StateReconnecting, n, 5*time.Second)
	// Three more failures after the loss: failed.
	_, failed := states.wait(t, in.ID, StateFailed, n, 5*time.Second)
	if failed.Attempts != 3 || failed.LastError != "connection refused" {
		t.Errorf("failed: %+v", failed)
	}
	if got, _ := m.Get(in.ID); got.State != StateFailed {
		t.Errorf("Get after failure: %+v", got)
	}
	if err := m.Stop(in.ID); err != nil {
		t.Fatal(err)
	}
	if err := m.Stop(in.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Stop = %v, want ErrNotFound", err)
	}
}

// TestOneEncodePerTickPerRoom: however many Opus streams a room has, the
// mix is encoded once per tick, and every stream gets every packet.
func TestOneEncodePerTickPerRoom(t *testing.T) {
	var mu sync.Mutex
	taps := map[string][]func(uint64, []int16){}
	tapCalls := 0
	tap := func(room string, fn func(uint64, []int16)) func() {
		mu.Lock()
		defer mu.Unlock()
		tapCalls++
		taps[room] = append(taps[room], fn)
		return func() {
			mu.Lock()
			defer mu.Unlock()
			delete(taps, room)
		}
	}
	// A fake clock that is never advanced: no silence is filled in.
	states := newStateLog()
	m := New(Config{Tap: tap, Clock: media.NewFakeClock(time.Unix(0, 0)), Logger: testLogger(t), BufferFrames: 100,
		OnState: states.onState})
	defer m.Close()
	var pushers []*scriptPusher
	m.pusherHook = func(t target, _ Request) pusher {
		p := &scriptPusher{pcm: t.kind == KindRTMP, drop: make(chan struct{})}
		pushers = append(pushers, p)
		return p
	}
	starts := []struct{ room, target string }{
		{"a", "http://h/1"}, {"a", "http://h/2"}, {"a", "http://h/3"}, {"a", "rtmp://h/l/1"}, {"a", "rtmp://h/l/2"},
		{"b", "http://h/4"},
	}
	for _, s := range starts {
		in, err := m.Start(s.room, Request{Target: s.target})
		if err != nil {
			t.Fatal(err)
		}
		// A connection starts with an empty ring: wait until it is up.
		states.wait(t, in.ID, StateLive, 0, 5*time.Second)
	}
	if tapCalls != 2 {
		t.Errorf("tapped %d times, want once per room", tapCalls)
	}
	frame := make([]int16, 960)
	const ticks = 40
	for i := range ticks {
		mu.Lock()
		for _, fns := range taps {
			for _, fn := range fns {
				fn(uint64(i+1), frame)
			}
		}
		mu.Unlock()
	}
	st := m.Stats()
	if st.OpusEncodes != 2*ticks || st.PCMFrames != ticks {
		t.Errorf("stats %+v: want %d Opus encodes (one per tick per room) and %d PCM frames", st, 2*ticks, ticks)
	}
	// Every stream receives every frame.
	deadline := time.Now().Add(5 * time.Second)
	for _, p := range pushers {
		for p.got.Load() < ticks && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if got := p.got.Load(); got != ticks {
			t.Errorf("a stream got %d frames, want %d", got, ticks)
		}
	}
	if n := len(m.List("a")); n != 5 {
		t.Errorf("List(a) has %d streams", n)
	}
	if n := len(m.List("")); n != 6 {
		t.Errorf("List() has %d streams", n)
	}
}

// TestSlowStreamDropsInsteadOfBlocking: a stream that does not read fills
// its ring; the tap keeps returning and counts drops.
func TestSlowStreamDropsInsteadOfBlocking(t *testing.T) {
	r := newFrameRing(4, 10)
	for i := range 10 {
		ok := r.push([]byte{byte(i)})
		if want := i < 4; ok != want {
			t.Errorf("push %d = %v, want %v", i, ok, want)
		}
	}
	if r.drops() != 6 {
		t.Errorf("drops = %d, want 6", r.drops())
	}
	buf := make([]byte, 10)
	for i := range 4 {
		n, ok := r.pop(buf)
		if !ok || n != 1 || buf[0] != byte(i) {
			t.Errorf("pop %d = %v %d %v", i, buf[0], n, ok)
		}
	}
	if _, ok := r.pop(buf); ok {
		t.Error("pop from an empty ring")
	}
	if r.push(make([]byte, 11)) {
		t.Error("an oversized frame was accepted")
	}
}

func TestStartRejects(t *testing.T) {
	tests := []struct {
		name    string
		give    Config
		room    string
		target  string
		wantErr error
	}{
		{name: "a bad target", room: "r", target: "ftp://h/x", wantErr: ErrBadTarget},
		{name: "an empty room", room: "", target: "http://h/m", wantErr: ErrBadTarget},
		{name: "a mix rate Opus cannot take", give: Config{Rate: 44100}, room: "r", target: "http://h/m", wantErr: ErrBadRate},
		{name: "whip with a user name but no token", room: "r", target: "whip+http://tok@h/w", wantErr: ErrBadTarget},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.give.Tap = func(string, func(uint64, []int16)) func() { return func() {} }
			m := New(tt.give)
			defer m.Close()
			if _, err := m.Start(tt.room, Request{Target: tt.target}); !errors.Is(err, tt.wantErr) {
				t.Errorf("Start = %v, want %v", err, tt.wantErr)
			}
		})
	}
	m := New(Config{Tap: func(string, func(uint64, []int16)) func() { return func() {} }})
	m.Close()
	if _, err := m.Start("r", Request{Target: "http://h/m"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Close = %v", err)
	}
}
