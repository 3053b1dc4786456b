package media

// JitterStatus says what Pop found at the playout point.
type JitterStatus int

const (
	// JitterEmpty means nothing is ready to play: the buffer is filling
	// (at the start or after an underrun). Play nothing.
	JitterEmpty JitterStatus = iota
	// JitterPacket means the next packet is returned.
	JitterPacket
	// JitterLost means the next packet is missing while later ones have
	// arrived: conceal one packet time and move on.
	JitterLost
)

// jitterSlots is the ring size; it bounds how far ahead of the playout
// point a packet may arrive (32 packets: 640 ms at 20 ms).
const jitterSlots = 32

// MaxJitterPayload is the largest payload the jitter buffer keeps; larger
// ones are dropped and counted.
const MaxJitterPayload = 1024

type jitterSlot struct {
	seq   uint16
	valid bool
	n     int
	data  [MaxJitterPayload]byte
}

// JitterStats counts what a JitterBuffer saw.
type JitterStats struct {
	Pushed, Played, Lost, Late, Duplicate, Oversize, Underruns uint64
}

// JitterBuffer reorders RTP payloads by sequence number and releases them
// at the pace of whoever calls Pop (the playout clock, which is the mixer's
// 20 ms tick). It starts playing once Depth packets are queued, and refills
// to Depth after an underrun. It copies payloads, does not allocate after
// construction, and is not safe for concurrent use.
type JitterBuffer struct {
	// Depth is the number of packets held before playout starts (default 2).
	Depth int

	slots     [jitterSlots]jitterSlot
	started   bool
	buffering bool
	next      uint16 // sequence number to play next
	held      int    // valid slots
	stats     JitterStats
}

// NewJitterBuffer returns a buffer that starts playing after depth packets.
func NewJitterBuffer(depth int) *JitterBuffer {
	if depth <= 0 {
		depth = 2
	}
	return &JitterBuffer{Depth: depth, buffering: true}
}

// Push stores one payload.
func (j *JitterBuffer) Push(seq uint16, payload []byte) {
	if len(payload) > MaxJitterPayload {
		j.stats.Oversize++
		return
	}
	if !j.started {
		j.started, j.next = true, seq
	}
	ahead := int16(seq - j.next)
	switch {
	case ahead < 0 && j.buffering && int(-ahead) < jitterSlots/2:
		// Not playing yet: an earlier packet moves the start back.
		j.next = seq
	case ahead < 0:
		j.stats.Late++
		return
	case int(ahead) >= jitterSlots:
		// The stream jumped (a new source, or a long gap): start over.
		j.resync(seq)
	}
	s := &j.slots[seq%jitterSlots]
	if s.valid && s.seq == seq {
		j.stats.Duplicate++
		return
	}
	if !s.valid {
		j.held++
	}
	s.seq, s.valid, s.n = seq, true, copy(s.data[:], payload)
	j.stats.Pushed++
}

func (j *JitterBuffer) resync(seq uint16) {
	for i := range j.slots {
		j.slots[i].valid = false
	}
	j.held, j.next, j.buffering = 0, seq, true
}

// Pop returns the payload at the playout point. The returned slice is valid
// until the next Push.
func (j *JitterBuffer) Pop() ([]byte, JitterStatus) {
	if j.held == 0 {
		if !j.buffering && j.started {
			j.stats.Underruns++
		}
		j.buffering = true
		return nil, JitterEmpty
	}
	if j.buffering {
		if j.held < j.Depth {
			return nil, JitterEmpty
		}
		j.buffering = false
		// Start at the oldest held packet.
		for !j.slots[j.next%jitterSlots].valid || j.slots[j.next%jitterSlots].seq != j.next {
			j.next++
		}
	}
	s := &j.slots[j.next%jitterSlots]
	j.next++
	if s.valid && s.seq == j.next-1 {
		s.valid = false
		j.held--
		j.stats.Played++
		return s.data[:s.n], JitterPacket
	}
	j.stats.Lost++
	return nil, JitterLost
}

// Stats returns the counters so far.
func (j *JitterBuffer) Stats() JitterStats { return j.stats }
