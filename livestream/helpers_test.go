package livestream

import (
	"errors"
	"math"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/setbridge/setbridge/internal/audiotest"
	"github.com/setbridge/setbridge/media"
)

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}

// sineTap is a Tap that plays a sine into every subscribed room every
// 20 ms of real time, like a phone playing a tone in the room.
type sineTap struct {
	rate int
	freq float64

	mu   sync.Mutex
	subs map[int]func(uint64, []int16) // guarded by mu
	next int                           // guarded by mu

	quit chan struct{}
	wg   sync.WaitGroup
}

func newSineTap(rate int, freq float64) *sineTap {
	s := &sineTap{rate: rate, freq: freq, subs: map[int]func(uint64, []int16){}, quit: make(chan struct{})}
	s.wg.Go(s.run)
	return s
}

func (s *sineTap) tap(room string, fn func(uint64, []int16)) func() {
	s.mu.Lock()
	id := s.next
	s.next++
	s.subs[id] = fn
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		delete(s.subs, id)
		s.mu.Unlock()
	}
}

func (s *sineTap) run() {
	n := media.FrameSamples(s.rate)
	frame := make([]int16, n)
	tk := time.NewTicker(media.FrameDuration)
	defer tk.Stop()
	var tick uint64
	var phase float64
	for {
		select {
		case <-s.quit:
			return
		case <-tk.C:
		}
		tick++
		for i := range frame {
			frame[i] = int16(0.5 * 32767 * math.Sin(phase))
			phase += 2 * math.Pi * s.freq / float64(s.rate)
		}
		phase = math.Mod(phase, 2*math.Pi)
		s.mu.Lock()
		for _, fn := range s.subs {
			fn(tick, frame)
		}
		s.mu.Unlock()
	}
}

func (s *sineTap) close() {
	close(s.quit)
	s.wg.Wait()
}

// stateLog records every Info that OnState reports and lets a test wait
// for a stream to reach a state.
type stateLog struct {
	mu     sync.Mutex
	seen   []Info
	signal chan struct{} // closed and replaced on every report
}

func newStateLog() *stateLog { return &stateLog{signal: make(chan struct{})} }

func (l *stateLog) onState(in Info) {
	l.mu.Lock()
	l.seen = append(l.seen, in)
	close(l.signal)
	l.signal = make(chan struct{})
	l.mu.Unlock()
}

// wait waits until stream id has reported state after the first `after`
// reports, and returns that report's index and Info.
func (l *stateLog) wait(t testing.TB, id string, state State, after int, timeout time.Duration) (int, Info) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		for i := after; i < len(l.seen); i++ {
			if l.seen[i].ID == id && l.seen[i].State == state {
				in := l.seen[i]
				l.mu.Unlock()
				return i, in
			}
		}
		sig := l.signal
		var states []State
		for _, in := range l.seen {
			states = append(states, in.State)
		}
		l.mu.Unlock()
		select {
		case <-sig:
		case <-deadline.C:
			t.Fatalf("stream %s did not reach %q within %v; states so far: %v", id, state, timeout, states)
		}
	}
}

// checkTone asserts that pcm (after its first 300 ms) carries 440 Hz.
func checkTone(t *testing.T, what string, pcm []int16) {
	t.Helper()
	skip := 48000 * 3 / 10
	if len(pcm) < skip+48000 {
		t.Fatalf("%s: only %d samples read back", what, len(pcm))
	}
	body := pcm[skip:]
	tone := audiotest.ToneLevelDB(body, 48000, 440)
	other := audiotest.ToneLevelDB(body, 48000, 1000)
	t.Logf("%s: %.2f s read, 440 Hz at %.1f dBFS, 1 kHz at %.1f dBFS, RMS %.1f dBFS",
		what, float64(len(pcm))/48000, tone, other, audiotest.RMSdBFS(body))
	if tone < -12 || tone-other < 30 {
		t.Errorf("%s: 440 Hz tone not found (440 Hz %.1f dBFS, 1 kHz %.1f dBFS)", what, tone, other)
	}
}
