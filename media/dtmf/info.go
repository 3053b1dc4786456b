package dtmf

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Content types of SIP INFO bodies carrying DTMF.
const (
	ContentTypeDTMFRelay = "application/dtmf-relay"
	ContentTypeDTMF      = "application/dtmf"
)

// ParseInfo extracts the digit, and its duration if given, from the body of a
// SIP INFO request. contentType is the Content-Type header value; its media
// type is compared case-insensitively and parameters are ignored.
//
// application/dtmf-relay (the de facto format; there is no RFC) is a list of
// key=value lines:
//
//	Signal=5
//	Duration=160
//
// Keys are case-insensitive, spaces around keys and values are ignored, lines
// end with \n or \r\n and blank lines are skipped; unknown keys are ignored.
// Signal is required; Duration is optional, in milliseconds, and 0 is
// returned when it is absent. A key given twice or a line without '=' is an
// error.
//
// application/dtmf (not registered either) carries just the signal, for
// example "5" or "#", optionally followed by a line break. Such a body has no
// duration; 0 is returned. Some endpoints send the key=value format under
// this type, so a body containing '=' is parsed as application/dtmf-relay.
//
// In both formats a signal is one of 0-9 * # A-D (a-d accepted) or, as some
// endpoints send, the RFC 4733 event code 0-15 in decimal ("10" is '*',
// "11" is '#'). Hook flash ("!" or 16) and other event codes 16-255 return
// [ErrUnsupportedEvent]; malformed bodies return an error wrapping
// [ErrMalformedInfo], and other content types [ErrUnsupportedContentType].
func ParseInfo(contentType string, body []byte) (rune, time.Duration, error) {
	mediaType, _, _ := strings.Cut(contentType, ";")
	mediaType = strings.TrimSpace(mediaType)
	switch {
	case strings.EqualFold(mediaType, ContentTypeDTMFRelay):
		return parseRelay(string(body))
	case strings.EqualFold(mediaType, ContentTypeDTMF):
		s := string(body)
		if strings.Contains(s, "=") {
			return parseRelay(s)
		}
		r, err := parseSignal(strings.TrimSpace(s))
		return r, 0, err
	}
	return 0, 0, fmt.Errorf("%w: %q", ErrUnsupportedContentType, contentType)
}

// parseRelay parses an application/dtmf-relay body.
func parseRelay(body string) (rune, time.Duration, error) {
	var (
		signal       string
		haveSignal   bool
		duration     time.Duration
		haveDuration bool
	)
	for rest := body; rest != ""; {
		var line string
		line, rest, _ = strings.Cut(rest, "\n")
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			return 0, 0, fmt.Errorf("%w: line %q is not key=value", ErrMalformedInfo, line)
		}
		key = strings.TrimSpace(key)
		value = strings.TrimSpace(value)
		switch {
		case strings.EqualFold(key, "Signal"):
			if haveSignal {
				return 0, 0, fmt.Errorf("%w: Signal given twice", ErrMalformedInfo)
			}
			signal, haveSignal = value, true
		case strings.EqualFold(key, "Duration"):
			if haveDuration {
				return 0, 0, fmt.Errorf("%w: Duration given twice", ErrMalformedInfo)
			}
			ms, err := strconv.ParseUint(value, 10, 32)
			if err != nil {
				return 0, 0, fmt.Errorf("%w: Duration %q is not a number of milliseconds", ErrMalformedInfo, value)
			}
			duration, haveDuration = time.Duration(ms)*time.Millisecond, true
		}
	}
	if !haveSignal {
		return 0, 0, fmt.Errorf("%w: no Signal", ErrMalformedInfo)
	}
	r, err := parseSignal(signal)
	if err != nil {
		return 0, 0, err
	}
	return r, duration, nil
}

// parseSignal parses a trimmed signal: a DTMF character, "!" (hook flash) or
// a decimal event code.
func parseSignal(s string) (rune, error) {
	switch {
	case s == "":
		return 0, fmt.Errorf("%w: empty signal", ErrMalformedInfo)
	case s == "!":
		return 0, fmt.Errorf("%w: hook flash", ErrUnsupportedEvent)
	case len(s) == 1:
		if code, ok := DigitToCode(rune(s[0])); ok {
			r, _ := CodeToDigit(code)
			return r, nil
		}
	case len(s) <= 3 && isDecimal(s):
		n, _ := strconv.Atoi(s)
		if n > 0xff {
			break
		}
		if r, ok := CodeToDigit(uint8(n)); ok {
			return r, nil
		}
		return 0, fmt.Errorf("%w: event code %d", ErrUnsupportedEvent, n)
	}
	return 0, fmt.Errorf("%w: invalid signal %q", ErrMalformedInfo, s)
}

func isDecimal(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
