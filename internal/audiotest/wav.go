package audiotest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/zaf/g711"

	"github.com/setbridge/setbridge/media/wav"
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

// ReadWAV reads a 16-bit PCM WAV file (plain or WAVE_FORMAT_EXTENSIBLE)
// with media/wav. It is lenient with recordings that were not finalised:
// the frames that are there are returned.
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
	w, err := wav.Read(bytes.NewReader(data))
	if err != nil && !(errors.Is(err, wav.ErrTruncated) && w != nil) {
		return nil, err
	}
	return &Audio{Rate: w.Rate, Channels: w.Channels, Samples: w.Samples}, nil
}

// EncodeWAV returns a canonical 16-bit PCM WAV file.
func EncodeWAV(a *Audio) []byte {
	var buf seekBuffer
	w, err := wav.NewWriter(&buf, a.Rate, max(a.Channels, 1))
	if err != nil {
		return nil
	}
	_ = w.Write(a.Samples)
	_ = w.Close()
	return buf.b
}

// WriteWAV writes a as a 16-bit PCM WAV file.
func WriteWAV(path string, a *Audio) error {
	return wav.WriteFile(path, &wav.Audio{Rate: a.Rate, Channels: max(a.Channels, 1), Samples: a.Samples})
}

// WriteMonoWAV writes mono samples at rate to path.
func WriteMonoWAV(path string, rate int, samples []int16) error {
	return WriteWAV(path, &Audio{Rate: rate, Channels: 1, Samples: samples})
}

// seekBuffer is an in-memory io.WriteSeeker for EncodeWAV.
type seekBuffer struct {
	b   []byte
	pos int
}

func (s *seekBuffer) Write(p []byte) (int, error) {
	if need := s.pos + len(p); need > len(s.b) {
		s.b = append(s.b, make([]byte, need-len(s.b))...)
	}
	copy(s.b[s.pos:], p)
	s.pos += len(p)
	return len(p), nil
}

func (s *seekBuffer) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
		s.pos = int(off)
	case io.SeekCurrent:
		s.pos += int(off)
	case io.SeekEnd:
		s.pos = len(s.b) + int(off)
	}
	return int64(s.pos), nil
}

// DecodeALaw decodes G.711 A-law bytes to 16-bit linear PCM.
func DecodeALaw(b []byte) []int16 {
	out := make([]int16, len(b))
	for i, v := range b {
		out[i] = g711.DecodeAlawFrame(v)
	}
	return out
}

// DecodeULaw decodes G.711 µ-law bytes to 16-bit linear PCM.
func DecodeULaw(b []byte) []int16 {
	out := make([]int16, len(b))
	for i, v := range b {
		out[i] = g711.DecodeUlawFrame(v)
	}
	return out
}
