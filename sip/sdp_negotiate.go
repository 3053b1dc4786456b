package sip

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"

	"github.com/setbridge/setbridge/media"
)

// Direction is an SDP media direction attribute (RFC 3264 §5.1).
type Direction string

// The four directions.
const (
	SendRecv Direction = "sendrecv"
	SendOnly Direction = "sendonly"
	RecvOnly Direction = "recvonly"
	Inactive Direction = "inactive"
)

// answerTo returns the direction an answer takes to an offer of d.
func (d Direction) answerTo() Direction {
	switch d {
	case SendOnly:
		return RecvOnly
	case RecvOnly:
		return SendOnly
	case Inactive:
		return Inactive
	}
	return SendRecv
}

// weSend reports whether we send media under our direction d.
func (d Direction) weSend() bool { return d == SendRecv || d == SendOnly }

// rtpFormat is one payload format of an m= line.
type rtpFormat struct {
	PT        uint8
	Name      string
	ClockRate uint32
	Channels  int
	Fmtp      string
}

// remoteMedia is what we use of a peer's session description.
type remoteMedia struct {
	Addr      netip.AddrPort // where the peer receives RTP (zero address: hold, RFC 2543 style)
	RTCPAddr  netip.AddrPort
	Formats   []rtpFormat
	Ptime     int // ms, 0 if absent
	Direction Direction
}

// staticFormats are the RFC 3551 static payload types we know, for offers
// that omit their rtpmap lines.
var staticFormats = map[uint8]rtpFormat{
	0: {PT: 0, Name: "PCMU", ClockRate: 8000, Channels: 1},
	8: {PT: 8, Name: "PCMA", ClockRate: 8000, Channels: 1},
	9: {PT: 9, Name: "G722", ClockRate: 8000, Channels: 1},
}

// parseSDP reads the first audio stream of a session description.
func parseSDP(body []byte) (*remoteMedia, error) {
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	var md *sdp.MediaDescription
	for _, m := range sd.MediaDescriptions {
		if m.MediaName.Media == "audio" && m.MediaName.Port.Value != 0 {
			md = m
			break
		}
	}
	if md == nil {
		return nil, ErrNoAudio
	}
	ci := md.ConnectionInformation
	if ci == nil {
		ci = sd.ConnectionInformation
	}
	if ci == nil || ci.Address == nil {
		return nil, fmt.Errorf("%w: no connection address", ErrBadSDP)
	}
	ip, err := netip.ParseAddr(ci.Address.Address)
	if err != nil {
		return nil, fmt.Errorf("%w: connection address %q", ErrBadSDP, ci.Address.Address)
	}
	port := md.MediaName.Port.Value
	if port <= 0 || port > 65535 {
		return nil, fmt.Errorf("%w: port %d", ErrBadSDP, port)
	}
	rm := &remoteMedia{Addr: netip.AddrPortFrom(ip, uint16(port)), Direction: SendRecv}
	rm.RTCPAddr = netip.AddrPortFrom(ip, uint16(port+1))
	for _, a := range sd.Attributes {
		if d, ok := direction(a.Key); ok {
			rm.Direction = d
		}
	}
	byPT := map[uint8]*rtpFormat{}
	for _, f := range md.MediaName.Formats {
		pt, err := strconv.ParseUint(f, 10, 7)
		if err != nil {
			continue // not RTP/AVP payload types
		}
		rf := rtpFormat{PT: uint8(pt)}
		if s, ok := staticFormats[uint8(pt)]; ok {
			rf = s
		}
		rm.Formats = append(rm.Formats, rf)
	}
	for i := range rm.Formats {
		byPT[rm.Formats[i].PT] = &rm.Formats[i]
	}
	for _, a := range md.Attributes {
		if d, ok := direction(a.Key); ok {
			rm.Direction = d
			continue
		}
		switch a.Key {
		case "rtpmap":
			pt, name, rate, ch, ok := parseRtpmap(a.Value)
			if f := byPT[pt]; ok && f != nil {
				f.Name, f.ClockRate, f.Channels = name, rate, ch
			}
		case "fmtp":
			pt, params, _ := strings.Cut(a.Value, " ")
			n, err := strconv.ParseUint(pt, 10, 7)
			if f := byPT[uint8(n)]; err == nil && f != nil {
				f.Fmtp = strings.TrimSpace(params)
			}
		case "ptime":
			if v, err := strconv.Atoi(strings.TrimSpace(a.Value)); err == nil && v > 0 && v <= 200 {
				rm.Ptime = v
			}
		case "rtcp":
			if v, err := strconv.Atoi(strings.Fields(a.Value + " x")[0]); err == nil && v > 0 && v <= 65535 {
				rm.RTCPAddr = netip.AddrPortFrom(ip, uint16(v))
			}
		}
	}
	if ip.IsUnspecified() && rm.Direction == SendRecv {
		rm.Direction = SendOnly // c=0.0.0.0 is the old way to hold
	}
	return rm, nil
}

func direction(key string) (Direction, bool) {
	switch d := Direction(key); d {
	case SendRecv, SendOnly, RecvOnly, Inactive:
		return d, true
	}
	return "", false
}

// parseRtpmap reads "96 opus/48000/2".
func parseRtpmap(v string) (pt uint8, name string, rate uint32, channels int, ok bool) {
	ptS, enc, found := strings.Cut(strings.TrimSpace(v), " ")
	if !found {
		return 0, "", 0, 0, false
	}
	n, err := strconv.ParseUint(ptS, 10, 7)
	if err != nil {
		return 0, "", 0, 0, false
	}
	parts := strings.Split(strings.TrimSpace(enc), "/")
	if len(parts) < 2 {
		return 0, "", 0, 0, false
	}
	r, err := strconv.ParseUint(parts[1], 10, 32)
	if err != nil || r == 0 {
		return 0, "", 0, 0, false
	}
	channels = 1
	if len(parts) > 2 {
		if c, err := strconv.Atoi(parts[2]); err == nil && c > 0 {
			channels = c
		}
	}
	return uint8(n), parts[0], uint32(r), channels, true
}

// negotiated is the outcome of offer/answer for one call.
type negotiated struct {
	Codec  media.Codec
	PT     uint8
	DTMFPT int // -1 without telephone-event
	Ptime  int // ms
}

// negotiate picks the first codec of pref that the remote side offers: the
// trunk's preference wins over the order of the offer.
func negotiate(rm *remoteMedia, pref []media.Codec) (negotiated, error) {
	n := negotiated{DTMFPT: -1, Ptime: 20}
	if rm.Ptime == 30 || rm.Ptime == 20 || rm.Ptime == 10 || rm.Ptime == 40 || rm.Ptime == 60 {
		n.Ptime = rm.Ptime
	}
	found := false
	for _, c := range pref {
		for _, f := range rm.Formats {
			if strings.EqualFold(f.Name, c.Name) && f.ClockRate == c.ClockRate {
				n.Codec, n.PT, found = c, f.PT, true
				break
			}
		}
		if found {
			break
		}
	}
	if !found {
		return n, ErrNoCommonCodec
	}
	for _, f := range rm.Formats {
		if strings.EqualFold(f.Name, media.TelephoneEvent.Name) && f.ClockRate == n.Codec.ClockRate {
			n.DTMFPT = int(f.PT)
			break
		}
	}
	if n.DTMFPT < 0 {
		for _, f := range rm.Formats {
			if strings.EqualFold(f.Name, media.TelephoneEvent.Name) && f.ClockRate == 8000 {
				n.DTMFPT = int(f.PT)
			}
		}
	}
	if n.Codec.Name == media.Opus.Name && n.Ptime > 20 {
		n.Ptime = 20
	}
	return n, nil
}

// localMedia is what we put in our own session description.
type localMedia struct {
	SessionID, Version uint64
	Addr               netip.AddrPort
	Formats            []rtpFormat
	Ptime              int
	Direction          Direction
}

// answerFormats lists the negotiated codec and telephone-event with the
// payload types the offer gave them (RFC 3264 §6.1).
func answerFormats(n negotiated) []rtpFormat {
	c := n.Codec
	fs := []rtpFormat{{PT: n.PT, Name: c.Name, ClockRate: c.ClockRate, Channels: c.Channels, Fmtp: c.Fmtp}}
	if n.DTMFPT >= 0 {
		te := media.TelephoneEvent
		fs = append(fs, rtpFormat{PT: uint8(n.DTMFPT), Name: te.Name, ClockRate: te.ClockRate, Channels: 1, Fmtp: te.Fmtp})
	}
	return fs
}

// formatsFor lists the formats of codecs, then telephone-event, for an
// offer or answer.
func formatsFor(codecs []media.Codec, dtmfPT int) []rtpFormat {
	fs := make([]rtpFormat, 0, len(codecs)+1)
	for _, c := range codecs {
		fs = append(fs, rtpFormat{PT: c.PayloadType, Name: c.Name, ClockRate: c.ClockRate, Channels: c.Channels, Fmtp: c.Fmtp})
	}
	if dtmfPT >= 0 {
		te := media.TelephoneEvent
		fs = append(fs, rtpFormat{PT: uint8(dtmfPT), Name: te.Name, ClockRate: te.ClockRate, Channels: 1, Fmtp: te.Fmtp})
	}
	return fs
}

// marshal builds the session description.
func (l localMedia) marshal() []byte {
	ip := l.Addr.Addr()
	addrType := "IP4"
	if ip.Is6() && !ip.Is4In6() {
		addrType = "IP6"
	}
	ci := &sdp.ConnectionInformation{NetworkType: "IN", AddressType: addrType, Address: &sdp.Address{Address: ip.Unmap().String()}}
	md := &sdp.MediaDescription{
		MediaName: sdp.MediaName{Media: "audio", Port: sdp.RangedPort{Value: int(l.Addr.Port())}, Protos: []string{"RTP", "AVP"}},
	}
	for _, f := range l.Formats {
		md.MediaName.Formats = append(md.MediaName.Formats, strconv.Itoa(int(f.PT)))
		rtpmap := fmt.Sprintf("%d %s/%d", f.PT, f.Name, f.ClockRate)
		if f.Channels > 1 {
			rtpmap += "/" + strconv.Itoa(f.Channels)
		}
		md.Attributes = append(md.Attributes, sdp.NewAttribute("rtpmap", rtpmap))
		if f.Fmtp != "" {
			md.Attributes = append(md.Attributes, sdp.NewAttribute("fmtp", fmt.Sprintf("%d %s", f.PT, f.Fmtp)))
		}
	}
	md.Attributes = append(md.Attributes,
		sdp.NewAttribute("ptime", strconv.Itoa(l.Ptime)),
		sdp.NewPropertyAttribute(string(l.Direction)))
	sd := sdp.SessionDescription{
		Origin: sdp.Origin{Username: "setbridge", SessionID: l.SessionID, SessionVersion: l.Version,
			NetworkType: "IN", AddressType: addrType, UnicastAddress: ip.Unmap().String()},
		SessionName:           "setbridge",
		ConnectionInformation: ci,
		TimeDescriptions:      []sdp.TimeDescription{{}},
		MediaDescriptions:     []*sdp.MediaDescription{md},
	}
	b, err := sd.Marshal()
	if err != nil {
		// Marshal fails only on nil fields, which this function never leaves.
		return nil
	}
	return b
}
