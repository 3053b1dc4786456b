package dtmf

import "errors"

// Errors returned by this package. Functions may wrap them with details
// (ParseInfo does); compare with [errors.Is].
var (
	// ErrShortPayload is returned by [Event.Unmarshal] and [Receiver.Push]
	// when the payload is shorter than [EventSize] bytes.
	ErrShortPayload = errors.New("dtmf: telephone-event payload shorter than 4 bytes")

	// ErrShortBuffer is returned by [Event.MarshalTo] when the destination
	// is shorter than [EventSize] bytes.
	ErrShortBuffer = errors.New("dtmf: buffer shorter than 4 bytes")

	// ErrVolumeRange is returned when a volume does not fit the 6-bit field
	// (0-63, meaning 0 to -63 dBm0).
	ErrVolumeRange = errors.New("dtmf: volume out of range 0-63")

	// ErrInvalidDigit is returned when a rune is not one of 0-9 * # A-D.
	ErrInvalidDigit = errors.New("dtmf: not a DTMF digit")

	// ErrDurationRange is returned by [Sender.Start] for a duration shorter
	// than one RTP clock tick or longer than [MaxSendDuration].
	ErrDurationRange = errors.New("dtmf: duration out of range")

	// ErrClockRate is returned by [NewSender] for a zero clock rate.
	ErrClockRate = errors.New("dtmf: invalid RTP clock rate")

	// ErrPtime is returned by [NewSender] when the packetization interval is
	// shorter than one clock tick or longer than the 16-bit duration field.
	ErrPtime = errors.New("dtmf: invalid packetization interval")

	// ErrSenderBusy is returned by [Sender.Start] while a digit is still
	// being sent.
	ErrSenderBusy = errors.New("dtmf: sender is still sending a digit")

	// ErrUnsupportedContentType is returned by [ParseInfo] for a content
	// type other than application/dtmf-relay or application/dtmf.
	ErrUnsupportedContentType = errors.New("dtmf: unsupported INFO content type")

	// ErrMalformedInfo is returned by [ParseInfo] for a body that does not
	// follow its content type's syntax. It is wrapped with details.
	ErrMalformedInfo = errors.New("dtmf: malformed INFO body")

	// ErrUnsupportedEvent is returned by [ParseInfo] for a well-formed
	// signal that is not a DTMF digit, such as hook flash ("!" or 16).
	ErrUnsupportedEvent = errors.New("dtmf: INFO signal is not a DTMF digit")
)
