// Package media holds the primitives every other part of setbridge shares:
// frames on a 20 ms clock, codecs, sample FIFOs, a jitter buffer, and the
// small interfaces through which a participant's audio reaches a room and
// the room's mix reaches the participant.
//
// media imports no other setbridge package.
package media

import "time"

// FrameDuration is the length of one mixer tick and of one frame of audio
// moving between parts.
const FrameDuration = 20 * time.Millisecond

// FrameSamples returns the number of mono samples in one frame at rate.
func FrameSamples(rate int) int { return rate / int(time.Second/FrameDuration) }

// Uplink is a participant's audio towards the room. The room's tick calls
// ReadFrame once per frame with dst sized for one frame at the room's rate.
// It reports false when the participant had no audio for this frame (not
// yet started, lost, on hold); dst is then left unspecified and the room
// treats the frame as silence.
type Uplink interface {
	ReadFrame(dst []int16) bool
}

// Downlink is the room's audio towards a participant. The room's tick calls
// WriteFrame once per frame with one frame at the room's rate; the callee
// must not keep pcm after it returns.
type Downlink interface {
	WriteFrame(pcm []int16)
}

// Participant is anything that both speaks into and listens to a room: a
// phone leg, a browser, a robot.
type Participant interface {
	Uplink
	Downlink
}
