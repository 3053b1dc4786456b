package dtmf

import "encoding/binary"

// EventSize is the size in bytes of one telephone-event payload block.
const EventSize = 4

// MaxVolume is the largest value of the 6-bit volume field (-63 dBm0).
const MaxVolume = 63

// Event codes for DTMF (RFC 4733 §3.2, Table 3). Codes 0-9 are the digits
// themselves; codes above 15 (for example 16, hook flash) are not DTMF digits.
const (
	CodeStar  uint8 = 10 // '*'
	CodePound uint8 = 11 // '#'
	CodeA     uint8 = 12
	CodeB     uint8 = 13
	CodeC     uint8 = 14
	CodeD     uint8 = 15
	CodeFlash uint8 = 16 // hook flash; not a digit
)

// Event is one RFC 4733 telephone-event payload block (§2.3):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     event     |E|R|  volume   |           duration            |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The fields are:
//
//   - event (8 bits): the event code; 0-15 are the DTMF digits.
//   - E (1 bit): end of the event. Only the final packet(s) of an event, and
//     for a long event split into segments only those of the last segment,
//     carry it.
//   - R (1 bit): reserved; sent as zero and ignored on receipt.
//   - volume (6 bits): power level of the tone in dBm0 with the sign dropped,
//     so 0 is loudest and 63 is -63 dBm0.
//   - duration (16 bits, network byte order): the time since the start of
//     the event (of the segment, for long events) in RTP timestamp units.
//
// All packets of one event carry the RTP timestamp of the event's start.
type Event struct {
	Code     uint8
	End      bool
	Volume   uint8
	Duration uint16
}

const (
	endBit     = 0x80
	volumeMask = 0x3f
)

// Unmarshal decodes the first [EventSize] bytes of b. Any further bytes
// (RFC 4733 §2.5.1.5 allows several events in one packet) are ignored.
// The reserved bit is ignored. It returns [ErrShortPayload] if b is too short.
func (e *Event) Unmarshal(b []byte) error {
	if len(b) < EventSize {
		return ErrShortPayload
	}
	e.Code = b[0]
	e.End = b[1]&endBit != 0
	e.Volume = b[1] & volumeMask
	e.Duration = binary.BigEndian.Uint16(b[2:4])
	return nil
}

// MarshalSize returns the encoded size of e, always [EventSize].
func (e Event) MarshalSize() int { return EventSize }

// MarshalTo encodes e into the first [EventSize] bytes of b with the reserved
// bit cleared. It returns [ErrShortBuffer] if b is too short and
// [ErrVolumeRange] if e.Volume exceeds [MaxVolume]; b is unchanged on error.
func (e Event) MarshalTo(b []byte) (int, error) {
	if len(b) < EventSize {
		return 0, ErrShortBuffer
	}
	if e.Volume > MaxVolume {
		return 0, ErrVolumeRange
	}
	b[0] = e.Code
	b[1] = e.Volume
	if e.End {
		b[1] |= endBit
	}
	binary.BigEndian.PutUint16(b[2:4], e.Duration)
	return EventSize, nil
}

// Marshal returns e encoded in a new [EventSize]-byte slice.
func (e Event) Marshal() ([]byte, error) {
	b := make([]byte, EventSize)
	if _, err := e.MarshalTo(b); err != nil {
		return nil, err
	}
	return b, nil
}

// digits maps event codes 0-15 to their DTMF characters (RFC 4733 §3.2).
const digits = "0123456789*#ABCD"

// CodeToDigit returns the DTMF character for event codes 0-15:
// '0'-'9', '*' (10), '#' (11) and 'A'-'D' (12-15). It reports false for any
// other code, including hook flash (16).
func CodeToDigit(code uint8) (rune, bool) {
	if int(code) >= len(digits) {
		return 0, false
	}
	return rune(digits[code]), true
}

// DigitToCode returns the event code for a DTMF character: '0'-'9', '*',
// '#', and 'A'-'D' in either case. It reports false for anything else.
func DigitToCode(r rune) (uint8, bool) {
	switch {
	case r >= '0' && r <= '9':
		return uint8(r - '0'), true
	case r == '*':
		return CodeStar, true
	case r == '#':
		return CodePound, true
	case r >= 'A' && r <= 'D':
		return CodeA + uint8(r-'A'), true
	case r >= 'a' && r <= 'd':
		return CodeA + uint8(r-'a'), true
	}
	return 0, false
}
