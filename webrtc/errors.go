package webrtc

import "errors"

var (
	// ErrUnauthorized is wrapped by an Authorizer's error when the request
	// carries no valid token (answered 401).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden is wrapped by an Authorizer's error when the token is
	// valid but does not allow the request (answered 403).
	ErrForbidden = errors.New("forbidden")
	// ErrBadOffer says the SDP offer (or sdpfrag) cannot be used (400).
	ErrBadOffer = errors.New("bad offer")
	// ErrNoCodec says the offer has no audio codec we speak (400).
	ErrNoCodec = errors.New("no supported audio codec")
	// ErrClosed is returned once the Edge is closed (503).
	ErrClosed = errors.New("webrtc edge closed")
)
