package dtmf

import "time"

const (
	// EndRepeats is how many times the final packet of an event (and of
	// each segment of a long event) is sent, as RFC 4733 §2.5.1.4
	// recommends.
	EndRepeats = 3

	// DefaultVolume is the volume a new [Sender] uses: -10 dBm0.
	DefaultVolume = 10

	// MaxSendDuration is the longest digit a [Sender] accepts.
	MaxSendDuration = time.Minute
)

// Packet is one telephone-event RTP packet produced by a [Sender].
type Packet struct {
	// Event is the payload content; Payload is the same, encoded.
	Event   Event
	Payload [EventSize]byte
	// Marker is the RTP marker bit; set on the first packet of a digit.
	Marker bool
	// TimestampOffset is added to the digit's RTP timestamp (the stream
	// timestamp when its first packet was sent). It is zero for every
	// packet of a digit shorter than 0xFFFF clock ticks (8.19 s at
	// 8000 Hz, 1.37 s at 48000 Hz); longer digits are split into segments
	// (RFC 4733 §2.5.1.3) and each further segment starts 0xFFFF ticks
	// after the previous one.
	TimestampOffset uint32
	// Last marks the final packet of the digit; audio may resume after it.
	Last bool
}

// Sender produces the RFC 4733 packet sequence for one digit at a time, one
// packet per packetization interval (ptime), so an RTP leg can interleave it
// with its playout clock. On each ptime tick the leg does:
//
//	if s.Active() {
//		p, _ := s.Next()
//		if p.Marker {
//			eventTS = audioTS // stream timestamp at the digit's start
//		}
//		// send p.Payload with payload type telephone-event, the next
//		// sequence number, marker p.Marker and timestamp
//		// eventTS+p.TimestampOffset, instead of an audio packet
//	}
//	audioTS += ptime in clock ticks // the stream clock keeps running
//
// For a digit of duration D and an interval of P ticks the packets carry the
// durations P, 2P, ... while they are below D, then D with the E bit, sent
// [EndRepeats] times in total. All packets share the digit's timestamp; only
// the first has the marker bit. For example a 100 ms digit at 8000 Hz with a
// 20 ms ptime gives durations 160, 320, 480, 640, 800E, 800E, 800E.
//
// A digit longer than 0xFFFF ticks is split into segments: each segment's
// final packet (duration 0xFFFF, E bit clear) is sent [EndRepeats] times,
// then the next segment continues at timestamp offset +0xFFFF with the
// duration elapsed since the segment boundary. Only the final packets of the
// last segment have the E bit.
//
// The leg must leave a gap of silence (audio packets) between two digits so
// the far end can tell two presses of the same key apart; Sender does not
// insert it.
type Sender struct {
	// Volume is the tone power sent, 0 (0 dBm0) to 63 (-63 dBm0). It is
	// read by Start.
	Volume uint8

	clockRate uint32
	ptime     time.Duration
	step      uint32 // ticks per packet

	active   bool
	first    bool
	code     uint8
	volume   uint8
	total    uint32 // digit duration in ticks
	elapsed  uint64 // ticks of the digit covered by the packets sent
	segStart uint32 // offset of the current segment
	repeats  int    // further sends of final
	final    Packet // the final packet of the current segment
}

// NewSender returns a Sender for a telephone-event stream with the given RTP
// clock rate and packetization interval. It returns [ErrClockRate] for a
// zero clock rate and [ErrPtime] if ptime is not between one clock tick and
// 0xFFFF ticks.
func NewSender(clockRate uint32, ptime time.Duration) (*Sender, error) {
	if clockRate == 0 {
		return nil, ErrClockRate
	}
	step, ok := toTicks(ptime, clockRate)
	if !ok || step > maxSegment {
		return nil, ErrPtime
	}
	return &Sender{Volume: DefaultVolume, clockRate: clockRate, ptime: ptime, step: step}, nil
}

// toTicks converts d to clock ticks, rounded to nearest; it reports false
// for d below one tick or above MaxSendDuration.
func toTicks(d time.Duration, clockRate uint32) (uint32, bool) {
	if d <= 0 || d > MaxSendDuration {
		return 0, false
	}
	n := (uint64(d)*uint64(clockRate) + uint64(time.Second)/2) / uint64(time.Second)
	if n == 0 {
		return 0, false
	}
	return uint32(n), true
}

// Ptime returns the packetization interval: Next should be called once per
// Ptime.
func (s *Sender) Ptime() time.Duration { return s.ptime }

// Active reports whether a digit is being sent, that is whether Next has
// packets left.
func (s *Sender) Active() bool { return s.active }

// Start begins sending digit ('0'-'9', '*', '#', 'A'-'D', either case) for
// the given duration, rounded to whole clock ticks. The packets are then
// taken from Next. It returns [ErrSenderBusy] if the previous digit is not
// finished, [ErrInvalidDigit], [ErrVolumeRange] for a bad Volume, and
// [ErrDurationRange] for a duration below one tick or above
// [MaxSendDuration].
func (s *Sender) Start(digit rune, duration time.Duration) error {
	if s.active {
		return ErrSenderBusy
	}
	code, ok := DigitToCode(digit)
	if !ok {
		return ErrInvalidDigit
	}
	if s.Volume > MaxVolume {
		return ErrVolumeRange
	}
	total, ok := toTicks(duration, s.clockRate)
	if !ok {
		return ErrDurationRange
	}
	s.active = true
	s.first = true
	s.code = code
	s.volume = s.Volume
	s.total = total
	s.elapsed = 0
	s.segStart = 0
	s.repeats = 0
	s.final = Packet{}
	return nil
}

// Next returns the packet to send at this ptime tick. It reports false when
// no digit is being sent. The packet with Last set is the final one; after
// it the Sender is idle and Start may be called again.
func (s *Sender) Next() (Packet, bool) {
	if !s.active {
		return Packet{}, false
	}
	s.elapsed += uint64(s.step)
	if s.repeats > 0 {
		s.repeats--
		p := s.final
		p.Marker = false
		if s.repeats == 0 {
			if p.Event.End {
				p.Last = true
				s.active = false
			} else {
				s.segStart += uint32(p.Event.Duration)
			}
		}
		return p, true
	}

	segLen := s.total - s.segStart
	if segLen > maxSegment {
		segLen = maxSegment
	}
	p := Packet{Marker: s.first, TimestampOffset: s.segStart}
	s.first = false
	p.Event = Event{Code: s.code, Volume: s.volume}
	if d := s.elapsed - uint64(s.segStart); d < uint64(segLen) {
		p.Event.Duration = uint16(d)
		_, _ = p.Event.MarshalTo(p.Payload[:]) // cannot fail: volume checked in Start
		return p, true
	}
	p.Event.Duration = uint16(segLen)
	p.Event.End = s.segStart+segLen == s.total
	_, _ = p.Event.MarshalTo(p.Payload[:])
	s.final = p
	s.repeats = EndRepeats - 1
	return p, true
}

// Packets appends to dst the whole packet sequence for one digit, as Next
// would return it tick by tick, and returns the extended slice. It uses the
// Sender's clock rate, ptime and Volume but does not disturb a digit being
// sent with Start and Next. Errors are those of Start.
func (s *Sender) Packets(digit rune, duration time.Duration, dst []Packet) ([]Packet, error) {
	c := Sender{Volume: s.Volume, clockRate: s.clockRate, ptime: s.ptime, step: s.step}
	if err := c.Start(digit, duration); err != nil {
		return dst, err
	}
	for {
		p, ok := c.Next()
		if !ok {
			return dst, nil
		}
		dst = append(dst, p)
	}
}
