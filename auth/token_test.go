package auth

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

var (
	testKeys = Keys{"KEY": "secret-of-key", "OTHER": "secret-of-other"}
	t0       = time.Unix(1_800_000_000, 0)
)

func testClaims() Claims {
	return Claims{Identity: "ada", Name: "Ada", Grant: Grant{Room: "demo", Join: true, Publish: true, Subscribe: true},
		NotBefore: t0.Add(-time.Minute), Expires: t0.Add(time.Hour)}
}

func mustSign(t *testing.T, k Keys, key string, c Claims) string {
	t.Helper()
	tok, err := k.Sign(key, c)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return tok
}

func TestRoundTrip(t *testing.T) {
	tok := mustSign(t, testKeys, "KEY", testClaims())
	got, err := testKeys.Verify(tok, t0)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	want := testClaims()
	want.Key = "KEY"
	if got.Identity != want.Identity || got.Name != want.Name || got.Grant != want.Grant || got.Key != want.Key ||
		!got.Expires.Equal(want.Expires) || !got.NotBefore.Equal(want.NotBefore) {
		t.Fatalf("claims = %+v, want %+v", got, want)
	}
}

func TestWireFormatIsLiveKit(t *testing.T) {
	tok := mustSign(t, testKeys, "KEY", testClaims())
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"iss":"KEY"`, `"sub":"ada"`, `"name":"Ada"`, `"room":"demo"`, `"roomJoin":true`,
		`"canPublish":true`, `"canSubscribe":true`, `"exp":`, `"nbf":`} {
		if !strings.Contains(string(payload), want) {
			t.Errorf("payload %s lacks %s", payload, want)
		}
	}
}

func TestVerifyRefuses(t *testing.T) {
	good := mustSign(t, testKeys, "KEY", testClaims())
	parts := strings.Split(good, ".")
	noneHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	tampered, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tamperedPayload := base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(tampered), `"demo"`, `"other"`, 1)))
	noExp := testClaims()
	noExp.Expires = time.Time{}

	tests := []struct {
		name    string
		give    string
		at      time.Time
		wantErr error
	}{
		{"an expired token", good, t0.Add(2 * time.Hour), ErrExpired},
		{"a token before its nbf", good, t0.Add(-time.Hour), ErrNotYetValid},
		{"a token signed with another secret", mustSign(t, Keys{"KEY": "wrong"}, "KEY", testClaims()), t0, ErrInvalidToken},
		{"a token of an unknown key", mustSign(t, Keys{"NOPE": "x"}, "NOPE", testClaims()), t0, ErrUnknownKey},
		{"alg none", noneHeader + "." + parts[1] + ".", t0, ErrInvalidToken},
		{"a tampered payload", parts[0] + "." + tamperedPayload + "." + parts[2], t0, ErrInvalidToken},
		{"garbage", "not.a.jwt", t0, ErrInvalidToken},
		{"an empty token", "", t0, ErrInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := testKeys.Verify(tt.give, tt.at)
			if !errors.Is(err, tt.wantErr) || !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("Verify error = %v, want %v (and ErrInvalidToken)", err, tt.wantErr)
			}
		})
	}
	if _, err := testKeys.Sign("KEY", noExp); err == nil {
		t.Error("Sign accepted claims without expiry")
	}
	if _, err := testKeys.Sign("NOPE", testClaims()); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Sign with unknown key: %v", err)
	}
}

func TestVerifyRefusesRS256Header(t *testing.T) {
	good := mustSign(t, testKeys, "KEY", testClaims())
	parts := strings.Split(good, ".")
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`))
	if _, err := testKeys.Verify(h+"."+parts[1]+"."+parts[2], t0); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("RS256 token accepted: %v", err)
	}
}
