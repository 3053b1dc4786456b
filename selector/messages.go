package selector

// ParticipantID names one participant (one uplink) within a room.
type ParticipantID string

// Silence is the RFC 6464 level of digital silence: -127 dBov, the
// quietest level the scale can express.
const Silence uint8 = 127

// The messages below are what a selector and a mixer say to each other
// once per tick. They hold only plain values (no pointers to either side's
// state), so the same structs can go on a wire later unchanged; in process
// they are passed by pointer and their slices are reused from tick to tick.

// EnergyEntry is one uplink's line in an EnergyReport.
type EnergyEntry struct {
	ParticipantID ParticipantID
	// Level is the frame's audio level in -dBov on the RFC 6464 scale:
	// 0 is the loudest (0 dBov), 127 is silence (-127 dBov or below).
	Level uint8
	// Muted says the participant is muted: the mixer never selects it and
	// the selector never forwards it. Level is still measured, so that a
	// client can be told "you are talking while muted".
	Muted bool
}

// EnergyReport carries the level of every uplink a selector caches for one
// tick, in one batch.
type EnergyReport struct {
	Tick    uint64
	Entries []EnergyEntry
}

// SelectionNotice tells a selector which of its uplinks the mixer selected,
// and asks for their frames of Tick.
type SelectionNotice struct {
	Tick     uint64
	Selected []ParticipantID
}

// ForwardedFrame is one selected uplink's frame of Tick, forwarded from
// the selector's cache to the mixer.
type ForwardedFrame struct {
	Tick          uint64
	ParticipantID ParticipantID
	// PCM is one frame at the room's rate. In process it points into the
	// selector's cache: it is valid until the selector's next Report and
	// must not be modified.
	PCM []int16
}

// LevelReader is an optional interface of an uplink that knows its own
// audio level without being decoded: a browser leg whose packets carry the
// RFC 6464 header extension, for instance.
//
// When an uplink implements it, the selector calls ReadLevel once per tick
// in place of ReadFrame and ranks the uplink by that level. ReadFrame is
// then called only on the ticks the uplink is selected, at most once, right
// after the mixer's decision in the same tick. So ReadLevel consumes the
// tick's frame (the uplink advances its playout by one frame whether or not
// the PCM is read) and the uplink keeps that frame readable until its next
// ReadLevel.
type LevelReader interface {
	// ReadLevel returns this tick's level in -dBov (0..127), or ok false
	// when the uplink has no audio this tick (counted as silence).
	ReadLevel() (dBov uint8, ok bool)
}
