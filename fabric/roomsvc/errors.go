package roomsvc

import "errors"

var (
	// ErrNotFound is returned for a room or participant the central
	// service does not know.
	ErrNotFound = errors.New("roomsvc: not found")
	// ErrBadRequest is returned for a malformed query or command.
	ErrBadRequest = errors.New("roomsvc: bad request")
	// ErrUnavailable is returned when no room service answers.
	ErrUnavailable = errors.New("roomsvc: no room service available")
	// ErrClosed is returned by a closed service.
	ErrClosed = errors.New("roomsvc: closed")
)
