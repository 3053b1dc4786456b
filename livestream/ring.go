package livestream

import "sync"

// frameRing hands encoded packets or PCM frames from a room's tick to one
// stream's goroutine: a fixed set of slots filled by push, which never
// blocks (a full ring drops the new frame and counts it), and emptied by
// pop. ready carries a wake-up of size one.
type frameRing struct {
	slotSize int
	ready    chan struct{}

	mu      sync.Mutex
	buf     []byte // guarded by mu: slots back to back
	lens    []int  // guarded by mu
	head    int    // guarded by mu: oldest slot
	n       int    // guarded by mu: slots in use
	dropped uint64 // guarded by mu
}

func newFrameRing(slots, slotSize int) *frameRing {
	return &frameRing{
		slotSize: slotSize,
		ready:    make(chan struct{}, 1),
		buf:      make([]byte, slots*slotSize),
		lens:     make([]int, slots),
	}
}

// push copies frame into the ring; it reports false, counting a drop, when
// the ring is full or frame is larger than a slot.
func (r *frameRing) push(frame []byte) bool {
	r.mu.Lock()
	if r.n == len(r.lens) || len(frame) > r.slotSize {
		r.dropped++
		r.mu.Unlock()
		return false
	}
	i := (r.head + r.n) % len(r.lens)
	r.lens[i] = copy(r.buf[i*r.slotSize:(i+1)*r.slotSize], frame)
	r.n++
	r.mu.Unlock()
	select {
	case r.ready <- struct{}{}:
	default:
	}
	return true
}

// pop copies the oldest frame into dst (at least slotSize long) and
// returns its length, or reports false when the ring is empty.
func (r *frameRing) pop(dst []byte) (int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == 0 {
		return 0, false
	}
	i := r.head
	n := copy(dst, r.buf[i*r.slotSize:i*r.slotSize+r.lens[i]])
	r.head = (r.head + 1) % len(r.lens)
	r.n--
	return n, true
}

// reset drops every frame held (not counted as drops): a new connection
// starts with the present, not with audio queued while it was down.
func (r *frameRing) reset() {
	r.mu.Lock()
	r.head, r.n = 0, 0
	r.mu.Unlock()
}

// drops returns the number of frames dropped so far.
func (r *frameRing) drops() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dropped
}
