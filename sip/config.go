package sip

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/setbridge/setbridge/media"
)

// Config configures the SIP gateway. Zero values take the defaults noted.
type Config struct {
	// UDP and TCP are the listen addresses (default "0.0.0.0:5060"; "-" disables).
	UDP string `yaml:"udp"`
	TCP string `yaml:"tcp"`
	// TLS is the TLS listen address; it needs CertFile and KeyFile ("" disables).
	TLS      string `yaml:"tls"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// MediaAddress is the address put in SDP and Contact. Empty: the local
	// address the request arrived on.
	MediaAddress string `yaml:"media_address"`
	// RTPPortMin and RTPPortMax bound the RTP ports (default 10000-20000).
	RTPPortMin int `yaml:"rtp_port_min"`
	RTPPortMax int `yaml:"rtp_port_max"`
	// RTPTimeout hangs up a call that received no RTP, no session refresh
	// and no in-dialog request for this long (default 30 s; negative disables).
	RTPTimeout time.Duration `yaml:"rtp_timeout"`
	// SessionExpires is the session interval offered to trunks that ask
	// for RFC 4028 timers (default 1800 s); MinSE is the smallest accepted (default 90 s).
	SessionExpires time.Duration `yaml:"session_expires"`
	MinSE          time.Duration `yaml:"min_se"`
	// JitterDepth is the number of packets buffered before playout (default 2).
	JitterDepth int `yaml:"jitter_depth"`
	// NonceExpiry is how long a digest nonce is valid (default 5 min).
	NonceExpiry time.Duration `yaml:"nonce_expiry"`

	Trunks   []Trunk        `yaml:"trunks"`
	Dispatch []DispatchRule `yaml:"dispatch"`
}

// Trunk is a peer allowed to send calls.
type Trunk struct {
	Name string `yaml:"name"`
	// Numbers are the E.164 numbers the trunk delivers; empty means any.
	Numbers []string `yaml:"numbers"`
	// AllowedAddresses are CIDR prefixes whose requests belong to the trunk.
	AllowedAddresses []string `yaml:"allowed_addresses"`
	// Username and Password, when set, let requests from other addresses
	// authenticate by digest (RFC 3261 §22).
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	Realm    string `yaml:"realm"`
	// Codecs is the trunk's codec preference (default PCMU, PCMA, G722, opus).
	Codecs []string `yaml:"codecs"`
	// DTMF says how the trunk's callers send digits: "auto" (default:
	// RFC 4733 when negotiated, else in-band tones on G.711), "rfc4733",
	// "inband", or "both" (RFC 4733 and in-band, each digit counted once).
	// SIP INFO is always accepted.
	DTMF string `yaml:"dtmf"`
	// EarlyMedia plays the IVR in early media (183 Session Progress) and
	// answers the call only when the caller gets into a room; a caller
	// turned away gets 480 and is never billed.
	EarlyMedia bool `yaml:"early_media"`
	// DefaultRoom takes calls to numbers no dispatch rule names.
	DefaultRoom string `yaml:"default_room"`
	// Register, when set, keeps an outbound registration with the trunk.
	Register *TrunkRegistration `yaml:"register"`
	// Outbound, when set, lets the gateway place calls through the trunk
	// (dial-out participants, connectors).
	Outbound *TrunkOutbound `yaml:"outbound"`

	prefixes []netip.Prefix
	codecs   []media.Codec
}

// TrunkRegistration is the outbound registration of a trunk.
type TrunkRegistration struct {
	Registrar string        `yaml:"registrar"`
	AOR       string        `yaml:"aor"`
	Username  string        `yaml:"username"`
	Password  string        `yaml:"password"`
	Expires   time.Duration `yaml:"expires"`
	Transport string        `yaml:"transport"`
}

// TrunkOutbound is how calls are placed through a trunk.
type TrunkOutbound struct {
	// Host is the carrier's (or its proxy's) host:port; the Request-URI is
	// sip:NUMBER@Host.
	Host string `yaml:"host"`
	// Transport is "udp" (default) or "tcp".
	Transport string `yaml:"transport"`
	// Username and Password answer a 401 or 407 digest challenge; Realm,
	// if set, is the only realm answered.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	Realm    string `yaml:"realm"`
	// FromDomain is the From URI's host (default: Host without the port).
	FromDomain string `yaml:"from_domain"`
	// Proxy, if set, is an outbound proxy host:port every request of the
	// call is sent through (a loose Route).
	Proxy string `yaml:"proxy"`
	// CallerID is the From user of calls that name none.
	CallerID string `yaml:"caller_id"`
}

// DispatchRule routes a dialled number to a room.
type DispatchRule struct {
	Number string `yaml:"number"`
	Room   string `yaml:"room"`
	// IVR sends the caller to the dial-in IVR, which asks for the
	// conference number (and the PIN if the room has one); Room is then
	// not used.
	IVR bool `yaml:"ivr"`
	// Trunk restricts the rule to one trunk's calls.
	Trunk string `yaml:"trunk"`
}

// FieldError is a configuration error at a path such as "trunks[1].codecs[0]".
type FieldError struct {
	Path string
	Err  error
}

func (e *FieldError) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// WithDefaults returns c with zero values replaced by defaults.
func (c Config) WithDefaults() Config {
	if c.UDP == "" {
		c.UDP = "0.0.0.0:5060"
	}
	if c.TCP == "" {
		c.TCP = "0.0.0.0:5060"
	}
	if c.RTPPortMin == 0 {
		c.RTPPortMin = 10000
	}
	if c.RTPPortMax == 0 {
		c.RTPPortMax = 20000
	}
	if c.RTPTimeout == 0 {
		c.RTPTimeout = 30 * time.Second
	}
	if c.SessionExpires == 0 {
		c.SessionExpires = 1800 * time.Second
	}
	if c.MinSE == 0 {
		c.MinSE = 90 * time.Second
	}
	if c.JitterDepth == 0 {
		c.JitterDepth = 2
	}
	if c.NonceExpiry == 0 {
		c.NonceExpiry = 5 * time.Minute
	}
	return c
}

// Validate checks c and prepares its trunks; it returns every problem found.
func (c *Config) Validate() []*FieldError {
	var errs []*FieldError
	bad := func(path, format string, a ...any) {
		errs = append(errs, &FieldError{Path: path, Err: fmt.Errorf("%w: "+format, append([]any{ErrBadConfig}, a...)...)})
	}
	if c.RTPPortMin < 1024 || c.RTPPortMax > 65534 || c.RTPPortMin >= c.RTPPortMax {
		bad("rtp_port_min", "rtp port range %d-%d must lie within 1024-65534 and hold at least two ports", c.RTPPortMin, c.RTPPortMax)
	}
	if c.MediaAddress != "" {
		if _, err := netip.ParseAddr(c.MediaAddress); err != nil {
			bad("media_address", "%q is not an IP address", c.MediaAddress)
		}
	}
	if c.TLS != "" && (c.CertFile == "" || c.KeyFile == "") {
		bad("tls", "a TLS listener needs cert_file and key_file")
	}
	names := map[string]bool{}
	for i := range c.Trunks {
		t := &c.Trunks[i]
		p := fmt.Sprintf("trunks[%d]", i)
		if t.Name == "" {
			bad(p+".name", "a trunk needs a name")
		} else if names[t.Name] {
			bad(p+".name", "duplicate trunk name %q", t.Name)
		}
		names[t.Name] = true
		t.prefixes = t.prefixes[:0]
		for j, a := range t.AllowedAddresses {
			pr, err := parsePrefix(a)
			if err != nil {
				bad(fmt.Sprintf("%s.allowed_addresses[%d]", p, j), "%q is not a CIDR prefix or address", a)
				continue
			}
			t.prefixes = append(t.prefixes, pr)
		}
		if len(t.AllowedAddresses) == 0 && t.Password == "" && t.Outbound == nil {
			bad(p, "trunk %q has neither allowed_addresses, credentials nor outbound settings: nothing could ever use it", t.Name)
		}
		if t.Password != "" && t.Username == "" {
			bad(p+".username", "a password needs a username")
		}
		for j, n := range t.Numbers {
			if !isE164(n) {
				bad(fmt.Sprintf("%s.numbers[%d]", p, j), "%q is not an E.164 number (+ and 1 to 15 digits)", n)
			}
		}
		t.codecs = t.codecs[:0]
		names := t.Codecs
		if len(names) == 0 {
			names = []string{"PCMU", "PCMA", "G722", "opus"}
		}
		for j, n := range names {
			cd, err := media.CodecByName(n)
			if err != nil || cd.SampleRate == 0 {
				bad(fmt.Sprintf("%s.codecs[%d]", p, j), "unknown codec %q (known: PCMU, PCMA, G722, opus)", n)
				continue
			}
			t.codecs = append(t.codecs, cd)
		}
		switch t.DTMF {
		case "", "auto", "rfc4733", "inband", "both":
		default:
			bad(p+".dtmf", "unknown dtmf mode %q (auto, rfc4733, inband, both)", t.DTMF)
		}
		if r := t.Register; r != nil {
			if r.Registrar == "" || r.AOR == "" {
				bad(p+".register", "registration needs registrar and aor")
			}
		}
		if o := t.Outbound; o != nil {
			if o.Host == "" {
				bad(p+".outbound.host", "outbound calls need a host")
			}
			if tp := strings.ToLower(o.Transport); tp != "" && tp != "udp" && tp != "tcp" {
				bad(p+".outbound.transport", "unknown transport %q (udp, tcp)", o.Transport)
			}
			if o.Password != "" && o.Username == "" {
				bad(p+".outbound.username", "a password needs a username")
			}
		}
	}
	for i, d := range c.Dispatch {
		p := fmt.Sprintf("dispatch[%d]", i)
		if d.Number == "" {
			bad(p+".number", "a dispatch rule needs a number")
		}
		if d.Room == "" && !d.IVR {
			bad(p+".room", "a dispatch rule needs a room or ivr: true")
		}
		if d.Trunk != "" && !names[d.Trunk] {
			bad(p+".trunk", "no trunk named %q", d.Trunk)
		}
	}
	return errs
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func isE164(n string) bool {
	d := strings.TrimPrefix(n, "+")
	if len(d) == 0 || len(d) > 15 {
		return false
	}
	for _, r := range d {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// normalizeNumber strips visual separators and a leading "+" so that
// "+44 20 7946 0000" and "442079460000" match.
func normalizeNumber(n string) string {
	var b strings.Builder
	for _, r := range n {
		if r >= '0' && r <= '9' || r == '*' || r == '#' {
			b.WriteRune(r)
		} else if (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
		}
	}
	return b.String()
}
