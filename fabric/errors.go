package fabric

import "errors"

var (
	errPacketSize = errors.New("fabric: an RTP packet must be 12 to 1500 bytes")
	// ErrClosed is returned by a Node that has been closed.
	ErrClosed = errors.New("fabric: node closed")
	// ErrPublished is returned by Publish for a stream this node already
	// publishes.
	ErrPublished = errors.New("fabric: stream already published here")
	// ErrNoRoute is returned when no upstream for a stream can be reached.
	ErrNoRoute = errors.New("fabric: no route to the stream")
)
