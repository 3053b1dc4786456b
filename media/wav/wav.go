// Package wav reads and writes 16-bit PCM WAV files, mono or stereo.
//
// Read accepts any RIFF/WAVE stream whose fmt chunk says 16-bit PCM, either
// as WAVE_FORMAT_PCM or as WAVE_FORMAT_EXTENSIBLE with the PCM subformat.
// Chunks other than fmt and data (LIST, fact, cue, bext, ...) are skipped,
// odd-sized chunks are padded as RIFF requires (a missing pad byte is
// tolerated), and a data size of 0 or 0xFFFFFFFF, as left by streaming
// writers, means the samples run to the end of the stream. Everything else
// is refused with an error that wraps one of the Err* values of this
// package; a *FormatError says which format an unsupported file is in.
//
// Writer writes a file incrementally, as a recorder does, and patches the
// sizes on Close. FixHeader repairs the sizes of a file whose writer died
// before Close.
package wav

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Audio is a decoded WAV file.
type Audio struct {
	// Rate is the sample rate in Hz.
	Rate int
	// Channels is 1 (mono) or 2 (stereo).
	Channels int
	// Samples holds the samples, interleaved (L R L R ... for stereo).
	// Its length is a multiple of Channels.
	Samples []int16
}

// Frames returns the number of sample frames (samples per channel).
func (a *Audio) Frames() int {
	if a.Channels <= 0 {
		return 0
	}
	return len(a.Samples) / a.Channels
}

// Duration returns the playing time of a.
func (a *Audio) Duration() time.Duration {
	if a.Rate <= 0 {
		return 0
	}
	return time.Duration(int64(a.Frames()) * int64(time.Second) / int64(a.Rate))
}

// Read decodes a 16-bit PCM WAV stream. It reads up to the end of the data
// chunk (to the end of the stream when the data size is 0 or 0xFFFFFFFF)
// and may read past it, since it buffers its input.
//
// A trailing partial frame is dropped. If the stream ends before the number
// of bytes the data chunk declares, Read returns the whole frames it got
// together with an error wrapping ErrTruncated; any other error comes with
// a nil *Audio.
func Read(r io.Reader) (*Audio, error) {
	s := newScanner(r)
	h, err := s.readHeader()
	if err != nil {
		return nil, err
	}
	a := &Audio{Rate: h.rate, Channels: h.channels}

	remaining := int64(-1) // -1: read to EOF
	if !h.toEOF() {
		remaining = int64(h.dataSize)
		// Trust the declared size only so far for the initial allocation:
		// a corrupt header must not make us allocate gigabytes.
		a.Samples = make([]int16, 0, min(remaining/2, 1<<20))
	}
	buf := make([]byte, 32<<10)
	have := 0 // undecoded bytes at the start of buf (0 or 1)
	var readErr error
	for remaining != 0 {
		lim := len(buf)
		if remaining > 0 && remaining < int64(lim-have) {
			lim = have + int(remaining)
		}
		n, err := s.br.Read(buf[have:lim])
		have += n
		if remaining > 0 {
			remaining -= int64(n)
		}
		even := have &^ 1
		for i := 0; i < even; i += 2 {
			a.Samples = append(a.Samples, int16(binary.LittleEndian.Uint16(buf[i:])))
		}
		copy(buf, buf[even:have])
		have -= even
		if err != nil {
			if err != io.EOF {
				readErr = fmt.Errorf("wav: reading data: %w", err)
			} else if remaining > 0 {
				readErr = fmt.Errorf("%w: data chunk declares %d bytes, stream holds %d",
					ErrTruncated, h.dataSize, int64(h.dataSize)-remaining)
			}
			break
		}
	}
	a.Samples = a.Samples[:len(a.Samples)-len(a.Samples)%a.Channels]
	if readErr != nil && !errors.Is(readErr, ErrTruncated) {
		return nil, readErr
	}
	return a, readErr
}

// ReadFile reads and decodes the WAV file at path.
func ReadFile(path string) (*Audio, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	a, err := Read(f)
	if err != nil {
		err = fmt.Errorf("%s: %w", path, err)
	}
	return a, err
}

// WriteFile writes a as a canonical 44-byte-header 16-bit PCM WAV file at
// path, creating or truncating it.
func WriteFile(path string, a *Audio) (err error) {
	if a == nil {
		return errors.New("wav: WriteFile: nil *Audio")
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	bw := bufio.NewWriterSize(f, 64<<10)
	w, err := NewWriter(&bufferedSeeker{bw, f}, a.Rate, a.Channels)
	if err != nil {
		return err
	}
	if err := w.Write(a.Samples); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return bw.Flush()
}

// bufferedSeeker lets Writer write through a bufio.Writer and flushes it
// before every seek.
type bufferedSeeker struct {
	*bufio.Writer
	f io.Seeker
}

func (b *bufferedSeeker) Seek(off int64, whence int) (int64, error) {
	if err := b.Flush(); err != nil {
		return 0, err
	}
	return b.f.Seek(off, whence)
}
