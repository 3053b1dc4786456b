package roster

import "strings"

// MaskNumber masks the middle of a calling number for display. It keeps the
// country code, an area-ish prefix and the last 4 digits, and puts one '*'
// per hidden digit, grouped by spaces:
//
//	+442079460123 → +44 20 **** 0123
//	+14155550123  → +1 415 *** 0123
//	02079460123   → 020 **** 0123 (no country code: a prefix of up to 3)
//
// A leading 00 counts as +. Spaces, '-', '.', '(' and ')' are ignored.
// Extensions of up to 6 digits are returned unchanged, as is anything that
// is not a number (a SIP user name like "alice", an already masked number).
// The country code's length follows the E.164 assignments; the prefix kept
// after it is 3 digits for +1, 1 for +33 and +61, and 2 otherwise. The
// prefix shrinks for short numbers so that at least 2 digits stay hidden.
func MaskNumber(s string) string {
	digits, international, ok := numberDigits(s)
	if !ok || len(digits) <= 6 {
		return s
	}
	var cc string
	prefix := 3
	if international {
		cc = digits[:countryCodeLen(digits)]
		prefix = prefixLen(cc)
	}
	national := digits[len(cc):]
	n := len(national)
	tail := 4
	if n < tail+2 {
		tail = n / 2
	}
	prefix = max(0, min(prefix, n-tail-2))

	var b strings.Builder
	b.Grow(len(digits) + 5)
	if international {
		b.WriteString("+")
		b.WriteString(cc)
		b.WriteByte(' ')
	}
	if prefix > 0 {
		b.WriteString(national[:prefix])
		b.WriteByte(' ')
	}
	b.WriteString(strings.Repeat("*", n-prefix-tail))
	if tail > 0 {
		b.WriteByte(' ')
		b.WriteString(national[n-tail:])
	}
	return b.String()
}

// numberDigits returns the digits of a phone number and whether it was
// written in international form (+ or 00); ok is false for anything else.
func numberDigits(s string) (digits string, international, ok bool) {
	if rest, found := strings.CutPrefix(s, "+"); found {
		s, international = rest, true
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			b.WriteByte(c)
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		default:
			return "", false, false
		}
	}
	digits = b.String()
	if !international && len(digits) > 8 && strings.HasPrefix(digits, "00") {
		digits, international = digits[2:], true
	}
	return digits, international, digits != ""
}

// twoDigitCountryCodes are the E.164 country codes of two digits; 1 and 7
// are the codes of one digit, every other code has three.
var twoDigitCountryCodes = map[string]bool{
	"20": true, "27": true, "30": true, "31": true, "32": true, "33": true, "34": true,
	"36": true, "39": true, "40": true, "41": true, "43": true, "44": true, "45": true,
	"46": true, "47": true, "48": true, "49": true, "51": true, "52": true, "53": true,
	"54": true, "55": true, "56": true, "57": true, "58": true, "60": true, "61": true,
	"62": true, "63": true, "64": true, "65": true, "66": true, "81": true, "82": true,
	"84": true, "86": true, "90": true, "91": true, "92": true, "93": true, "94": true,
	"95": true, "98": true,
}

// countryCodeLen returns the length of the country code that digits (an
// international number without its +) starts with.
func countryCodeLen(digits string) int {
	switch {
	case digits[0] == '1' || digits[0] == '7':
		return 1
	case twoDigitCountryCodes[digits[:2]]:
		return 2
	default:
		return 3
	}
}

// prefixLen returns how many national digits after country code cc are
// shown: the area code, or the start of it.
func prefixLen(cc string) int {
	switch cc {
	case "1": // NANP: 3-digit area code
		return 3
	case "33", "61": // France, Australia: 1-digit area or mobile prefix
		return 1
	default: // +44, +49, +31 and the rest: 2 digits of the area code
		return 2
	}
}
