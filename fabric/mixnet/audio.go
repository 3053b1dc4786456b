package mixnet

import (
	"encoding/binary"
	"fmt"

	"github.com/hraban/opus"
)

// rtpClock is the RTP clock of Opus (RFC 7587): 48 kHz whatever the PCM
// rate, so one 20 ms tick is 960 timestamp units.
const (
	rtpClock      = 48000
	tsPerTick     = rtpClock / 50
	payloadType   = 111
	opusBitrate   = 64000
	maxOpusPacket = 1275 // RFC 6716 §3.4
	rtpHeader     = 12
)

// The playout delay, in ticks, and how far a stream may drift from it
// before the playout jumps back to it.
const (
	playoutDelay = 2
	playoutSlack = 4
	ringSize     = 16
)

// encoder turns frames into RTP packets of one stream: Opus at the room's
// rate, timestamps from the sender's tick. It reuses its buffer: a packet
// is valid until the next call.
type encoder struct {
	enc *opus.Encoder
	seq uint16
	buf [rtpHeader + maxOpusPacket]byte
}

func newEncoder(rate int) (*encoder, error) {
	e, err := opus.NewEncoder(rate, 1, opus.AppAudio)
	if err != nil {
		return nil, fmt.Errorf("mixnet: opus encoder: %w", err)
	}
	if err := e.SetBitrate(opusBitrate); err != nil {
		return nil, fmt.Errorf("mixnet: opus bitrate: %w", err)
	}
	return &encoder{enc: e}, nil
}

// packet encodes pcm, the frame of tick, into an RTP packet.
func (e *encoder) packet(tick uint64, pcm []int16) ([]byte, error) {
	n, err := e.enc.Encode(pcm, e.buf[rtpHeader:])
	if err != nil {
		return nil, err
	}
	return e.wrap(tick, n), nil
}

// payload wraps an already encoded payload of tick into an RTP packet.
func (e *encoder) payload(tick uint64, p []byte) []byte {
	n := copy(e.buf[rtpHeader:], p)
	return e.wrap(tick, n)
}

func (e *encoder) wrap(tick uint64, n int) []byte {
	b := e.buf[:]
	b[0] = 0x80
	b[1] = payloadType
	e.seq++
	binary.BigEndian.PutUint16(b[2:], e.seq)
	binary.BigEndian.PutUint32(b[4:], uint32(tick*tsPerTick))
	binary.BigEndian.PutUint32(b[8:], 0) // the fabric sets the stream's SSRC
	return b[:rtpHeader+n]
}

// rtpPayload returns an RTP packet's timestamp and payload, skipping CSRCs
// and a header extension; ok is false for a malformed packet.
func rtpPayload(pkt []byte) (ts uint32, payload []byte, ok bool) {
	if len(pkt) < rtpHeader || pkt[0]>>6 != 2 {
		return 0, nil, false
	}
	off := rtpHeader + 4*int(pkt[0]&0x0f)
	if pkt[0]&0x10 != 0 {
		if len(pkt) < off+4 {
			return 0, nil, false
		}
		off += 4 + 4*int(binary.BigEndian.Uint16(pkt[off+2:]))
	}
	end := len(pkt)
	if pkt[0]&0x20 != 0 && end > off {
		end -= int(pkt[end-1])
	}
	if off > end {
		return 0, nil, false
	}
	return binary.BigEndian.Uint32(pkt[4:]), pkt[off:end], true
}

// slot is one tick of a ring: the level a report gave, the PCM a packet
// carried, or both.
type slot struct {
	tick     uint64
	level    uint8
	hasLevel bool
	hasPCM   bool
	pcm      []int16
}

// ring holds the last ringSize ticks of one sender's stream, keyed by the
// sender's tick, and plays them out playoutDelay ticks behind the newest.
// It is not safe for concurrent use; its owner locks.
type ring struct {
	slots  [ringSize]slot
	latest uint64 // the newest tick seen
	lastTS uint32 // latest's RTP timestamp, for unwrapping
	play   playout
	dec    *opus.Decoder
}

func newRing(rate int, frame int, decode bool) (*ring, error) {
	r := &ring{}
	for i := range r.slots {
		r.slots[i].pcm = make([]int16, frame)
	}
	if decode {
		d, err := opus.NewDecoder(rate, 1)
		if err != nil {
			return nil, fmt.Errorf("mixnet: opus decoder: %w", err)
		}
		r.dec = d
	}
	return r, nil
}

// at returns tick's slot, claiming it (and clearing it) when it held an
// older tick; nil when tick is too old to keep.
func (r *ring) at(tick uint64) *slot {
	if tick == 0 || tick+ringSize <= r.latest {
		return nil
	}
	if tick > r.latest {
		r.latest = tick
		r.lastTS = uint32(tick * tsPerTick)
	}
	s := &r.slots[tick%ringSize]
	if s.tick != tick {
		s.tick, s.hasLevel, s.hasPCM = tick, false, false
	}
	return s
}

// tickOf unwraps an RTP timestamp to the sender's tick, relative to the
// newest tick seen (or as is for the first packet).
func (r *ring) tickOf(ts uint32) uint64 {
	if r.latest == 0 {
		return uint64(ts / tsPerTick)
	}
	d := int64(int32(ts-r.lastTS)) / tsPerTick
	t := int64(r.latest) + d
	if t <= 0 {
		return 0
	}
	return uint64(t)
}

// level records a report's level for tick.
func (r *ring) level(tick uint64, l uint8) {
	if s := r.at(tick); s != nil {
		s.level, s.hasLevel = l, true
	}
}

// packet decodes an RTP packet into its tick's slot.
func (r *ring) packet(pkt []byte) bool {
	ts, payload, ok := rtpPayload(pkt)
	if !ok || r.dec == nil {
		return false
	}
	t := r.tickOf(ts)
	if r.latest != 0 && (t == 0 || t+4*ringSize < r.latest) {
		// Far behind what it sent before: the sender numbers afresh.
		r.reset()
		t = uint64(ts / tsPerTick)
	}
	s := r.at(t)
	if s == nil {
		return false
	}
	n, err := r.dec.Decode(payload, s.pcm)
	if err != nil || n != len(s.pcm) {
		return false
	}
	s.hasPCM = true
	return true
}

// next advances the playout by one tick and returns that tick's slot, or
// nil when the sender has nothing for it (not started, stalled, lost).
func (r *ring) next() *slot {
	t, ok := r.play.next(r.latest)
	if !ok {
		return nil
	}
	return r.peek(t)
}

// playout is a playout position playoutDelay ticks behind the newest tick
// of a sender.
type playout struct {
	p       uint64 // the tick last played
	started bool
}

// next advances the position by one tick, given the newest tick the
// sender has sent; ok is false while there is nothing to play.
func (pl *playout) next(latest uint64) (uint64, bool) {
	if latest == 0 {
		return 0, false
	}
	target := uint64(1)
	if latest > playoutDelay {
		target = latest - playoutDelay
	}
	n := pl.p + 1
	switch {
	case !pl.started || n+playoutSlack < target || n > target+playoutSlack:
		n = target
	case n > latest:
		return 0, false // the sender stalled: wait for it
	}
	pl.p, pl.started = n, true
	return n, true
}

// peek returns the slot of tick if the ring holds it.
func (r *ring) peek(tick uint64) *slot {
	s := &r.slots[tick%ringSize]
	if tick == 0 || s.tick != tick {
		return nil
	}
	return s
}

// reset forgets every tick: the sender starts a new numbering (a new
// mixer, a restarted room).
func (r *ring) reset() {
	for i := range r.slots {
		r.slots[i].tick, r.slots[i].hasLevel, r.slots[i].hasPCM = 0, false, false
	}
	r.latest, r.lastTS, r.play = 0, 0, playout{}
}
