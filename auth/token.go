// Package auth signs and verifies the access tokens browsers present to
// the WebRTC edge and the event stream: JWTs signed HS256 with an API
// secret, in the LiveKit convention (docs/browser-api.md):
//
//	{"iss": "KEY", "sub": "identity", "name": "Display Name", "nbf": 1, "exp": 2,
//	 "video": {"room": "demo", "roomJoin": true, "canPublish": true, "canSubscribe": true}}
package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Grant is what a token allows in one room (the "video" claim).
type Grant struct {
	Room      string `json:"room,omitempty"`
	Join      bool   `json:"roomJoin,omitempty"`
	Publish   bool   `json:"canPublish,omitempty"`
	Subscribe bool   `json:"canSubscribe,omitempty"`
}

// Claims are the contents of a token.
type Claims struct {
	// Identity is the participant's identity (sub).
	Identity string
	// Name is the display name (name).
	Name  string
	Grant Grant
	// NotBefore (nbf) is optional; the zero time leaves it out.
	NotBefore time.Time
	// Expires (exp) is required.
	Expires time.Time
	// Key is the API key that signed the token (iss). Sign takes it from
	// its key argument.
	Key string
}

// wireClaims is the JSON form of Claims.
type wireClaims struct {
	jwt.RegisteredClaims
	Name  string `json:"name,omitempty"`
	Video Grant  `json:"video"`
}

// Keys maps API keys to their secrets.
type Keys map[string]string

// Sign returns a token for c signed HS256 with the secret of key.
func (k Keys) Sign(key string, c Claims) (string, error) {
	secret, ok := k[key]
	if !ok || secret == "" {
		return "", fmt.Errorf("sign: %w: %q", ErrUnknownKey, key)
	}
	if c.Expires.IsZero() {
		return "", fmt.Errorf("sign: %w: no expiry", ErrInvalidToken)
	}
	w := wireClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    key,
			Subject:   c.Identity,
			ExpiresAt: jwt.NewNumericDate(c.Expires),
		},
		Name:  c.Name,
		Video: c.Grant,
	}
	if !c.NotBefore.IsZero() {
		w.NotBefore = jwt.NewNumericDate(c.NotBefore)
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, w).SignedString([]byte(secret))
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return s, nil
}

// Verify checks token at time now and returns its claims. Only HS256 is
// accepted (alg none and asymmetric algorithms are refused), iss must be a
// key of k, exp is required and nbf honoured, without leeway. Every error
// wraps ErrInvalidToken, and ErrExpired, ErrNotYetValid or ErrUnknownKey
// when that is the reason.
func (k Keys) Verify(token string, now time.Time) (Claims, error) {
	var w wireClaims
	_, err := jwt.ParseWithClaims(token, &w, func(t *jwt.Token) (any, error) {
		iss, _ := t.Claims.GetIssuer()
		secret, ok := k[iss]
		if !ok || secret == "" {
			return nil, fmt.Errorf("%w: %q", ErrUnknownKey, iss)
		}
		return []byte(secret), nil
	},
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	if err != nil {
		switch {
		case errors.Is(err, ErrUnknownKey):
			return Claims{}, fmt.Errorf("%w: %w", ErrInvalidToken, ErrUnknownKey)
		case errors.Is(err, jwt.ErrTokenExpired):
			return Claims{}, fmt.Errorf("%w: %w", ErrInvalidToken, ErrExpired)
		case errors.Is(err, jwt.ErrTokenNotValidYet):
			return Claims{}, fmt.Errorf("%w: %w", ErrInvalidToken, ErrNotYetValid)
		}
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	c := Claims{Identity: w.Subject, Name: w.Name, Grant: w.Video, Key: w.Issuer}
	if w.ExpiresAt != nil {
		c.Expires = w.ExpiresAt.Time
	}
	if w.NotBefore != nil {
		c.NotBefore = w.NotBefore.Time
	}
	return c, nil
}
