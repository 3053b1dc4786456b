package media

import "errors"

var (
	// ErrUnknownCodec is returned for a codec name setbridge does not implement.
	ErrUnknownCodec = errors.New("unknown codec")
	// ErrShortBuffer is returned when a destination cannot hold a frame.
	ErrShortBuffer = errors.New("buffer too short")
)
