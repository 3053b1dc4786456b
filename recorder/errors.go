package recorder

import "errors"

// Errors returned by this package. Match them with errors.Is: returned
// errors usually wrap one of these with detail.
var (
	// ErrConfig is returned by New for a Config it cannot record with
	// (no directory, bad id, rate not a whole number of samples per frame,
	// segments too long for a WAV file, no signing key).
	ErrConfig = errors.New("recorder: invalid config")

	// ErrExists is returned by Start when the recording's directory already
	// holds a manifest: an id is never recorded twice.
	ErrExists = errors.New("recorder: recording already exists")

	// ErrNotStarted is returned by Stop, Pause and Resume before Start.
	ErrNotStarted = errors.New("recorder: not started")

	// ErrStarted is returned by a second Start.
	ErrStarted = errors.New("recorder: already started")

	// ErrEnded is returned by Stop, Pause and Resume once the recording has
	// reached its stop tick or failed.
	ErrEnded = errors.New("recorder: recording has ended")

	// ErrTickPassed is returned by Start and Stop for a tick the recorder
	// has already been given: the frames of past ticks are already decided.
	ErrTickPassed = errors.New("recorder: tick already passed")

	// ErrOverrun means the writer fell so far behind the room's tick that
	// the ring of frames between them overflowed. The recording fails
	// rather than drop a frame.
	ErrOverrun = errors.New("recorder: frame ring overflowed (writer too slow)")

	// ErrWrite wraps a failure to write, sync or close a file of the
	// recording (full disk, unwritable directory, I/O error). The recording
	// fails with it.
	ErrWrite = errors.New("recorder: write failed")

	// ErrManifest means a manifest.json could not be read or parsed.
	ErrManifest = errors.New("recorder: bad manifest")

	// ErrVerify is wrapped by the error Verify returns when a recording
	// does not verify; the *VerifyError lists every problem.
	ErrVerify = errors.New("recorder: recording does not verify")

	// ErrKey is returned for a key file that cannot be read or parsed.
	ErrKey = errors.New("recorder: bad key")
)
