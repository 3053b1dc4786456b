package ivr

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// PINs are stored hashed: PBKDF2-HMAC-SHA256 with a random 16-byte salt,
// written as
//
//	pbkdf2-sha256$<iterations>$<salt, base64>$<key, base64>
//
// (unpadded standard base64). A PIN of six digits has a million values, so
// no hash makes a leaked hash safe against a patient search; the hash keeps
// PINs out of config dumps, API answers and backups, and the iterations
// make each guess cost about a millisecond. The check runs on the frame
// tick (possibly one shared by every caller in the IVR), so it must stay
// cheap: PINHashIterations costs about 1 ms per hash on one core, and a
// Session checks at most two hashes per entry.
const (
	PINHashIterations = 4096
	pinHashScheme     = "pbkdf2-sha256"
	pinSaltLen        = 16
	pinKeyLen         = 32
	// maxPINIterations bounds the work a stored hash can ask of VerifyPIN
	// on the frame tick (about 5 ms).
	maxPINIterations = 20000
)

// HashPIN returns the stored form of pin, which must be 1 to
// MaxEntryDigits decimal digits.
func HashPIN(pin string) (string, error) {
	if !validPIN(pin) {
		return "", fmt.Errorf("%w: a PIN is 1 to %d digits 0-9", ErrConfig, MaxEntryDigits)
	}
	salt := make([]byte, pinSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash pin: %w", err)
	}
	key, err := pbkdf2.Key(sha256.New, pin, salt, PINHashIterations, pinKeyLen)
	if err != nil {
		return "", fmt.Errorf("hash pin: %w", err)
	}
	enc := base64.RawStdEncoding
	return pinHashScheme + "$" + strconv.Itoa(PINHashIterations) + "$" + enc.EncodeToString(salt) + "$" + enc.EncodeToString(key), nil
}

// VerifyPIN reports whether pin matches a hash made by HashPIN. The
// derived keys are compared in constant time. A malformed hash matches
// nothing.
func VerifyPIN(hash, pin string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 4 || parts[0] != pinHashScheme {
		return false
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter < 1 || iter > maxPINIterations {
		return false
	}
	enc := base64.RawStdEncoding
	salt, err := enc.DecodeString(parts[2])
	if err != nil || len(salt) == 0 {
		return false
	}
	want, err := enc.DecodeString(parts[3])
	if err != nil || len(want) == 0 {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, pin, salt, iter, len(want))
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(got, want) == 1
}

// ValidPINHash reports whether hash is in the form HashPIN makes, so that
// configuration can be refused at load rather than at a caller's PIN.
func ValidPINHash(hash string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 4 || parts[0] != pinHashScheme {
		return false
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter < 1 || iter > maxPINIterations {
		return false
	}
	s, err1 := base64.RawStdEncoding.DecodeString(parts[2])
	k, err2 := base64.RawStdEncoding.DecodeString(parts[3])
	return err1 == nil && err2 == nil && len(s) > 0 && len(k) > 0
}

func validPIN(pin string) bool {
	if len(pin) == 0 || len(pin) > MaxEntryDigits {
		return false
	}
	for i := 0; i < len(pin); i++ {
		if pin[i] < '0' || pin[i] > '9' {
			return false
		}
	}
	return true
}
