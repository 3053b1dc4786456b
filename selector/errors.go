package selector

import "errors"

var (
	// ErrDuplicate is returned by Add for a participant already present.
	ErrDuplicate = errors.New("selector: participant already added")
	// ErrFrameSize is returned by New for a frame size that is not positive.
	ErrFrameSize = errors.New("selector: frame size must be positive")
)
