package mixerengine

import "errors"

var (
	// ErrClosed is returned by Join after Close.
	ErrClosed = errors.New("mixer engine closed")
	// ErrDuplicateID is returned by JoinWithID for an id already in the room.
	ErrDuplicateID = errors.New("participant id already in room")
	// ErrNoRoom is returned for a room that is not running.
	ErrNoRoom = errors.New("no such room")
	// ErrTopK is returned by SetTopK for a K outside 1..MaxTopK.
	ErrTopK = errors.New("top K out of range")
	// ErrFormat is returned by an EncoderFunc for a format it cannot encode.
	ErrFormat = errors.New("downlink format not encodable")
)
