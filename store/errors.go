package store

import "errors"

// Errors of the store. They are wrapped with context; test with errors.Is.
var (
	// ErrExists is returned by CreateRoom for a room id already taken.
	ErrExists = errors.New("store: room exists")
	// ErrNumberInUse is returned by CreateRoom and UpdateRoom for a
	// conference number that another room has.
	ErrNumberInUse = errors.New("store: conference number in use")
	// ErrNotFound is returned for a room id (or number) the store does
	// not hold.
	ErrNotFound = errors.New("store: room not found")
	// ErrInvalid is returned for a room that cannot be stored: an empty
	// id, or a PIN that is not a hash.
	ErrInvalid = errors.New("store: invalid room")
	// ErrClosed is returned by every method once Close has been called.
	ErrClosed = errors.New("store: closed")
	// ErrSchemaTooNew is returned by Open for a database migrated by a
	// newer setbridge.
	ErrSchemaTooNew = errors.New("store: database schema is newer than this program")
	// ErrDSN is returned by Open for a data source name it cannot use.
	ErrDSN = errors.New("store: bad data source name")
)
