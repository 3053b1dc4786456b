package roomsvc

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/setbridge/setbridge/fabric"
	"github.com/setbridge/setbridge/roster"
)

// WireVersion is the version of the room service's messages (field "v").
// A receiver refuses another version rather than misreading it; fields
// are only ever added within a version.
const WireVersion = 1

// Roles of the room services (fabric.NodeInfo.Roles).
const (
	RoleRoom    = "room"    // the central room service
	RoleRoomSet = "roomset" // a SET's room service
)

// The types of Event. The participant events carry the roster's names.
const (
	EventJoined    = roster.EventJoined    // Participant
	EventUpdated   = roster.EventUpdated   // Participant (mute, name)
	EventLeft      = roster.EventLeft      // ID; Participant when known
	EventSpeaking  = roster.EventSpeaking  // Speaking: the whole selection
	EventRecording = roster.EventRecording // Recording
	EventLocked    = "locked"              // Locked
	EventEnded     = "ended"
	// EventResync says that events may have been missed (the machine's
	// SET service or the central service was taken over): a client
	// holding a list reloads it.
	EventResync = "resync"
)

// Recording states.
const (
	RecordingStarted = "started"
	RecordingPaused  = "paused"
	RecordingStopped = "stopped"
)

// Event is one change in a room, as it travels up and down.
type Event struct {
	Type        string              `json:"type"`
	Participant *roster.Participant `json:"participant,omitempty"`
	ID          string              `json:"id,omitempty"`
	Speaking    []string            `json:"speaking,omitempty"`
	Recording   *RecordingState     `json:"recording,omitempty"`
	Locked      bool                `json:"locked,omitempty"`
	// Touched are the positions of the participants whose speaking flag a
	// speaking event changed (set by the central service, for caches).
	Touched []Key `json:"touched,omitempty"`
}

// RecordingState is a room's recording as the machine recording it says.
type RecordingState struct {
	State string `json:"state"`
	ID    string `json:"id"`
}

// Command types.
const (
	CmdMute      = "mute"
	CmdUnmute    = "unmute"
	CmdKick      = "kick"
	CmdMuteAll   = "mute_all"
	CmdUnmuteAll = "unmute_all"
	CmdLock      = "lock"
	CmdUnlock    = "unlock"
	CmdEnd       = "end"
)

// Command is a moderation command. Mute, unmute and kick name a
// participant and reach only its machine; the others reach every machine
// holding the room.
type Command struct {
	Type        string `json:"type"`
	Room        string `json:"room"`
	Participant string `json:"participant,omitempty"`
}

func (c Command) perParticipant() bool {
	return c.Type == CmdMute || c.Type == CmdUnmute || c.Type == CmdKick
}

func (c Command) valid() bool {
	switch c.Type {
	case CmdMute, CmdUnmute, CmdKick:
		return c.Room != "" && c.Participant != ""
	case CmdMuteAll, CmdUnmuteAll, CmdLock, CmdUnlock, CmdEnd:
		return c.Room != ""
	}
	return false
}

// Member is one participant as a page lists it.
type Member struct {
	roster.Participant
	Speaking bool `json:"speaking"`
}

// Filter selects participants; nil fields and an empty Kind match all.
type Filter struct {
	Speaking *bool       `json:"speaking,omitempty"`
	Muted    *bool       `json:"muted,omitempty"`
	Kind     roster.Kind `json:"kind,omitempty"`
}

func (f Filter) match(p *roster.Participant, speaking bool) bool {
	return (f.Speaking == nil || *f.Speaking == speaking) &&
		(f.Muted == nil || *f.Muted == p.Muted) &&
		(f.Kind == "" || f.Kind == p.Kind)
}

// Query asks for one page of a room's participants.
type Query struct {
	Filter
	PageSize  int    `json:"page_size"`
	PageToken string `json:"page_token,omitempty"`
}

// Page sizes.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

func (q *Query) normalize() error {
	if q.PageSize <= 0 {
		q.PageSize = DefaultPageSize
	}
	if q.PageSize > MaxPageSize {
		q.PageSize = MaxPageSize
	}
	if q.Kind != "" && q.Kind != roster.KindPhone && q.Kind != roster.KindBrowser && q.Kind != roster.KindRobot {
		return fmt.Errorf("%w: kind %q", ErrBadRequest, q.Kind)
	}
	if q.PageToken != "" {
		if _, err := decodeToken(q.PageToken); err != nil {
			return err
		}
	}
	return nil
}

func (q Query) cacheKey(room string) string {
	b := func(p *bool) byte {
		switch {
		case p == nil:
			return '-'
		case *p:
			return 't'
		}
		return 'f'
	}
	return room + "\x00" + string([]byte{b(q.Speaking), b(q.Muted)}) + string(q.Kind) + "\x00" +
		strconv.Itoa(q.PageSize) + "\x00" + q.PageToken
}

// Page is one page of a room's participants.
type Page struct {
	Participants []Member `json:"participants"`
	// Total counts the room's participants that match the filter.
	Total         int    `json:"total"`
	NextPageToken string `json:"next_page_token,omitempty"`
}

// Key is a participant's position in a room's list: joined_at (Unix
// nanoseconds), then id.
type Key struct {
	At int64  `json:"at"`
	ID string `json:"id"`
}

func keyOf(p *roster.Participant) Key { return Key{At: p.JoinedAt.UnixNano(), ID: p.ID} }

func (k Key) compare(o Key) int {
	switch {
	case k.At < o.At:
		return -1
	case k.At > o.At:
		return 1
	}
	return strings.Compare(k.ID, o.ID)
}

// encodeToken makes the opaque page token for the position after k.
func encodeToken(k Key) string {
	return base64.RawURLEncoding.EncodeToString([]byte("1:" + strconv.FormatInt(k.At, 36) + ":" + k.ID))
}

func decodeToken(s string) (Key, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Key{}, fmt.Errorf("%w: page token", ErrBadRequest)
	}
	parts := strings.SplitN(string(b), ":", 3)
	if len(parts) != 3 || parts[0] != "1" {
		return Key{}, fmt.Errorf("%w: page token", ErrBadRequest)
	}
	at, err := strconv.ParseInt(parts[1], 36, 64)
	if err != nil {
		return Key{}, fmt.Errorf("%w: page token", ErrBadRequest)
	}
	return Key{At: at, ID: parts[2]}, nil
}

// Counts are a room's participants by kind, muted and speaking, so that a
// SET service can answer any filter's total without asking.
type Counts [16]int

func kindIndex(k roster.Kind) int {
	switch k {
	case roster.KindPhone:
		return 0
	case roster.KindBrowser:
		return 1
	case roster.KindRobot:
		return 2
	}
	return 3
}

func countIndex(p *roster.Participant, speaking bool) int {
	i := kindIndex(p.Kind) * 4
	if p.Muted {
		i += 2
	}
	if speaking {
		i++
	}
	return i
}

// total counts the participants that match f.
func (c *Counts) total(f Filter) int {
	n := 0
	for i, v := range c {
		kind, muted, speaking := i/4, i&2 != 0, i&1 != 0
		if f.Kind != "" && kindIndex(f.Kind) != kind ||
			f.Muted != nil && *f.Muted != muted ||
			f.Speaking != nil && *f.Speaking != speaking {
			continue
		}
		n += v
	}
	return n
}

// Message types.
const (
	msgRegister = "register" // Members (a chunk); Machines and Last on the last chunk
	msgDelta    = "delta"    // Events, Seq
	msgBye      = "bye"      // the sender no longer holds Room here
	msgBeat     = "beat"     // Rooms; a request, answered by a beatReply
	msgEvents   = "events"   // down: Events, Counts; Machines, if any, are the only machines it is for
	msgPage     = "page"     // Query; answered by a reply with Page
	msgCommand  = "command"  // Command; answered by a reply
	msgHello    = "hello"    // a service started: register now
	msgAlive    = "alive"    // a sign of life, on the receiver's ".alive" subject
)

// message is every room service message; T says which fields matter.
type message struct {
	V        int                  `json:"v"`
	T        string               `json:"t"`
	From     string               `json:"from"` // the sending node
	Set      string               `json:"set,omitempty"`
	Room     string               `json:"room,omitempty"`
	Seq      uint64               `json:"seq,omitempty"`
	Members  []roster.Participant `json:"members,omitempty"`
	Machines []string             `json:"machines,omitempty"`
	// Epochs are the registration epochs of Machines: when a machine
	// registers with a SET service, the time, kept increasing. The
	// central service takes a machine's claim from the SET service with
	// the latest epoch, whatever order the SET services' messages arrive
	// in.
	Epochs map[string]int64 `json:"epochs,omitempty"`
	Last   bool             `json:"last,omitempty"`
	// Moved marks a bye sent because the room moved to another service:
	// the receiver lets the sender's participants go without events, as
	// the new service's registration takes them over.
	Moved   bool              `json:"moved,omitempty"`
	Events  []Event           `json:"events,omitempty"`
	Counts  *Counts           `json:"counts,omitempty"`
	Rooms   map[string]uint64 `json:"rooms,omitempty"`
	Query   *Query            `json:"query,omitempty"`
	Command *Command          `json:"command,omitempty"`
	// Room-level state a registration carries along.
	Speaking  []string        `json:"speaking,omitempty"`
	Recording *RecordingState `json:"recording,omitempty"`
}

// reply answers a request.
type reply struct {
	V      int    `json:"v"`
	Error  string `json:"error,omitempty"`
	Status int    `json:"status,omitempty"` // an HTTP status for Error
	// Resync names the rooms the sender must register in full.
	Resync []string `json:"resync,omitempty"`
	Page   *Page    `json:"page,omitempty"`
	Counts *Counts  `json:"counts,omitempty"`
}

func encode(v any) []byte { return fabric.Encode(v) }

func decode(data []byte, v any) error { return fabric.Decode(data, v, WireVersion, "roomsvc") }

// Chunking keeps every message far below NATS's 1 MB payload limit.
const (
	chunkMembers = 1000
	chunkEvents  = 1000
)

func subjectAgent(node string) string   { return "sb.room.agent." + node }
func subjectSet(node string) string     { return "sb.room.set." + node }
func subjectCentral(node string) string { return "sb.room.central." + node }
func subjectHello(set string) string    { return "sb.room.hello." + set }

const subjectHelloCentral = "sb.room.hello.central"

// subjectAliveSuffix is added to a service's subject for signs of life,
// which a subscription of their own takes apart from the bulk of state.
const subjectAliveSuffix = ".alive"

// centralKey is what the central service's nodes are ranked by.
const centralKey = "central"
