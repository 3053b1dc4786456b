package livestream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// pusher is one kind of connection: it connects, calls live once the
// server has accepted the stream, and sends the ring's frames until ctx is
// done (returning nil) or the connection fails (returning why).
type pusher interface {
	push(ctx context.Context, r *frameRing, live func(), sent *atomic.Uint64) error
	// wantsPCM reports whether the pusher takes s16le PCM frames rather
	// than the shared Opus packets.
	wantsPCM() bool
	// slotSize is the largest frame the pusher takes.
	slotSize() int
}

func (m *Manager) newPusher(t target, req Request) (pusher, error) {
	if m.pusherHook != nil {
		return m.pusherHook(t, req), nil
	}
	switch t.kind {
	case KindIcecast:
		return &icecastPusher{cfg: &m.cfg, u: t.u, title: req.Name}, nil
	case KindRTMP:
		return &rtmpPusher{cfg: &m.cfg, u: t.u}, nil
	case KindWHIP:
		p, err := newWHIPPusher(&m.cfg, t)
		if err != nil {
			return nil, err
		}
		return p, nil
	}
	return nil, fmt.Errorf("%w: %s push is not implemented yet", ErrBadTarget, t.kind)
}

// stream is one live stream and its goroutine.
type stream struct {
	m      *Manager
	log    *slog.Logger
	pusher pusher
	ring   *frameRing
	pcm    bool
	cancel context.CancelFunc
	done   chan struct{} // closed when run returns
	sent   atomic.Uint64
	once   sync.Once

	mu   sync.Mutex
	info Info // guarded by mu (BytesSent and DroppedFrames filled in by snapshot)
}

func (s *stream) snapshot() Info {
	s.mu.Lock()
	in := s.info
	s.mu.Unlock()
	in.BytesSent = s.sent.Load()
	in.DroppedFrames = s.ring.drops()
	return in
}

// update changes the info under the lock and, if the state changed,
// reports it to OnState.
func (s *stream) update(f func(in *Info)) {
	s.mu.Lock()
	old := s.info.State
	f(&s.info)
	changed := s.info.State != old
	s.mu.Unlock()
	if changed && s.m.cfg.OnState != nil {
		s.m.cfg.OnState(s.snapshot())
	}
}

// stop cancels the stream, waits for its goroutine and reports "stopped".
func (s *stream) stop() {
	s.once.Do(func() {
		s.cancel()
		<-s.done
		s.m.detach(s)
		s.update(func(in *Info) {
			in.State = StateStopped
			in.LiveSince = time.Time{}
		})
		s.log.Info("live stream stopped", "bytes_sent", s.sent.Load(), "dropped_frames", s.ring.drops())
	})
}

// backoff is the wait after the n-th consecutive failure (n >= 1).
func (s *stream) backoff(n int) time.Duration {
	d := s.m.cfg.BackoffMin
	for i := 1; i < n && d < s.m.cfg.BackoffMax; i++ {
		d *= 2
	}
	return min(d, s.m.cfg.BackoffMax)
}

// run connects and reconnects until ctx is done or the stream fails.
func (s *stream) run(ctx context.Context) {
	defer close(s.done)
	cfg := &s.m.cfg
	failures := 0
	for {
		s.ring.reset()
		wentLive := false
		err := s.pusher.push(ctx, s.ring, func() {
			wentLive = true
			failures = 0
			s.update(func(in *Info) {
				in.State = StateLive
				in.Attempts = 0
				in.LiveSince = cfg.Clock.Now()
			})
			s.log.Info("live stream is live")
		}, &s.sent)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("connection ended")
		}
		var wait time.Duration
		if wentLive {
			wait = cfg.BackoffMin
			s.log.Warn("live stream lost its server; reconnecting", "err", err, "retry_in", wait)
		} else {
			failures++
			if failures >= cfg.MaxAttempts {
				s.update(func(in *Info) {
					in.State = StateFailed
					in.Attempts = failures
					in.LastError = err.Error()
					in.LiveSince = time.Time{}
				})
				s.log.Error("live stream failed: giving up", "attempts", failures, "err", err)
				s.m.detach(s)
				return
			}
			wait = s.backoff(failures)
			s.log.Warn("live stream connect failed", "attempt", failures, "max_attempts", cfg.MaxAttempts,
				"err", err, "retry_in", wait)
		}
		s.update(func(in *Info) {
			if wentLive || in.State == StateLive {
				in.State = StateReconnecting
			}
			in.Attempts = failures
			in.LastError = err.Error()
			in.LiveSince = time.Time{}
		})
		if !s.sleep(ctx, wait) {
			return
		}
	}
}

// sleep waits d on the configured clock; it reports false if ctx ended
// first.
func (s *stream) sleep(ctx context.Context, d time.Duration) bool {
	ch := make(chan struct{})
	t := s.m.cfg.Clock.AfterFunc(d, func() { close(ch) })
	select {
	case <-ch:
		return true
	case <-ctx.Done():
		t.Stop()
		return false
	}
}
