package audiotest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"
)

// Audio is 16-bit PCM; Samples are interleaved when Channels > 1.
type Audio struct {
	Rate     int
	Channels int
	Samples  []int16
}

// Frames is the number of sample frames (samples per channel).
func (a *Audio) Frames() int {
	if a.Channels <= 0 {
		return 0
	}
	return len(a.Samples) / a.Channels
}

// Duration is the length of the audio.
func (a *Audio) Duration() time.Duration {
	if a.Rate <= 0 {
		return 0
	}
	return time.Duration(float64(a.Frames()) / float64(a.Rate) * float64(time.Second))
}

// Mono returns one channel: the samples themselves for mono audio, the
// average of the channels otherwise.
func (a *Audio) Mono() []int16 {
	if a.Channels <= 1 {
		return a.Samples
	}
	out := make([]int16, a.Frames())
	for i := range out {
		sum := 0
		for c := 0; c < a.Channels; c++ {
			sum += int(a.Samples[i*a.Channels+c])
		}
		out[i] = int16(sum / a.Channels)
	}
	return out
}

// Channel returns channel c (0-based) of the audio.
func (a *Audio) Channel(c int) []int16 {
	if a.Channels <= 1 {
		return a.Samples
	}
	out := make([]int16, a.Frames())
	for i := range out {
		out[i] = a.Samples[i*a.Channels+c]
	}
	return out
}

const (
	wavFormatPCM        = 1
	wavFormatExtensible = 0xFFFE
)

// ReadWAV reads a 16-bit PCM WAV file (plain or WAVE_FORMAT_EXTENSIBLE).
// It is lenient with recordings that were not finalised: a data chunk whose
// declared size runs past the end of the file (or is 0 or 0xFFFFFFFF, as a
// writer leaves it before closing) is read up to the end of the file.
func ReadWAV(path string) (*Audio, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	a, err := ParseWAV(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// ParseWAV decodes WAV file contents; see ReadWAV.
func ParseWAV(data []byte) (*Audio, error) {
	if len(data) < 12 || string(data[0:4]) != "RIFF" || string(data[8:12]) != "WAVE" {
		return nil, errors.New("not a RIFF/WAVE file")
	}
	var (
		a       Audio
		haveFmt bool
		bits    int
	)
	p := 12
	for p+8 <= len(data) {
		id := string(data[p : p+4])
		size := int(binary.LittleEndian.Uint32(data[p+4 : p+8]))
		body := p + 8
		switch id {
		case "fmt ":
			if size < 16 || body+16 > len(data) {
				return nil, errors.New("short fmt chunk")
			}
			f := data[body:]
			format := binary.LittleEndian.Uint16(f[0:2])
			a.Channels = int(binary.LittleEndian.Uint16(f[2:4]))
			a.Rate = int(binary.LittleEndian.Uint32(f[4:8]))
			bits = int(binary.LittleEndian.Uint16(f[14:16]))
			if format == wavFormatExtensible && size >= 40 && body+26 <= len(data) {
				format = binary.LittleEndian.Uint16(f[24:26])
			}
			if format != wavFormatPCM {
				return nil, fmt.Errorf("unsupported WAV format tag %#x (want PCM)", format)
			}
			if bits != 16 {
				return nil, fmt.Errorf("unsupported sample size %d bits (want 16)", bits)
			}
			if a.Channels < 1 || a.Rate < 1 {
				return nil, fmt.Errorf("bad fmt chunk: %d channels, %d Hz", a.Channels, a.Rate)
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return nil, errors.New("data chunk before fmt chunk")
			}
			end := body + size
			if size == 0 || size == 0xFFFFFFFF || end > len(data) {
				end = len(data)
			}
			n := (end - body) / 2
			n -= n % a.Channels
			a.Samples = make([]int16, n)
			for i := range a.Samples {
				a.Samples[i] = int16(binary.LittleEndian.Uint16(data[body+2*i:]))
			}
			return &a, nil
		}
		p = body + size + size&1
	}
	if !haveFmt {
		return nil, errors.New("no fmt chunk")
	}
	return nil, errors.New("no data chunk")
}

// EncodeWAV returns a canonical 44-byte-header 16-bit PCM WAV file.
func EncodeWAV(a *Audio) []byte {
	ch := max(a.Channels, 1)
	var buf bytes.Buffer
	dataLen := 2 * len(a.Samples)
	w := func(v any) { _ = binary.Write(&buf, binary.LittleEndian, v) }
	buf.WriteString("RIFF")
	w(uint32(36 + dataLen))
	buf.WriteString("WAVE")
	buf.WriteString("fmt ")
	w(uint32(16))
	w(uint16(wavFormatPCM))
	w(uint16(ch))
	w(uint32(a.Rate))
	w(uint32(a.Rate * ch * 2))
	w(uint16(ch * 2))
	w(uint16(16))
	buf.WriteString("data")
	w(uint32(dataLen))
	w(a.Samples)
	return buf.Bytes()
}

// WriteWAV writes a as a 16-bit PCM WAV file.
func WriteWAV(path string, a *Audio) error {
	return os.WriteFile(path, EncodeWAV(a), 0o644)
}

// WriteMonoWAV writes mono samples at rate to path.
func WriteMonoWAV(path string, rate int, samples []int16) error {
	return WriteWAV(path, &Audio{Rate: rate, Channels: 1, Samples: samples})
}

// DecodeALaw decodes G.711 A-law bytes to 16-bit linear PCM.
func DecodeALaw(b []byte) []int16 {
	out := make([]int16, len(b))
	for i, v := range b {
		out[i] = alawToLinear(v)
	}
	return out
}

// DecodeULaw decodes G.711 µ-law bytes to 16-bit linear PCM.
func DecodeULaw(b []byte) []int16 {
	out := make([]int16, len(b))
	for i, v := range b {
		out[i] = ulawToLinear(v)
	}
	return out
}

// alawToLinear expands one A-law code: the even bits are inverted on the
// wire; 3 bits of segment (exponent) and 4 of mantissa follow the sign.
func alawToLinear(a byte) int16 {
	a ^= 0x55
	mant := int(a&0x0f)<<4 + 8 // centre of the quantisation step
	seg := int(a&0x70) >> 4
	if seg > 0 {
		mant = (mant + 0x100) << (seg - 1)
	}
	if a&0x80 != 0 {
		return int16(mant)
	}
	return int16(-mant)
}

// ulawToLinear expands one µ-law code (bits inverted on the wire; biased
// by 0x84 before the exponent is applied).
func ulawToLinear(u byte) int16 {
	u = ^u
	mag := (int(u&0x0f)<<3 + 0x84) << ((u & 0x70) >> 4)
	if u&0x80 != 0 {
		return int16(0x84 - mag)
	}
	return int16(mag - 0x84)
}
