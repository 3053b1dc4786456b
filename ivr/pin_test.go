package ivr

import (
	"errors"
	"strings"
	"testing"
)

func TestPINHash(t *testing.T) {
	h1, h2 := mustHash(t, "4711"), mustHash(t, "4711")
	if h1 == h2 {
		t.Error("two hashes of one PIN are equal: no salt")
	}
	if strings.Contains(h1, "4711") {
		t.Error("the hash contains the PIN")
	}
	tests := []struct {
		name     string
		giveHash string
		givePIN  string
		want     bool
	}{
		{"the right PIN matches", h1, "4711", true},
		{"the right PIN matches the other hash", h2, "4711", true},
		{"a wrong PIN does not", h1, "4712", false},
		{"a prefix does not", h1, "471", false},
		{"a longer PIN does not", h1, "47110", false},
		{"an empty PIN does not", h1, "", false},
		{"an empty hash matches nothing", "", "4711", false},
		{"another scheme matches nothing", strings.Replace(h1, "pbkdf2-sha256", "md5", 1), "4711", false},
		{"bad base64 matches nothing", h1[:len(h1)-3] + "!!!", "4711", false},
		{"a huge iteration count is refused", strings.Replace(h1, "$4096$", "$100000000$", 1), "4711", false},
		{"a plain PIN is not a hash", "4711", "4711", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := VerifyPIN(tt.giveHash, tt.givePIN); got != tt.want {
				t.Fatalf("VerifyPIN = %v, want %v", got, tt.want)
			}
		})
	}
	if !ValidPINHash(h1) || ValidPINHash("4711") || ValidPINHash("") {
		t.Error("ValidPINHash")
	}
	for _, bad := range []string{"", "12a4", strings.Repeat("1", MaxEntryDigits+1)} {
		if _, err := HashPIN(bad); !errors.Is(err, ErrConfig) {
			t.Errorf("HashPIN(%q): %v, want ErrConfig", bad, err)
		}
	}
}

func BenchmarkVerifyPIN(b *testing.B) {
	h := mustHash(b, "482916")
	for b.Loop() {
		VerifyPIN(h, "482916")
	}
}
