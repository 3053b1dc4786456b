package recorder

import "sync/atomic"

// streamMix is the stream index of the mix; tracks are 1, 2, ...
const streamMix = 0

// Pause reasons, as bits of slot.pause.
const (
	pauseAPI uint8 = 1 << iota
	pausePIN
)

// slot is one preallocated frame in the ring.
type slot struct {
	tick   uint64
	stream int32
	pause  uint8   // pause bits in force for the tick; samples unused when set
	pcm    []int16 // one frame; valid unless pause != 0
}

// ring is a bounded single-consumer queue of frames. Producers push under
// the Recorder's mu (so pushes are serialised); the writer goroutine is the
// only consumer. Slots are preallocated: pushing copies a frame into the
// next free slot and never allocates.
type ring struct {
	slots []slot
	head  atomic.Uint64 // next slot to fill; written by producers under mu
	tail  atomic.Uint64 // next slot to read; written by the writer only
}

func newRing(n, frameSamples int) *ring {
	r := &ring{slots: make([]slot, n)}
	buf := make([]int16, n*frameSamples)
	for i := range r.slots {
		r.slots[i].pcm = buf[i*frameSamples : (i+1)*frameSamples : (i+1)*frameSamples]
	}
	return r
}

// push copies a frame into the ring. It reports false, and changes
// nothing, when the ring is full. A pcm of the wrong length is cut or
// padded with silence.
func (r *ring) push(tick uint64, stream int32, pause uint8, pcm []int16) bool {
	h := r.head.Load()
	if h-r.tail.Load() >= uint64(len(r.slots)) {
		return false
	}
	s := &r.slots[h%uint64(len(r.slots))]
	s.tick, s.stream, s.pause = tick, stream, pause
	if pause == 0 {
		n := copy(s.pcm, pcm)
		clear(s.pcm[n:])
	}
	r.head.Store(h + 1)
	return true
}

// empty reports whether the writer has taken every pushed frame.
func (r *ring) empty() bool { return r.tail.Load() == r.head.Load() }
