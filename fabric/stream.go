package fabric

import (
	"encoding/base32"
	"fmt"
	"strings"
)

// StreamID names a stream: a room's participant's uplink, or a room's mix.
type StreamID struct {
	Room        string `json:"room"`
	Participant string `json:"participant"`
	Kind        string `json:"kind"`
}

// Stream kinds.
const (
	KindUplink = "uplink" // what a participant sends
	KindMix    = "mix"    // a room's common mix
)

// String returns "room/participant/kind".
func (s StreamID) String() string { return s.Room + "/" + s.Participant + "/" + s.Kind }

// ParseStreamID parses "room/participant/kind".
func ParseStreamID(v string) (StreamID, error) {
	p := strings.Split(v, "/")
	if len(p) != 3 || p[0] == "" || p[2] == "" {
		return StreamID{}, fmt.Errorf("stream id %q: want room/participant/kind", v)
	}
	return StreamID{Room: p[0], Participant: p[1], Kind: p[2]}, nil
}

var tokenEnc = base32.HexEncoding.WithPadding(base32.NoPadding)

// token is the stream id as one NATS subject token (NATS tokens may not
// hold '.', '*', '>' or spaces; base32hex holds none of them).
func (s StreamID) token() string { return strings.ToLower(tokenEnc.EncodeToString([]byte(s.String()))) }
