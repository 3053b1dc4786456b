package sip

import (
	"net/netip"
	"testing"
	"time"

	"github.com/icholy/digest"
)

func testTrunks(t *testing.T) []Trunk {
	t.Helper()
	c := Config{Trunks: []Trunk{
		{Name: "carrier", AllowedAddresses: []string{"192.0.2.0/24"}},
		{Name: "pbx", Username: "pbx", Password: "s3cret", Realm: "setbridge"},
	}}.WithDefaults()
	if errs := c.Validate(); len(errs) > 0 {
		t.Fatal(errs[0])
	}
	return c.Trunks
}

func TestAdmit(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	a := newAuthenticator(testTrunks(t), 5*time.Minute, func() time.Time { return now })

	t.Run("an allowed address is admitted without credentials", func(t *testing.T) {
		tr, res := a.admit(netip.MustParseAddr("192.0.2.7"), "INVITE", "")
		if res != authOK || tr.Name != "carrier" {
			t.Fatalf("got %v %v", tr, res)
		}
	})
	t.Run("another address without credentials is challenged", func(t *testing.T) {
		if _, res := a.admit(netip.MustParseAddr("198.51.100.1"), "INVITE", ""); res != authChallenge {
			t.Fatalf("got %v", res)
		}
	})

	answer := func(password string, nonceAt time.Time) string {
		saved := now
		now = nonceAt
		chal, err := digest.ParseChallenge(a.challenge(false))
		now = saved
		if err != nil {
			t.Fatal(err)
		}
		cred, err := digest.Digest(chal, digest.Options{Method: "INVITE", URI: "sip:1000@192.0.2.1", Username: "pbx", Password: password, Count: 1, Cnonce: "abc"})
		if err != nil {
			t.Fatal(err)
		}
		return cred.String()
	}
	t.Run("valid credentials are admitted", func(t *testing.T) {
		tr, res := a.admit(netip.MustParseAddr("198.51.100.1"), "INVITE", answer("s3cret", now))
		if res != authOK || tr.Name != "pbx" {
			t.Fatalf("got %v %v", tr, res)
		}
	})
	t.Run("a wrong password is forbidden", func(t *testing.T) {
		if _, res := a.admit(netip.MustParseAddr("198.51.100.1"), "INVITE", answer("wrong", now)); res != authForbidden {
			t.Fatalf("got %v", res)
		}
	})
	t.Run("an expired nonce is answered stale", func(t *testing.T) {
		if _, res := a.admit(netip.MustParseAddr("198.51.100.1"), "INVITE", answer("s3cret", now.Add(-10*time.Minute))); res != authStale {
			t.Fatalf("got %v", res)
		}
	})
	t.Run("a nonce we did not issue is forbidden", func(t *testing.T) {
		h := `Digest username="pbx", realm="setbridge", nonce="bm90b3Vycw", uri="sip:x", response="00"`
		if _, res := a.admit(netip.MustParseAddr("198.51.100.1"), "INVITE", h); res != authForbidden {
			t.Fatalf("got %v", res)
		}
	})

	t.Run("without credential trunks a stranger is forbidden outright", func(t *testing.T) {
		b := newAuthenticator(testTrunks(t)[:1], time.Minute, time.Now)
		if _, res := b.admit(netip.MustParseAddr("198.51.100.1"), "INVITE", ""); res != authForbidden {
			t.Fatalf("got %v", res)
		}
	})
}
