package recorder

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"

	"github.com/setbridge/setbridge/media/wav"
)

// wavHeaderLen is the size of the canonical header of a 16-bit PCM WAV
// file, which every segment starts with.
const wavHeaderLen = 44

// putWAVHeader writes the canonical 44-byte header of a 16-bit PCM mono
// file at rate holding dataBytes of samples.
func putWAVHeader(b []byte, rate int, dataBytes uint32) {
	le := binary.LittleEndian
	copy(b[0:4], "RIFF")
	le.PutUint32(b[4:8], wavHeaderLen-8+dataBytes)
	copy(b[8:12], "WAVE")
	copy(b[12:16], "fmt ")
	le.PutUint32(b[16:20], 16)
	le.PutUint16(b[20:22], 1) // PCM
	le.PutUint16(b[22:24], 1) // mono
	le.PutUint32(b[24:28], uint32(rate))
	le.PutUint32(b[28:32], uint32(rate*2))
	le.PutUint16(b[32:34], 2)
	le.PutUint16(b[34:36], 16)
	copy(b[36:40], "data")
	le.PutUint32(b[40:44], dataBytes)
}

// segFile is the open segment of a stream.
//
// The header is written first with the sizes of a full segment, so that a
// full segment (every one but a stream's last) is final as written and its
// SHA-256 is computed while writing. A segment closed short (the last one,
// or on failure) gets its header fixed and is hashed again from the disk.
type segFile struct {
	f         *os.File
	name      string
	firstTick uint64
	frames    uint64    // frames encoded into the file or the stream's buffer
	written   int64     // bytes written to f, header included
	h         hash.Hash // SHA-256 of the written bytes
}

// openSegment creates a segment file (it must not exist).
func openSegment(path, name string, firstTick uint64) (*segFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return nil, fmt.Errorf("%w: create segment: %w", ErrWrite, err)
	}
	return &segFile{f: f, name: name, firstTick: firstTick, h: sha256.New()}, nil
}

// write writes b to the file and the hash; it counts what was written even
// on error.
func (s *segFile) write(b []byte) error {
	n, err := s.f.Write(b)
	s.written += int64(n)
	s.h.Write(b[:n])
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrWrite, s.name, err)
	}
	return nil
}

// closeFull closes a segment whose header already holds its sizes.
func (s *segFile) closeFull() (sum [32]byte, err error) {
	s.h.Sum(sum[:0])
	if err := s.f.Sync(); err != nil {
		_ = s.f.Close()
		return sum, fmt.Errorf("%w: sync %s: %w", ErrWrite, s.name, err)
	}
	if err := s.f.Close(); err != nil {
		return sum, fmt.Errorf("%w: close %s: %w", ErrWrite, s.name, err)
	}
	return sum, nil
}

// errNoAudio means a segment file holds no whole frame (or not even a
// header): it is removed rather than listed.
var errNoAudio = errors.New("segment holds no whole frame")

// sealPartial makes the file at path a valid segment of whole frames:
// it cuts it to whole frames, fixes the header sizes with wav.FixHeader,
// checks the header is the canonical one for rate, fsyncs it and hashes
// it from the disk. It is used for a stream's last segment, for segments
// of a failed recording and by Recover. A file too short to hold a frame
// is removed and errNoAudio returned.
func sealPartial(path string, rate, frameBytes int) (frames uint64, size int64, sum [32]byte, err error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, 0, sum, fmt.Errorf("%w: open %s: %w", ErrWrite, path, err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("%w: close %s: %v", ErrWrite, path, cerr)
		}
	}()
	fi, err := f.Stat()
	if err != nil {
		return 0, 0, sum, fmt.Errorf("%w: stat %s: %w", ErrWrite, path, err)
	}
	data := fi.Size() - wavHeaderLen
	if data < int64(frameBytes) {
		_ = f.Close()
		if err := os.Remove(path); err != nil {
			return 0, 0, sum, fmt.Errorf("%w: remove empty segment %s: %w", ErrWrite, path, err)
		}
		return 0, 0, sum, errNoAudio
	}
	data -= data % int64(frameBytes)
	if err := f.Truncate(wavHeaderLen + data); err != nil {
		return 0, 0, sum, fmt.Errorf("%w: truncate %s: %w", ErrWrite, path, err)
	}
	got, err := wav.FixHeader(f)
	if err != nil {
		return 0, 0, sum, fmt.Errorf("%w: fix header of %s: %w", ErrWrite, path, err)
	}
	if got != data {
		return 0, 0, sum, fmt.Errorf("%w: fix header of %s: %d data bytes, want %d", ErrWrite, path, got, data)
	}
	var want, have [wavHeaderLen]byte
	putWAVHeader(want[:], rate, uint32(data))
	if _, err := f.ReadAt(have[:], 0); err != nil {
		return 0, 0, sum, fmt.Errorf("%w: read header of %s: %w", ErrWrite, path, err)
	}
	if !bytes.Equal(want[:], have[:]) {
		return 0, 0, sum, fmt.Errorf("%w: %s: header is not 16-bit PCM mono at %d Hz", ErrWrite, path, rate)
	}
	if err := f.Sync(); err != nil {
		return 0, 0, sum, fmt.Errorf("%w: sync %s: %w", ErrWrite, path, err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, wavHeaderLen+data)); err != nil {
		return 0, 0, sum, fmt.Errorf("%w: hash %s: %w", ErrWrite, path, err)
	}
	h.Sum(sum[:0])
	return uint64(data) / uint64(frameBytes), wavHeaderLen + data, sum, nil
}
