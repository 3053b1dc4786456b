package livestream

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Kind is the protocol a stream is pushed with.
type Kind string

// The kinds of live stream.
const (
	// KindIcecast is an Icecast source: Ogg/Opus over HTTP PUT
	// (Icecast 2.4 and later).
	KindIcecast Kind = "icecast"
	// KindRTMP is RTMP or RTMPS through a child ffmpeg encoding AAC in FLV.
	KindRTMP Kind = "rtmp"
	// KindWHIP is WebRTC-HTTP ingestion (RFC 9725) of an Opus track.
	KindWHIP Kind = "whip"
)

// target is a parsed Request target.
type target struct {
	kind Kind
	// u is the URL to connect to, with the password (icecast) still in.
	u *url.URL
}

// redacted returns the target as it is shown in Info: any password is
// replaced by "xxxxx".
func (t target) redacted() string { return t.u.Redacted() }

// parseTarget validates a Request's Target and Kind.
//
//	http(s)://[user[:pass]@]host[:port]/mount     icecast (or whip with Kind "whip")
//	icecast(s)://[user[:pass]@]host[:port]/mount  icecast over http(s)
//	rtmp(s)://host[:port]/app/stream              rtmp
//	whip+http(s)://[:token@]host[:port]/path      whip (token: bearer token)
func parseTarget(raw string, kind string) (target, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return target{}, fmt.Errorf("%w: empty target", ErrBadTarget)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return target{}, fmt.Errorf("%w: %v", ErrBadTarget, err)
	}
	if u.Host == "" || u.Hostname() == "" {
		return target{}, fmt.Errorf("%w: %q has no host", ErrBadTarget, u.Redacted())
	}
	if p := u.Port(); p != "" {
		if _, err := net.LookupPort("tcp", p); err != nil {
			return target{}, fmt.Errorf("%w: bad port %q", ErrBadTarget, p)
		}
	}
	k := Kind(strings.ToLower(kind))
	scheme := strings.ToLower(u.Scheme)
	var inferred Kind
	switch scheme {
	case "http", "https":
		inferred = KindIcecast
		if k == KindWHIP {
			inferred = KindWHIP
		}
	case "icecast", "icecasts":
		inferred = KindIcecast
		u.Scheme = map[string]string{"icecast": "http", "icecasts": "https"}[scheme]
	case "rtmp", "rtmps":
		inferred = KindRTMP
	case "whip+http", "whip+https":
		inferred = KindWHIP
		u.Scheme = strings.TrimPrefix(scheme, "whip+")
	case "":
		return target{}, fmt.Errorf("%w: %q has no scheme", ErrBadTarget, u.Redacted())
	default:
		return target{}, fmt.Errorf("%w: unsupported scheme %q (want http, https, icecast, rtmp, rtmps, whip+http, whip+https)",
			ErrBadTarget, u.Scheme)
	}
	switch k {
	case "", inferred:
	case KindIcecast, KindRTMP, KindWHIP:
		return target{}, fmt.Errorf("%w: kind %q does not match scheme %q", ErrBadTarget, k, u.Scheme)
	default:
		return target{}, fmt.Errorf("%w: unknown kind %q (want icecast, rtmp or whip)", ErrBadTarget, kind)
	}
	switch inferred {
	case KindIcecast:
		if strings.Trim(u.Path, "/") == "" {
			return target{}, fmt.Errorf("%w: icecast target %q has no mount (e.g. /live.opus)", ErrBadTarget, u.Redacted())
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return target{}, fmt.Errorf("%w: icecast mount %q must not have a query or fragment", ErrBadTarget, u.Redacted())
		}
	case KindRTMP:
		if u.User != nil {
			return target{}, fmt.Errorf("%w: rtmp target must not carry user info", ErrBadTarget)
		}
		if parts := strings.Split(strings.Trim(u.Path, "/"), "/"); len(parts) < 2 || parts[0] == "" || parts[len(parts)-1] == "" {
			return target{}, fmt.Errorf("%w: rtmp target %q needs /application/stream_key", ErrBadTarget, u.Redacted())
		}
	case KindWHIP:
		// The bearer token is the user info's password (shown as xxxxx);
		// a user name alone would be shown as is, so it is refused.
		if u.User != nil {
			if _, ok := u.User.Password(); !ok {
				return target{}, fmt.Errorf("%w: whip target's user info must be :TOKEN (the bearer token as the password)", ErrBadTarget)
			}
		}
	}
	return target{kind: inferred, u: u}, nil
}
