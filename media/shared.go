package media

import "time"

// Shared encoding: every listener of a room hears the same common mix, so
// the room encodes it once per format and hands the same payload to every
// leg of that format; only RTP headers differ per leg.

// FormatKey identifies one encoded downlink format: legs whose keys are
// equal can be sent the very same payload bytes. The zero FormatKey means
// "no shared format now; send me PCM".
type FormatKey struct {
	// Codec is the SDP encoding name, as CodecByName takes it
	// (PCMU, PCMA, G722, opus).
	Codec string
	// Ptime is the packet duration (20 ms when zero).
	Ptime time.Duration
}

// SharedPacket is one encoded packet of the common mix.
type SharedPacket struct {
	// Payload is the codec payload, without RTP header. It is shared by
	// every leg of the format: read-only, valid until WriteShared returns.
	Payload []byte
	// Samples is the number of PCM samples the packet holds at the codec's
	// sample rate; the leg advances its RTP timestamp by
	// codec.RTPTicks(Samples).
	Samples int
}

// SharedFrame is the common mix of one tick in one format.
type SharedFrame struct {
	Tick   uint64
	Format FormatKey
	// Packets are the packets completed this tick, in order: one per tick
	// at 20 ms, two at 10 ms, and at 30 ms or 40 ms one on some ticks and
	// none on others.
	Packets []SharedPacket
}

// SharedDownlink is an optional interface of a participant that can send a
// payload encoded once for many legs.
type SharedDownlink interface {
	// DownlinkFormat returns the format the leg sends now. It is called on
	// every tick the participant is a listener, so a re-INVITE that
	// changes the codec takes effect on the next tick; the zero FormatKey
	// sends the leg WriteFrame(pcm) instead.
	DownlinkFormat() FormatKey
	// WriteShared is called, on the ticks the participant is a listener,
	// in place of WriteFrame. f and everything it points to are shared by
	// every leg of the format and valid only during the call: the leg
	// copies the payload into its packet, adds its own RTP header, and
	// must not modify or keep f.
	WriteShared(f *SharedFrame)
}
