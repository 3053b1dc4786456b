package webrtc

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/setbridge/setbridge/auth"
)

// BearerToken returns the token of an "Authorization: Bearer" header, or "".
func BearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// KeysAuthorizer returns an Authorizer that accepts the bearer tokens
// signed by keys (package auth): the token must be valid at now(), grant
// roomJoin for room, canPublish to publish (WHIP) and canSubscribe to
// listen (WHEP). now defaults to time.Now.
func KeysAuthorizer(keys auth.Keys, now func() time.Time) Authorizer {
	if now == nil {
		now = time.Now
	}
	return func(r *http.Request, room string, publish bool) (Identity, error) {
		tok := BearerToken(r)
		if tok == "" {
			return Identity{}, fmt.Errorf("%w: missing bearer token", ErrUnauthorized)
		}
		c, err := keys.Verify(tok, now())
		if err != nil {
			return Identity{}, fmt.Errorf("%w: %w", ErrUnauthorized, err)
		}
		g := c.Grant
		switch {
		case !g.Join || g.Room != room:
			return Identity{}, fmt.Errorf("%w: token is not for room %q", ErrForbidden, room)
		case publish && !g.Publish:
			return Identity{}, fmt.Errorf("%w: token may not publish", ErrForbidden)
		case !publish && !g.Subscribe:
			return Identity{}, fmt.Errorf("%w: token may not subscribe", ErrForbidden)
		}
		return Identity{Identity: c.Identity, Name: c.Name, Publish: g.Publish, Subscribe: g.Subscribe, Kind: "browser"}, nil
	}
}
