package mixnet

import (
	"encoding/base32"
	"strings"

	"github.com/setbridge/setbridge/fabric"
)

// Control messages between a room's selector nodes and its mixer, JSON with
// the fabric's version field (fabric.WireVersion).
//
//	sb.node.<mixer>.mix.join   joinRequest  → joinReply   (request)
//	sb.node.<mixer>.mix.leave  leaveRequest → joinReply   (request)
//	sb.node.<mixer>.mix.mute   muteRequest  → joinReply   (request)
//	sb.room.<room>.energy      energyReport               (publish, every tick)
//	sb.room.<room>.selection   selectionNotice            (publish, on change)
//
// Audio travels as fabric streams: {room, participant, uplink} from the
// selector node, {room, participant, mix} (the N-1 mix) and {room, "", mix}
// (the common mix) from the mixer; all Opus in RTP with a 48 kHz clock whose
// timestamp is the sender's tick times 960.

type joinRequest struct {
	V           int    `json:"v"`
	Room        string `json:"room"`
	Participant string `json:"participant"`
	Node        string `json:"node"` // the selector node
	Muted       bool   `json:"muted,omitempty"`
}

type joinReply struct {
	V     int    `json:"v"`
	Error string `json:"error,omitempty"`
	// Threshold is the mixer's talking threshold in -dBov: the selector
	// node forwards the frames at least this loud.
	Threshold uint8 `json:"threshold,omitempty"`
	// Rate is the mixer's PCM rate.
	Rate int `json:"rate,omitempty"`
}

type leaveRequest struct {
	V           int    `json:"v"`
	Room        string `json:"room"`
	Participant string `json:"participant"`
}

type muteRequest struct {
	V           int    `json:"v"`
	Room        string `json:"room"`
	Participant string `json:"participant"`
	Muted       bool   `json:"muted"`
}

type energyEntry struct {
	P     string `json:"p"`
	Level uint8  `json:"l"`
}

type energyReport struct {
	V       int           `json:"v"`
	Node    string        `json:"node"`
	Tick    uint64        `json:"tick"`
	Entries []energyEntry `json:"e"`
}

type selectionNotice struct {
	V        int      `json:"v"`
	Tick     uint64   `json:"tick"`
	Selected []string `json:"selected"`
}

var roomEnc = base32.HexEncoding.WithPadding(base32.NoPadding)

// roomToken is a room id made safe as one NATS subject token.
func roomToken(room string) string { return strings.ToLower(roomEnc.EncodeToString([]byte(room))) }

func energySubject(room string) string     { return "sb.room." + roomToken(room) + ".energy" }
func selectionSubject(room string) string  { return "sb.room." + roomToken(room) + ".selection" }
func nodeSubject(node, verb string) string { return "sb.node." + node + ".mix." + verb }

func uplinkStream(room, p string) fabric.StreamID {
	return fabric.StreamID{Room: room, Participant: p, Kind: fabric.KindUplink}
}
func mixStream(room, p string) fabric.StreamID {
	return fabric.StreamID{Room: room, Participant: p, Kind: fabric.KindMix}
}
