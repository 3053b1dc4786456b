package dtmf

import "time"

// Timeouts used by [Receiver] to end an event whose end packets never arrive.
//
// A sender updates an ongoing event once per packetization interval (usually
// the audio ptime, 20 ms, or 50 ms). The receiver measures that
// interval from the duration increase between two packets with consecutive
// sequence numbers, and ends the event when no packet for it has arrived for
// three intervals, clamped to [MinEventTimeout, MaxEventTimeout]. Three
// intervals tolerate one lost update plus jitter; the lower bound keeps a
// 20 ms sender from being cut off by ordinary jitter, and the upper bound
// keeps a sender with odd durations from delaying the digit for long.
// Until an interval has been measured, [DefaultUpdateInterval] is assumed,
// giving a 150 ms timeout.
//
// Ending an event early is harmless for deduplication: later packets of the
// event are recognised by their timestamp and ignored; only the reported
// duration is shorter.
const (
	DefaultUpdateInterval = 50 * time.Millisecond
	MinEventTimeout       = 100 * time.Millisecond
	MaxEventTimeout       = time.Second
)

// maxSegment is the largest duration one event segment can carry.
const maxSegment = 0xFFFF

// Digit is a DTMF key press reported by a [Receiver].
type Digit struct {
	// Rune is one of '0'-'9', '*', '#', 'A'-'D'.
	Rune rune
	// Duration is the largest duration the sender reported for the event,
	// summed over all segments of a long event. It is the full key press
	// if an end packet arrived, and the duration known so far if the event
	// was ended by timeout.
	Duration time.Duration
	// Start is the local time (as passed to Push) at which the first packet
	// received for the event arrived.
	Start time.Time
}

// Receiver turns the telephone-event packets of one RTP stream (one SSRC)
// into digits, reporting each key press exactly once.
//
// Rules, following RFC 4733 §2.5.2:
//
//   - An event is identified by its RTP timestamp: all packets of one event
//     carry the timestamp of its start, and each new event gets a new one.
//   - A digit is reported at the first packet with the E bit. The repeated end
//     packets (normally three), duplicates and late packets of a reported
//     event are ignored.
//   - If every end packet is lost, the digit is reported once, with the last
//     known duration, when no packet for the event has arrived for the event
//     timeout (see [MinEventTimeout]) — by [Receiver.Tick], or by
//     [Receiver.Push] — or as soon as a packet of a newer event arrives.
//   - Events are ordered by timestamp (serial number arithmetic, so the
//     timestamp may wrap). A packet whose timestamp is older than the newest
//     event seen is a late packet of a past event and is ignored, so a
//     reordered packet can never resurrect a reported digit. Packets of one
//     event may arrive in any order: the largest duration wins.
//   - A long event split into segments (§2.5.1.3) is reported once: a packet
//     with a new timestamp is taken as the next segment of the current event
//     if the current event has the same code, has not ended, and the new
//     timestamp is exactly the current one plus 0xFFFF or plus the largest
//     duration seen (a same-code tone that continues without a gap cannot be
//     a new key press).
//   - Events with codes above 15 (hook flash and tones) are tracked the same
//     way, so they end a pending digit, but are never reported.
//   - Only the first event block of a payload is decoded; packing several
//     events into one packet (§2.5.1.5) is rarely used and not supported.
//
// Because events are ordered by timestamp, a timestamp that jumps backwards
// would make the receiver ignore events until the timestamp has passed the
// newest one seen. RTP timestamps are monotonic within an SSRC, so the RTP
// leg must call [Receiver.Reset] (or use a new Receiver) when the SSRC
// changes or it detects a timestamp discontinuity.
//
// Two digits can become due at once (a pending digit ended by the arrival of
// a new event whose first packet already has the E bit); Push then returns
// the older one and keeps the newer one for the next Tick. Call Tick
// regularly, for example once per packetization interval; Tick returns
// queued digits before timing out the current event.
//
// The zero Receiver is not usable; create one with [NewReceiver].
type Receiver struct {
	clockRate uint32
	// interval is the measured update interval of the sender; 0 if unknown.
	interval time.Duration

	// The newest event seen.
	active  bool      // an event has been seen since creation or Reset
	ts      uint32    // RTP timestamp of the event (of its latest segment)
	code    uint8     // event code
	base    uint64    // ticks in earlier segments of the same event
	dur     uint16    // largest duration seen in the current segment
	ended   bool      // an end packet has been seen
	done    bool      // reported (or suppressed); later packets are ignored
	start   time.Time // arrival of the first packet of the event
	last    time.Time // arrival of the latest packet of the event
	prevSeq uint16    // sequence number of the latest packet of the event
	prevDur uint16    // duration carried by that packet

	// Digits due but not returned yet. At most one digit is left here
	// between calls (see the comment in enqueue), so two slots suffice.
	queue [2]Digit
	head  int
	n     int
}

// NewReceiver returns a Receiver for a telephone-event stream with the given
// RTP clock rate (8000 for the usual telephone-event/8000; it must match the
// rate negotiated in SDP). A zero clock rate is taken as 8000.
func NewReceiver(clockRate uint32) *Receiver {
	if clockRate == 0 {
		clockRate = 8000
	}
	return &Receiver{clockRate: clockRate}
}

// Reset forgets all state, including any digit not yet returned, as if the
// Receiver were new. Call it when the SSRC of the stream changes.
func (r *Receiver) Reset() {
	*r = Receiver{clockRate: r.clockRate}
}

// Push processes one telephone-event RTP packet: its sequence number, its
// RTP timestamp, its payload (the RTP payload, after the header) and its
// arrival time. It returns a digit if one became due. A payload shorter than
// [EventSize] returns [ErrShortPayload] and changes nothing.
//
// Push does not allocate.
func (r *Receiver) Push(seq uint16, ts uint32, payload []byte, now time.Time) (d Digit, ok bool, err error) {
	var ev Event
	if err := ev.Unmarshal(payload); err != nil {
		return Digit{}, false, err
	}
	r.expire(now)
	r.handle(seq, ts, ev, now)
	d, ok = r.dequeue()
	return d, ok, nil
}

// Tick returns a digit that is due at time now: first any digit queued by
// Push, then the current event if no packet for it has arrived within the
// event timeout. Call it until it reports false to drain everything due.
func (r *Receiver) Tick(now time.Time) (Digit, bool) {
	if d, ok := r.dequeue(); ok {
		return d, true
	}
	r.expire(now)
	return r.dequeue()
}

// Flush returns any queued digit and then ends the current event without
// waiting for its timeout, for example when the call ends. Call it until it
// reports false.
func (r *Receiver) Flush() (Digit, bool) {
	if d, ok := r.dequeue(); ok {
		return d, true
	}
	if r.active && !r.done {
		r.report()
	}
	return r.dequeue()
}

func (r *Receiver) handle(seq uint16, ts uint32, ev Event, now time.Time) {
	if !r.active {
		r.begin(seq, ts, ev, now)
		return
	}
	if ts == r.ts {
		if r.done || ev.Code != r.code {
			// A repeated end packet, a duplicate, a late packet of a
			// reported event, or a packet contradicting the event
			// code: nothing to do.
			return
		}
		r.update(seq, ev, now)
		return
	}
	delta := ts - r.ts
	if int32(delta) < 0 {
		// Older than the newest event: a late packet of a past event.
		return
	}
	if r.continues(ev, delta) {
		r.base += uint64(delta)
		r.ts = ts
		r.dur = 0
		r.prevSeq = seq
		r.prevDur = ev.Duration
		r.update(seq, ev, now)
		return
	}
	if !r.done {
		r.report()
	}
	r.begin(seq, ts, ev, now)
}

// continues reports whether a packet whose timestamp is delta ticks after the
// current event's is the next segment of the current event (RFC 4733
// §2.5.1.3).
func (r *Receiver) continues(ev Event, delta uint32) bool {
	if r.ended || ev.Code != r.code || delta > maxSegment {
		return false
	}
	return delta == maxSegment || delta == uint32(r.dur)
}

func (r *Receiver) begin(seq uint16, ts uint32, ev Event, now time.Time) {
	r.active = true
	r.ts = ts
	r.code = ev.Code
	r.base = 0
	r.dur = ev.Duration
	r.ended = false
	r.done = false
	r.start = now
	r.last = now
	r.prevSeq = seq
	r.prevDur = ev.Duration
	if ev.End {
		r.ended = true
		r.report()
	}
}

// update applies a packet of the current, not yet reported, segment.
func (r *Receiver) update(seq uint16, ev Event, now time.Time) {
	if seq == r.prevSeq+1 && ev.Duration > r.prevDur {
		r.interval = r.ticks(uint64(ev.Duration - r.prevDur))
	}
	r.prevSeq = seq
	r.prevDur = ev.Duration
	if ev.Duration > r.dur {
		r.dur = ev.Duration
	}
	r.last = now
	if ev.End {
		r.ended = true
		if !r.done {
			r.report()
		}
	}
}

// expire ends the current event if it has timed out.
func (r *Receiver) expire(now time.Time) {
	if r.active && !r.done && now.Sub(r.last) >= r.timeout() {
		r.report()
	}
}

// timeout returns how long the current event may go without packets.
func (r *Receiver) timeout() time.Duration {
	iv := r.interval
	if iv <= 0 {
		iv = DefaultUpdateInterval
	}
	t := 3 * iv
	if t < MinEventTimeout {
		t = MinEventTimeout
	}
	if t > MaxEventTimeout {
		t = MaxEventTimeout
	}
	return t
}

// report marks the current event done and queues its digit, if it is one.
func (r *Receiver) report() {
	r.done = true
	c, ok := CodeToDigit(r.code)
	if !ok {
		return
	}
	r.enqueue(Digit{
		Rune:     c,
		Duration: r.ticks(r.base + uint64(r.dur)),
		Start:    r.start,
	})
}

// ticks converts RTP clock ticks to a duration.
func (r *Receiver) ticks(n uint64) time.Duration {
	// n stays far below 2^64/1e9 for any realistic event; saturate anyway.
	const limit = (1<<63 - 1) / uint64(time.Second)
	if n > limit {
		n = limit
	}
	return time.Duration(n * uint64(time.Second) / uint64(r.clockRate))
}

// enqueue appends a due digit.
//
// Between calls at most one digit is queued, and only while the current event
// is done: a call queues two digits only when it ends a pending event and the
// new event's first packet ends it too, leaving the new event done. While the
// current event is done, a call can queue at most one digit (from the next
// new event), and every call dequeues one. So the queue never holds more than
// two; the length check is a safety net.
func (r *Receiver) enqueue(d Digit) {
	if r.n == len(r.queue) {
		return
	}
	r.queue[(r.head+r.n)%len(r.queue)] = d
	r.n++
}

func (r *Receiver) dequeue() (Digit, bool) {
	if r.n == 0 {
		return Digit{}, false
	}
	d := r.queue[r.head]
	r.queue[r.head] = Digit{}
	r.head = (r.head + 1) % len(r.queue)
	r.n--
	return d, true
}
