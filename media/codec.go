package media

import (
	"fmt"
	"strings"

	"github.com/hraban/opus"
	"github.com/zaf/g711"
)

// Codec describes an audio codec as it appears in SDP and RTP, and the PCM
// it carries.
type Codec struct {
	// Name is the encoding name of the SDP rtpmap line (PCMU, PCMA, G722, opus).
	Name string
	// PayloadType is the static payload type, or the one setbridge offers
	// for a dynamic codec.
	PayloadType uint8
	// ClockRate is the RTP clock rate of the rtpmap line (8000 for G.722,
	// RFC 3551 §4.5.2).
	ClockRate uint32
	// Channels is the channel count of the rtpmap line (2 for opus, RFC 7587).
	Channels int
	// SampleRate is the rate of the mono PCM the codec encodes and decodes.
	SampleRate int
	// Fmtp is the format parameter line setbridge offers, if any.
	Fmtp string
}

// The codecs setbridge speaks.
var (
	PCMU = Codec{Name: "PCMU", PayloadType: 0, ClockRate: 8000, Channels: 1, SampleRate: 8000}
	PCMA = Codec{Name: "PCMA", PayloadType: 8, ClockRate: 8000, Channels: 1, SampleRate: 8000}
	G722 = Codec{Name: "G722", PayloadType: 9, ClockRate: 8000, Channels: 1, SampleRate: 16000}
	Opus = Codec{Name: "opus", PayloadType: 111, ClockRate: 48000, Channels: 2, SampleRate: 48000,
		Fmtp: "minptime=10;useinbandfec=1"}
	// TelephoneEvent is RFC 4733 DTMF; it carries no PCM.
	TelephoneEvent = Codec{Name: "telephone-event", PayloadType: 101, ClockRate: 8000, Channels: 1,
		Fmtp: "0-16"}
)

// AudioCodecs lists every audio codec in setbridge's default preference.
var AudioCodecs = []Codec{PCMU, PCMA, G722, Opus}

// CodecByName finds an audio codec by its SDP encoding name, ignoring case.
func CodecByName(name string) (Codec, error) {
	for _, c := range AudioCodecs {
		if strings.EqualFold(c.Name, name) {
			return c, nil
		}
	}
	if strings.EqualFold(name, TelephoneEvent.Name) {
		return TelephoneEvent, nil
	}
	return Codec{}, fmt.Errorf("%w: %q", ErrUnknownCodec, name)
}

// RTPTicks converts a count of PCM samples at SampleRate into RTP timestamp
// units at ClockRate.
func (c Codec) RTPTicks(samples int) uint32 {
	return uint32(int64(samples) * int64(c.ClockRate) / int64(c.SampleRate))
}

// Encoder turns mono PCM at the codec's sample rate into one payload.
type Encoder interface {
	// Encode writes the payload for pcm into dst and returns its length.
	Encode(dst []byte, pcm []int16) (int, error)
}

// Decoder turns one payload into mono PCM at the codec's sample rate.
type Decoder interface {
	// Decode writes the samples of payload into dst and returns their count.
	Decode(dst []int16, payload []byte) (int, error)
}

// NewEncoder returns a fresh encoder for c.
func (c Codec) NewEncoder() (Encoder, error) {
	switch c.Name {
	case PCMU.Name:
		return ulawCodec, nil
	case PCMA.Name:
		return alawCodec, nil
	case G722.Name:
		return newG722Encoder(), nil
	case Opus.Name:
		e, err := opus.NewEncoder(c.SampleRate, 1, opus.AppVoIP)
		if err != nil {
			return nil, fmt.Errorf("opus encoder: %w", err)
		}
		if err := e.SetInBandFEC(true); err != nil {
			return nil, fmt.Errorf("opus encoder: %w", err)
		}
		return opusEncoder{e}, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownCodec, c.Name)
}

// NewDecoder returns a fresh decoder for c.
func (c Codec) NewDecoder() (Decoder, error) {
	switch c.Name {
	case PCMU.Name:
		return ulawCodec, nil
	case PCMA.Name:
		return alawCodec, nil
	case G722.Name:
		return newG722Decoder(), nil
	case Opus.Name:
		d, err := opus.NewDecoder(c.SampleRate, 1)
		if err != nil {
			return nil, fmt.Errorf("opus decoder: %w", err)
		}
		return opusDecoder{d}, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownCodec, c.Name)
}

// g711Codec is μ-law or A-law (ITU-T G.711): one byte per sample. Decoding
// is a lookup in a table built once from zaf/g711.
type g711Codec struct {
	encode func(int16) uint8
	decode *[256]int16
}

var (
	ulawTable, alawTable [256]int16
	ulawCodec            = g711Codec{g711.EncodeUlawFrame, &ulawTable}
	alawCodec            = g711Codec{g711.EncodeAlawFrame, &alawTable}
)

func init() {
	for i := range 256 {
		ulawTable[i] = g711.DecodeUlawFrame(uint8(i))
		alawTable[i] = g711.DecodeAlawFrame(uint8(i))
	}
}

func (c g711Codec) Encode(dst []byte, pcm []int16) (int, error) {
	if len(dst) < len(pcm) {
		return 0, ErrShortBuffer
	}
	for i, s := range pcm {
		dst[i] = c.encode(s)
	}
	return len(pcm), nil
}

func (c g711Codec) Decode(dst []int16, payload []byte) (int, error) {
	if len(dst) < len(payload) {
		return 0, ErrShortBuffer
	}
	for i, b := range payload {
		dst[i] = c.decode[b]
	}
	return len(payload), nil
}

type opusEncoder struct{ e *opus.Encoder }

func (o opusEncoder) Encode(dst []byte, pcm []int16) (int, error) { return o.e.Encode(pcm, dst) }

type opusDecoder struct{ d *opus.Decoder }

func (o opusDecoder) Decode(dst []int16, payload []byte) (int, error) {
	return o.d.Decode(payload, dst)
}
