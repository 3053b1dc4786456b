package media

import (
	"sync"
	"time"
)

// Clock is the source of time for everything whose behaviour depends on it,
// so that tests can run on a FakeClock.
type Clock interface {
	Now() time.Time
	// NewTicker returns a ticker that fires every d.
	NewTicker(d time.Duration) Ticker
	// AfterFunc calls f in its own goroutine after d.
	AfterFunc(d time.Duration, f func()) Timer
}

// Ticker delivers ticks on C until stopped.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// Timer is a pending AfterFunc call.
type Timer interface {
	// Stop prevents the call if it has not started; it reports whether it did.
	Stop() bool
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// NewTicker wraps time.NewTicker.
func (SystemClock) NewTicker(d time.Duration) Ticker { return sysTicker{time.NewTicker(d)} }

// AfterFunc wraps time.AfterFunc.
func (SystemClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

type sysTicker struct{ t *time.Ticker }

func (t sysTicker) C() <-chan time.Time { return t.t.C }
func (t sysTicker) Stop()               { t.t.Stop() }

// FakeClock is a Clock that moves only when Advance is called. Tickers
// deliver one tick per elapsed period (blocking until it is received, so a
// test that advances by ten periods sees exactly ten ticks), and AfterFunc
// callbacks run synchronously inside Advance.
type FakeClock struct {
	mu      sync.Mutex
	now     time.Time     // guarded by mu
	tickers []*fakeTicker // guarded by mu
	timers  []*fakeTimer  // guarded by mu
}

// NewFakeClock returns a FakeClock set to start.
func NewFakeClock(start time.Time) *FakeClock { return &FakeClock{now: start} }

// Now returns the fake time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTicker returns a ticker driven by Advance.
func (c *FakeClock) NewTicker(d time.Duration) Ticker {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTicker{c: make(chan time.Time), period: d, next: c.now.Add(d), stop: make(chan struct{})}
	c.tickers = append(c.tickers, t)
	return t
}

// AfterFunc schedules f to run inside the Advance that passes now+d.
func (c *FakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

// Advance moves the clock forward by d, firing tickers and timers in time
// order.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		var at time.Time
		var fire func()
		for _, t := range c.tickers {
			if t.stopped || t.next.After(end) {
				continue
			}
			if fire == nil || t.next.Before(at) {
				t := t
				at = t.next
				fire = func() {
					t.next = t.next.Add(t.period)
					c.mu.Unlock()
					ok := t.deliver(at)
					c.mu.Lock()
					t.stopped = t.stopped || !ok
				}
			}
		}
		for i, tm := range c.timers {
			if tm.at.After(end) {
				continue
			}
			if fire == nil || tm.at.Before(at) {
				i, tm := i, tm
				at = tm.at
				fire = func() {
					c.timers = append(c.timers[:i:i], c.timers[i+1:]...)
					c.mu.Unlock()
					tm.f()
					c.mu.Lock()
				}
			}
		}
		if fire == nil {
			c.now = end
			c.mu.Unlock()
			return
		}
		c.now = at
		fire()
		c.mu.Unlock()
	}
}

type fakeTicker struct {
	c       chan time.Time
	period  time.Duration
	next    time.Time // guarded by the clock's mu
	stopped bool      // guarded by the clock's mu
	stop    chan struct{}
	once    sync.Once
}

func (t *fakeTicker) C() <-chan time.Time { return t.c }

func (t *fakeTicker) Stop() {
	t.once.Do(func() { close(t.stop) })
}

// deliver hands the tick to the receiver; it reports false once stopped.
func (t *fakeTicker) deliver(at time.Time) bool {
	select {
	case t.c <- at:
		return true
	case <-t.stop:
		return false
	}
}

type fakeTimer struct {
	c  *FakeClock
	at time.Time
	f  func()
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	for i, x := range t.c.timers {
		if x == t {
			t.c.timers = append(t.c.timers[:i:i], t.c.timers[i+1:]...)
			return true
		}
	}
	return false
}
