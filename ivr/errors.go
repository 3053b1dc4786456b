package ivr

import (
	"errors"
	"fmt"
	"strings"
)

// Errors returned by this package. Match them with errors.Is; most are
// wrapped with detail.
var (
	// ErrUnsupportedRate is returned for a prompt set or player rate other
	// than 8000, 16000 or 48000 Hz, and for an operator WAV whose rate
	// cannot be converted (below 8000 or above 192000 Hz).
	ErrUnsupportedRate = errors.New("ivr: unsupported sample rate")

	// ErrRateMismatch is returned by Player.Enqueue for a prompt whose rate
	// is not the player's.
	ErrRateMismatch = errors.New("ivr: prompt rate differs from the player's")

	// ErrUnknownPrompt means an operator WAV is named after no prompt that
	// setbridge uses (often a typo: conf-getpinn.wav).
	ErrUnknownPrompt = errors.New("ivr: not a prompt setbridge uses")

	// ErrPromptFormat means an operator prompt is in a format LoadPrompts
	// does not read: not a WAV, not 16-bit PCM, truncated, or not .wav.
	ErrPromptFormat = errors.New("ivr: unreadable prompt")

	// ErrSilentPrompt means an operator prompt has no audio, or none above
	// -60 dBFS: a broken export, never what an operator meant.
	ErrSilentPrompt = errors.New("ivr: prompt is silent")

	// ErrPromptTooLong means a prompt is longer than MaxPromptDuration.
	ErrPromptTooLong = errors.New("ivr: prompt too long")

	// ErrMissingPrompt is returned by NewSession when the prompt set lacks
	// a prompt the session plays.
	ErrMissingPrompt = errors.New("ivr: prompt missing from set")

	// ErrConfig is returned by NewSession and NewCollector for an invalid
	// configuration.
	ErrConfig = errors.New("ivr: invalid config")

	// ErrRoomLocked is what a Handler's Join returns when the room is
	// locked: the caller hears conf-roomlocked, then goodbye.
	ErrRoomLocked = errors.New("ivr: room locked")

	// ErrNoHandler is returned by HandlerFuncs.Join when OnJoin is nil.
	ErrNoHandler = errors.New("ivr: no join handler")
)

// PromptFileError is a prompt file LoadPrompts could not use. It names the
// file and wraps what was wrong with it (one of the Err* values above, or
// an error from package wav or the file system).
type PromptFileError struct {
	// Path is the file's path as found in the overlay directory.
	Path string
	// Err says what is wrong.
	Err error
}

func (e *PromptFileError) Error() string {
	return fmt.Sprintf("ivr: prompt file %s: %s", e.Path, strings.TrimPrefix(e.Err.Error(), "ivr: "))
}

// Unwrap returns Err.
func (e *PromptFileError) Unwrap() error { return e.Err }
