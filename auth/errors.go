package auth

import "errors"

var (
	// ErrInvalidToken is wrapped by every error Verify returns: the token is
	// malformed, badly signed, of a refused algorithm, not yet valid, expired
	// or from an unknown key. Callers answer it with 401.
	ErrInvalidToken = errors.New("auth: invalid token")
	// ErrExpired says the token's exp has passed (or it has none).
	ErrExpired = errors.New("auth: token expired")
	// ErrNotYetValid says the token's nbf is in the future.
	ErrNotYetValid = errors.New("auth: token not yet valid")
	// ErrUnknownKey says the token's iss names no configured API key, or
	// Sign was asked to sign with one.
	ErrUnknownKey = errors.New("auth: unknown API key")
)
