package webrtc

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"

	"github.com/setbridge/setbridge/media"
)

// chooseCodec picks the codec of the downlink from an SDP offer: Opus when
// the first audio section offers it, else the first of G.722, PCMU and
// PCMA in the offer's order.
func chooseCodec(offer []byte) (media.Codec, error) {
	var d sdp.SessionDescription
	if err := d.Unmarshal(offer); err != nil {
		return media.Codec{}, fmt.Errorf("%w: %w", ErrBadOffer, err)
	}
	for _, m := range d.MediaDescriptions {
		if m.MediaName.Media != "audio" || m.MediaName.Port.Value == 0 {
			continue
		}
		names := map[string]string{"0": media.PCMU.Name, "8": media.PCMA.Name, "9": media.G722.Name}
		for _, a := range m.Attributes {
			if a.Key != "rtpmap" {
				continue
			}
			pt, enc, ok := strings.Cut(a.Value, " ")
			if !ok {
				continue
			}
			name, _, _ := strings.Cut(enc, "/")
			names[pt] = name
		}
		var first *media.Codec
		for _, f := range m.MediaName.Formats {
			c, err := media.CodecByName(names[f])
			if err != nil || c.SampleRate == 0 {
				continue
			}
			if c.Name == media.Opus.Name {
				return c, nil
			}
			if first == nil {
				first = &c
			}
		}
		if first != nil {
			return *first, nil
		}
		return media.Codec{}, ErrNoCodec
	}
	return media.Codec{}, fmt.Errorf("%w: no audio section", ErrNoCodec)
}

// iceFrag is what an application/trickle-ice-sdpfrag body (RFC 8840)
// carries that we use.
type iceFrag struct {
	ufrag, pwd string
	mid        string
	candidates []string // the values of a=candidate lines, without "a="
}

func parseFrag(b []byte) (iceFrag, error) {
	var f iceFrag
	for line := range strings.Lines(string(b)) {
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "":
		case strings.HasPrefix(line, "a=ice-ufrag:"):
			f.ufrag = strings.TrimPrefix(line, "a=ice-ufrag:")
		case strings.HasPrefix(line, "a=ice-pwd:"):
			f.pwd = strings.TrimPrefix(line, "a=ice-pwd:")
		case strings.HasPrefix(line, "a=mid:"):
			if f.mid == "" {
				f.mid = strings.TrimPrefix(line, "a=mid:")
			}
		case strings.HasPrefix(line, "a=candidate:"):
			f.candidates = append(f.candidates, strings.TrimPrefix(line, "a="))
		case len(line) < 2 || line[1] != '=':
			return iceFrag{}, fmt.Errorf("%w: sdpfrag line %q", ErrBadOffer, line)
		}
	}
	if (f.ufrag == "") != (f.pwd == "") {
		return iceFrag{}, fmt.Errorf("%w: sdpfrag has ice-ufrag without ice-pwd or the reverse", ErrBadOffer)
	}
	return f, nil
}

// iceCredentials returns the first ice-ufrag and ice-pwd of an SDP.
func iceCredentials(s string) (ufrag, pwd string) {
	for line := range strings.Lines(s) {
		line = strings.TrimRight(line, "\r\n")
		if v, ok := strings.CutPrefix(line, "a=ice-ufrag:"); ok && ufrag == "" {
			ufrag = v
		}
		if v, ok := strings.CutPrefix(line, "a=ice-pwd:"); ok && pwd == "" {
			pwd = v
		}
	}
	return ufrag, pwd
}

// withICE returns the SDP s with its ICE credentials replaced and its
// candidates dropped: the offer of an ICE restart (RFC 9725 §4.3.2) built
// from the stored one.
func withICE(s, ufrag, pwd string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		l := strings.TrimRight(line, "\r\n")
		switch {
		case strings.HasPrefix(l, "a=ice-ufrag:"):
			b.WriteString("a=ice-ufrag:" + ufrag + "\r\n")
		case strings.HasPrefix(l, "a=ice-pwd:"):
			b.WriteString("a=ice-pwd:" + pwd + "\r\n")
		case strings.HasPrefix(l, "a=candidate:"), l == "a=end-of-candidates":
		default:
			b.WriteString(l + "\r\n")
		}
	}
	return b.String()
}

// answerFrag builds the sdpfrag of our side after an ICE restart: the new
// credentials and every gathered candidate of the first media section.
func answerFrag(local string) string {
	var b strings.Builder
	ufrag, pwd := iceCredentials(local)
	b.WriteString("a=ice-ufrag:" + ufrag + "\r\n")
	b.WriteString("a=ice-pwd:" + pwd + "\r\n")
	inMedia, done := false, false
	for line := range strings.Lines(local) {
		l := strings.TrimRight(line, "\r\n")
		switch {
		case strings.HasPrefix(l, "m="):
			if inMedia {
				done = true
			}
			if !done {
				inMedia = true
				fields := strings.Fields(l)
				if len(fields) >= 3 {
					// The media line of RFC 8840 §4.4: port 9, one format.
					pt := "0"
					if len(fields) > 3 {
						pt = fields[3]
					}
					b.WriteString(fields[0] + " 9 " + fields[2] + " " + pt + "\r\n")
				}
			}
		case done || !inMedia:
		case strings.HasPrefix(l, "a=mid:"), strings.HasPrefix(l, "a=candidate:"):
			b.WriteString(l + "\r\n")
		}
	}
	b.WriteString("a=end-of-candidates\r\n")
	return b.String()
}

// linkHeader formats one configured ICE server URL as RFC 9725 §4.6 asks.
func linkHeader(url string, s ICEServer) string {
	v := "<" + url + `>; rel="ice-server"`
	if s.Username != "" {
		v += "; username=" + strconv.Quote(s.Username) + "; credential=" + strconv.Quote(s.Credential) +
			`; credential-type="password"`
	}
	return v
}
