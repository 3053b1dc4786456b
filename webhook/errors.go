package webhook

import "errors"

// Errors of the package. They are wrapped with context; test with
// errors.Is.
var (
	// ErrConfig is returned by New for a configuration it cannot use.
	ErrConfig = errors.New("webhook: bad config")
	// ErrBadEvent is an event that cannot be encoded (no type, or Data
	// that is not a JSON object). Send drops such events.
	ErrBadEvent = errors.New("webhook: bad event")
	// ErrSecret is a secret that is not "whsec_" followed by base64.
	ErrSecret = errors.New("webhook: bad secret")
	// ErrMissingHeaders is returned by Verify when webhook-id,
	// webhook-timestamp or webhook-signature is absent.
	ErrMissingHeaders = errors.New("webhook: missing webhook headers")
	// ErrTimestamp is returned by Verify for a timestamp that is not a
	// number or lies outside the tolerance.
	ErrTimestamp = errors.New("webhook: timestamp outside tolerance")
	// ErrSignature is returned by Verify when no v1 signature matches.
	ErrSignature = errors.New("webhook: no matching signature")
)
