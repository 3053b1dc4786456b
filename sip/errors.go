package sip

import "errors"

var (
	// ErrNoCommonCodec means the offer has no codec the trunk accepts (488).
	ErrNoCommonCodec = errors.New("no common codec")
	// ErrBadSDP means a session description could not be parsed or used (400/488).
	ErrBadSDP = errors.New("bad sdp")
	// ErrNoAudio means the offer has no usable audio stream (488).
	ErrNoAudio = errors.New("no audio stream")
	// ErrNoPorts means the RTP port range is exhausted (503).
	ErrNoPorts = errors.New("no free rtp ports")
	// ErrUnknownNumber means no dispatch rule matches the dialled number (404).
	ErrUnknownNumber = errors.New("unknown number")
	// ErrForbidden means the request comes from no trunk and has no valid credentials (403).
	ErrForbidden = errors.New("forbidden")
	// ErrDraining means the server accepts no new calls (503).
	ErrDraining = errors.New("draining")
	// ErrBadConfig wraps configuration errors.
	ErrBadConfig = errors.New("bad sip config")
)
