package sip

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/icholy/digest"
)

// authResult says how a request was admitted.
type authResult int

const (
	authForbidden authResult = iota // 403
	authChallenge                   // 401 with a fresh nonce
	authStale                       // 401 with stale=true
	authOK
)

// authenticator admits requests by source address or by digest credentials.
// Nonces are self-validating (a timestamp and its HMAC), so the server keeps
// no per-challenge state.
type authenticator struct {
	trunks []Trunk
	secret [32]byte
	expiry time.Duration
	now    func() time.Time
}

func newAuthenticator(trunks []Trunk, expiry time.Duration, now func() time.Time) *authenticator {
	a := &authenticator{trunks: trunks, expiry: expiry, now: now}
	_, _ = rand.Read(a.secret[:])
	return a
}

// byAddress returns the trunk whose allowed addresses hold addr.
func (a *authenticator) byAddress(addr netip.Addr) *Trunk {
	addr = addr.Unmap()
	for i := range a.trunks {
		for _, p := range a.trunks[i].prefixes {
			if p.Contains(addr) {
				return &a.trunks[i]
			}
		}
	}
	return nil
}

// hasCredentials reports whether any trunk accepts digest credentials.
func (a *authenticator) hasCredentials() bool {
	for _, t := range a.trunks {
		if t.Password != "" {
			return true
		}
	}
	return false
}

func (a *authenticator) realm(t *Trunk) string {
	if t.Realm != "" {
		return t.Realm
	}
	return "setbridge"
}

// admit decides on a request from src whose Authorization header is authz
// ("" if none). On authOK the trunk is returned.
func (a *authenticator) admit(src netip.Addr, method, authz string) (*Trunk, authResult) {
	if t := a.byAddress(src); t != nil {
		return t, authOK
	}
	if !a.hasCredentials() {
		return nil, authForbidden
	}
	if authz == "" {
		return nil, authChallenge
	}
	cred, err := digest.ParseCredentials(authz)
	if err != nil {
		return nil, authForbidden
	}
	var t *Trunk
	for i := range a.trunks {
		if a.trunks[i].Password != "" && a.trunks[i].Username == cred.Username {
			t = &a.trunks[i]
			break
		}
	}
	if t == nil || cred.Realm != a.realm(t) {
		return nil, authForbidden
	}
	fresh, valid := a.checkNonce(cred.Nonce)
	if !valid {
		return nil, authForbidden
	}
	want, err := digest.Digest(&digest.Challenge{Realm: cred.Realm, Nonce: cred.Nonce, Algorithm: cred.Algorithm,
		Opaque: cred.Opaque, QOP: qopList(cred.QOP)},
		digest.Options{Method: method, URI: cred.URI, Username: t.Username, Password: t.Password, Cnonce: cred.Cnonce, Count: cred.Nc})
	if err != nil || subtle.ConstantTimeCompare([]byte(want.Response), []byte(cred.Response)) != 1 {
		return nil, authForbidden
	}
	if !fresh {
		return nil, authStale
	}
	return t, authOK
}

func qopList(q string) []string {
	if q == "" {
		return nil
	}
	return []string{q}
}

// challenge returns a WWW-Authenticate value.
func (a *authenticator) challenge(stale bool) string {
	realm := "setbridge"
	for i := range a.trunks {
		if a.trunks[i].Password != "" {
			realm = a.realm(&a.trunks[i])
			break
		}
	}
	c := digest.Challenge{Realm: realm, Nonce: a.newNonce(), Algorithm: "MD5", QOP: []string{"auth"}, Stale: stale}
	return c.String()
}

func (a *authenticator) newNonce() string {
	var b [8 + 16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(a.now().Unix()))
	m := hmac.New(sha256.New, a.secret[:])
	m.Write(b[:8])
	copy(b[8:], m.Sum(nil))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// checkNonce reports whether the nonce is ours (valid) and still fresh.
func (a *authenticator) checkNonce(n string) (fresh, valid bool) {
	b, err := base64.RawURLEncoding.DecodeString(n)
	if err != nil || len(b) != 24 {
		return false, false
	}
	m := hmac.New(sha256.New, a.secret[:])
	m.Write(b[:8])
	if !hmac.Equal(m.Sum(nil)[:16], b[8:]) {
		return false, false
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(b[:8])), 0)
	return a.now().Sub(issued) <= a.expiry, true
}
