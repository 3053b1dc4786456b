package livestream

import "errors"

var (
	// ErrBadTarget is returned by Start (wrapped, with the reason) when the
	// target URL cannot be streamed to: unsupported scheme, missing host or
	// mount, unknown kind.
	ErrBadTarget = errors.New("bad stream target")
	// ErrNotFound is returned by Stop for an unknown stream id.
	ErrNotFound = errors.New("stream not found")
	// ErrClosed is returned by Start after Close.
	ErrClosed = errors.New("livestream manager closed")
	// ErrBadRate is returned by Start when Config.Rate is not one Opus
	// encodes (8000, 12000, 16000, 24000, 48000).
	ErrBadRate = errors.New("unsupported mix rate")
	// ErrRejected is wrapped around a server's refusal of a source
	// connection (wrong password, mount in use, ...).
	ErrRejected = errors.New("server rejected the stream")
	// ErrNotLive is returned when a connection did not become live within
	// the connect timeout.
	ErrNotLive = errors.New("stream did not go live in time")
)
