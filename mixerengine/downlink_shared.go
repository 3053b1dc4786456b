package mixerengine

import (
	"fmt"
	"time"

	"github.com/setbridge/setbridge/media"
	"github.com/setbridge/setbridge/media/resample"
)

// Shared encoding.
//
// Every participant that is not a selected talker hears the same common
// mix. A leg that implements SharedDownlink does not get that mix as PCM to
// encode on its own: the room encodes the common mix once per distinct
// FormatKey per tick and hands the same payload bytes to every leg of that
// format. So a room's encodes per tick are K (each talker's N-1 mix, encoded
// by its leg) plus one per format its listeners use, not one per
// participant. Legs that do not implement SharedDownlink, and selected
// talkers, still get WriteFrame(pcm).
//
// A leg moves between the two paths as it is selected and released. With
// G.711 that is seamless; with a codec that keeps state between packets
// (G.722, Opus) the far end's decoder sees one stream end and another
// begin, which costs a few milliseconds of mild artefact at each switch (the
// leg may set the RTP marker bit there). The leg keeps its own SSRC,
// sequence numbers and timestamps across switches.

// The shared-encoding types live in media so that edges (sip, webrtc) can
// implement SharedDownlink without importing the mixer.
type (
	FormatKey      = media.FormatKey
	SharedPacket   = media.SharedPacket
	SharedFrame    = media.SharedFrame
	SharedDownlink = media.SharedDownlink
)

// EncoderFunc builds the encoder of one shared downlink format and says
// which PCM rate it takes. The room resamples its mix to that rate.
type EncoderFunc func(FormatKey) (enc media.Encoder, sampleRate int, err error)

// DefaultEncoder builds encoders with media's codecs.
func DefaultEncoder(k FormatKey) (media.Encoder, int, error) {
	c, err := media.CodecByName(k.Codec)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	if c.SampleRate == 0 {
		return nil, 0, fmt.Errorf("%w: %s carries no audio", ErrFormat, c.Name)
	}
	enc, err := c.NewEncoder()
	if err != nil {
		return nil, 0, err
	}
	return enc, c.SampleRate, nil
}

// sharedEncoder turns the common mix into one format's packets, once per
// tick, for every leg of that format. It is owned by the room's tick.
type sharedEncoder struct {
	key   FormatKey
	enc   media.Encoder
	rs    *resample.Resampler // nil when the codec takes the room's rate
	rsBuf []int16
	fifo  *media.SampleFIFO
	pkt   []int16
	bufs  [][]byte
	frame SharedFrame
	last  uint64 // the last tick encoded
	users int    // listeners bound to this format
}

func newSharedEncoder(k FormatKey, roomRate int, newEnc EncoderFunc) (*sharedEncoder, error) {
	enc, rate, err := newEnc(k)
	if err != nil {
		return nil, fmt.Errorf("shared encoder %s/%v: %w", k.Codec, formatPtime(k), err)
	}
	pkt := int(int64(rate) * int64(formatPtime(k)) / int64(time.Second))
	if pkt <= 0 || formatPtime(k) > 200*time.Millisecond {
		return nil, fmt.Errorf("shared encoder %s/%v: %w: ptime", k.Codec, formatPtime(k), ErrFormat)
	}
	s := &sharedEncoder{key: k, enc: enc, fifo: media.NewSampleFIFO(rate/5 + pkt), pkt: make([]int16, pkt)}
	if rate != roomRate {
		if s.rs, err = resample.New(roomRate, rate); err != nil {
			return nil, fmt.Errorf("shared encoder %s/%v: %w", k.Codec, formatPtime(k), err)
		}
		s.rsBuf = make([]int16, s.rs.OutLen(media.FrameSamples(roomRate))+1)
	}
	frame := media.FrameSamples(rate)
	n := frame/pkt + 2
	for range n {
		s.bufs = append(s.bufs, make([]byte, max(1500, 2*pkt)))
	}
	s.frame = SharedFrame{Format: k, Packets: make([]SharedPacket, 0, n)}
	return s, nil
}

// encode returns the frame of tick t, encoding mix on the first call of
// the tick. After a gap (no listener of the format for a while) it starts
// the format afresh rather than send stale buffered audio.
func (s *sharedEncoder) encode(t uint64, mix []int16, c *tickCounts) *SharedFrame {
	if s.last == t {
		return &s.frame
	}
	if s.last != t-1 {
		s.fifo.Reset()
		if s.rs != nil {
			s.rs.Reset()
		}
	}
	s.last = t
	pcm := mix
	if s.rs != nil {
		pcm = s.rsBuf[:s.rs.Process(s.rsBuf, mix)]
	}
	s.fifo.Write(pcm)
	s.frame.Tick = t
	s.frame.Packets = s.frame.Packets[:0]
	for len(s.frame.Packets) < len(s.bufs) && s.fifo.Read(s.pkt) {
		buf := s.bufs[len(s.frame.Packets)]
		n, err := s.enc.Encode(buf, s.pkt)
		c.sharedEncodes++
		if err != nil {
			c.encodeErrors++
			continue
		}
		s.frame.Packets = append(s.frame.Packets, SharedPacket{Payload: buf[:n:n], Samples: len(s.pkt)})
	}
	return &s.frame
}

func formatPtime(k FormatKey) time.Duration {
	if k.Ptime <= 0 {
		return media.FrameDuration
	}
	return k.Ptime
}
