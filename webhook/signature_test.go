package webhook

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestVerify(t *testing.T) {
	body := []byte(`{"type":"room_started","timestamp":"2026-03-01T12:00:00Z","data":{"room":"board"}}`)
	key, err := secretKey(secret)
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	otherKey, _ := secretKey(other)
	signed := func(id string, at time.Time, sigs ...string) http.Header {
		h := http.Header{}
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
		h.Set("webhook-signature", strings.Join(sigs, " "))
		return h
	}
	good := signature(key, "msg_1", start.Unix(), body)
	tests := []struct {
		name       string
		giveHeader http.Header
		giveBody   []byte
		giveSecret string
		wantErr    error
	}{
		{"a valid signature passes", signed("msg_1", start, good), body, secret, nil},
		{"one valid signature among several passes", signed("msg_1", start, signature(otherKey, "msg_1", start.Unix(), body), good), body, secret, nil},
		{"a secret without its prefix works", signed("msg_1", start, good), body, strings.TrimPrefix(secret, "whsec_"), nil},
		{"a tampered body fails", signed("msg_1", start, good), append([]byte(" "), body...), secret, ErrSignature},
		{"another id fails", signed("msg_2", start, good), body, secret, ErrSignature},
		{"another secret fails", signed("msg_1", start, good), body, other, ErrSignature},
		{"a v2 signature is not taken for v1", signed("msg_1", start, "v2,"+strings.TrimPrefix(good, "v1,")), body, secret, ErrSignature},
		{"an old timestamp fails", signed("msg_1", start.Add(-6*time.Minute), signature(key, "msg_1", start.Add(-6*time.Minute).Unix(), body)), body, secret, ErrTimestamp},
		{"a future timestamp fails", signed("msg_1", start.Add(6*time.Minute), signature(key, "msg_1", start.Add(6*time.Minute).Unix(), body)), body, secret, ErrTimestamp},
		{"missing headers fail", http.Header{}, body, secret, ErrMissingHeaders},
		{"a bad secret fails", signed("msg_1", start, good), body, "whsec_%%%", ErrSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Verify(tt.giveSecret, tt.giveHeader, tt.giveBody, start, 0); !errors.Is(err, tt.wantErr) {
				t.Errorf("Verify = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestSignatureMatchesTheStandardWebhooksScheme(t *testing.T) {
	// base64(HMAC-SHA256(key, "<id>.<timestamp>.<body>")), computed with
	// openssl:
	//   printf 'msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test": 2432232314}' |
	//     openssl dgst -sha256 -mac HMAC -macopt hexkey:$(printf 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' | base64 -d | xxd -p -c 64) -binary | base64
	key, err := secretKey("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := signature(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
