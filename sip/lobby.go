package sip

import (
	"sync"

	"github.com/setbridge/setbridge/media"
)

// lobby ticks the calls that are not in a room yet (those talking to the
// IVR) on one shared 20 ms clock, as a room's mixer ticks its members: each
// tick it reads the caller's frame (which runs the jitter buffer and the
// DTMF detectors) and writes the frame the lobby member wants played.
type lobby struct {
	clock media.Clock
	rate  int

	mu      sync.Mutex
	members map[*lobbyMember]struct{} // guarded by mu
	tickSet []*lobbyMember            // the tick goroutine's copy
	dirty   bool                      // guarded by mu

	in, out []int16 // owned by the tick goroutine
	done    chan struct{}
	wg      sync.WaitGroup
}

// lobbyMember pairs a leg with what it should hear.
type lobbyMember struct {
	leg    media.Participant
	source media.Uplink // the audio to play; silence when it has none
}

func newLobby(clock media.Clock, rate int) *lobby {
	l := &lobby{clock: clock, rate: rate, members: map[*lobbyMember]struct{}{}, done: make(chan struct{}),
		in: make([]int16, media.FrameSamples(rate)), out: make([]int16, media.FrameSamples(rate))}
	l.wg.Add(1)
	go func() { defer l.wg.Done(); l.run() }()
	return l
}

func (l *lobby) add(m *lobbyMember) {
	l.mu.Lock()
	l.members[m] = struct{}{}
	l.dirty = true
	l.mu.Unlock()
}

func (l *lobby) remove(m *lobbyMember) {
	l.mu.Lock()
	delete(l.members, m)
	l.dirty = true
	l.mu.Unlock()
}

func (l *lobby) run() {
	t := l.clock.NewTicker(media.FrameDuration)
	defer t.Stop()
	for {
		select {
		case <-l.done:
			return
		case <-t.C():
			l.tick()
		}
	}
}

func (l *lobby) tick() {
	l.mu.Lock()
	if l.dirty {
		l.tickSet = l.tickSet[:0]
		for m := range l.members {
			l.tickSet = append(l.tickSet, m)
		}
		l.dirty = false
	}
	l.mu.Unlock()
	for _, m := range l.tickSet {
		m.leg.ReadFrame(l.in)
		if m.source == nil || !m.source.ReadFrame(l.out) {
			clear(l.out)
		}
		m.leg.WriteFrame(l.out)
	}
}

func (l *lobby) close() {
	close(l.done)
	l.wg.Wait()
}
