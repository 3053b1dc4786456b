package webhook

import (
	"encoding/json"
	"fmt"
	"time"
)

// Event types.
const (
	RoomStarted       = "room_started"
	RoomFinished      = "room_finished"
	ParticipantJoined = "participant_joined"
	ParticipantLeft   = "participant_left"
	RecordingStarted  = "recording_started"
	RecordingEnded    = "recording_ended"
)

// EventTypes lists every event type, for endpoint filters.
var EventTypes = []string{RoomStarted, RoomFinished, ParticipantJoined, ParticipantLeft, RecordingStarted, RecordingEnded}

// Event is something to tell the endpoints about. It is sent as
//
//	{"type":"participant_joined","timestamp":"2026-03-01T12:00:00Z","data":{…,"room":"board"}}
//
// where data is Data encoded as JSON (it must encode as an object, or be
// nil) with "room" set to Room when Room is not empty.
type Event struct {
	Type string
	Room string
	Data any
	// At is when it happened; Send uses its clock when At is zero.
	At time.Time
}

type payload struct {
	Type      string                     `json:"type"`
	Timestamp string                     `json:"timestamp"`
	Data      map[string]json.RawMessage `json:"data"`
}

// body encodes the event.
func (e Event) body() ([]byte, error) {
	if e.Type == "" {
		return nil, fmt.Errorf("%w: no type", ErrBadEvent)
	}
	var data map[string]json.RawMessage
	if e.Data != nil {
		raw, err := json.Marshal(e.Data)
		if err != nil {
			return nil, fmt.Errorf("%w: %s data: %v", ErrBadEvent, e.Type, err)
		}
		if err := json.Unmarshal(raw, &data); err != nil {
			return nil, fmt.Errorf("%w: %s data is not a JSON object", ErrBadEvent, e.Type)
		}
	}
	if data == nil {
		data = map[string]json.RawMessage{}
	}
	if e.Room != "" {
		room, _ := json.Marshal(e.Room) // a string always encodes
		data["room"] = room
	}
	return json.Marshal(payload{Type: e.Type, Timestamp: e.At.UTC().Format(time.RFC3339Nano), Data: data})
}
