package wav

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// Sizes of the canonical header this package writes.
const (
	riffHeaderLen  = 12 // "RIFF" size "WAVE"
	chunkHeaderLen = 8  // id size
	fmtPCMLen      = 16 // fmt chunk body for WAVE_FORMAT_PCM
	canonicalLen   = riffHeaderLen + chunkHeaderLen + fmtPCMLen + chunkHeaderLen

	// unknownSize is the size placeholder streaming writers put in the
	// RIFF and data size fields; a data size of 0 or unknownSize means
	// "read to the end of the stream".
	unknownSize = 0xFFFFFFFF

	tagPCM        = 0x0001
	tagExtensible = 0xFFFE

	maxFmtRead = 64 // bytes of a fmt chunk we look at; the rest is skipped
)

// ksSubtypeSuffix is bytes 2..15 of the KSDATAFORMAT_SUBTYPE_* GUIDs
// {XXXXXXXX-0000-0010-8000-00AA00389B71} as they are laid out in a file;
// bytes 0..1 hold the format tag (the upper two bytes of Data1 are zero).
var ksSubtypeSuffix = [14]byte{0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71}

// format is what we keep of a fmt chunk.
type format struct {
	rate     int
	channels int
}

func (f format) blockAlign() int { return 2 * f.channels }

// header is the result of walking a WAV stream up to the first byte of the
// data chunk's payload.
type header struct {
	format
	dataSizeOff int64  // offset of the data chunk's size field
	dataOff     int64  // offset of the first data byte
	dataSize    uint32 // size the data chunk declares
}

// toEOF reports whether the data chunk size is a streaming placeholder
// (0 or 0xFFFFFFFF), meaning the data runs to the end of the stream.
func (h *header) toEOF() bool { return h.dataSize == 0 || h.dataSize == unknownSize }

// scanner reads a stream through a bufio.Reader and counts the bytes
// consumed, so that offsets are known for FixHeader.
type scanner struct {
	br  *bufio.Reader
	off int64
}

func newScanner(r io.Reader) *scanner {
	return &scanner{br: bufio.NewReaderSize(r, 32<<10)}
}

// readFull reads exactly len(p) bytes. A short read at the end of the
// stream is reported as io.EOF (nothing read) or io.ErrUnexpectedEOF.
func (s *scanner) readFull(p []byte) (int, error) {
	n, err := io.ReadFull(s.br, p)
	s.off += int64(n)
	return n, err
}

// skip discards n bytes.
func (s *scanner) skip(n int64) error {
	for n > 0 {
		step := int(min(n, 1<<30))
		d, err := s.br.Discard(step)
		s.off += int64(d)
		n -= int64(d)
		if err != nil {
			if err == io.EOF {
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// isID reports whether b looks like a RIFF chunk id: four printable ASCII
// characters.
func isID(b []byte) bool {
	if len(b) < 4 {
		return false
	}
	for _, c := range b[:4] {
		if c < 0x20 || c > 0x7E {
			return false
		}
	}
	return true
}

// skipPad consumes the pad byte that follows an odd-sized chunk. Some
// writers forget it; if the next byte is not zero and the next four bytes
// already look like a chunk id, the pad is taken to be missing.
func (s *scanner) skipPad() error {
	p, err := s.br.Peek(4)
	if len(p) == 0 {
		if err == io.EOF {
			return nil // pad missing at end of stream: harmless
		}
		return err
	}
	if p[0] != 0 && isID(p) {
		return nil
	}
	return s.skip(1)
}

// truncErr converts end-of-stream errors met inside the header into
// ErrTruncated and wraps other read errors.
func truncErr(err error, where string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: stream ends inside %s", ErrTruncated, where)
	}
	return fmt.Errorf("wav: reading %s: %w", where, err)
}

// readHeader walks the RIFF chunks up to the payload of the data chunk,
// validating the fmt chunk on the way. On success the scanner is
// positioned on the first data byte.
func (s *scanner) readHeader() (*header, error) {
	var b [maxFmtRead]byte
	n, err := s.readFull(b[:riffHeaderLen])
	if n < 4 {
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("wav: reading RIFF header: %w", err)
		}
		return nil, fmt.Errorf("%w: %d bytes is too short for a RIFF header", ErrNotWAV, n)
	}
	switch string(b[0:4]) {
	case "RIFF":
	case "RIFX":
		return nil, &FormatError{Desc: "big-endian RIFX"}
	case "RF64", "BW64":
		return nil, &FormatError{Desc: string(b[0:4]) + " (64-bit RIFF)"}
	default:
		return nil, fmt.Errorf("%w: starts with %q, not \"RIFF\"", ErrNotWAV, b[0:4])
	}
	if err != nil {
		return nil, truncErr(err, "the RIFF header")
	}
	if string(b[8:12]) != "WAVE" {
		return nil, fmt.Errorf("%w: RIFF form type is %q, not \"WAVE\"", ErrNotWAV, b[8:12])
	}
	riffSize := binary.LittleEndian.Uint32(b[4:8])

	var f format
	haveFmt := false
	for {
		n, err := s.readFull(b[:chunkHeaderLen])
		if err != nil {
			if n == 0 && errors.Is(err, io.EOF) {
				// A clean end between chunks: truncated if the RIFF size
				// promises more (or is a streaming placeholder).
				if riffSize == 0 || riffSize == unknownSize || s.off < 8+int64(riffSize) {
					missing := "data"
					if !haveFmt {
						missing = "fmt"
					}
					return nil, fmt.Errorf("%w: stream ends at byte %d before the %s chunk (RIFF size %d)",
						ErrTruncated, s.off, missing, riffSize)
				}
				if !haveFmt {
					return nil, fmt.Errorf("%w: no fmt chunk", ErrMalformed)
				}
				return nil, fmt.Errorf("%w: no data chunk", ErrMalformed)
			}
			return nil, truncErr(err, "a chunk header")
		}
		id := string(b[0:4])
		size := binary.LittleEndian.Uint32(b[4:8])
		switch id {
		case "fmt ":
			if haveFmt {
				return nil, fmt.Errorf("%w: more than one fmt chunk", ErrMalformed)
			}
			if size < fmtPCMLen {
				return nil, fmt.Errorf("%w: fmt chunk is %d bytes, need at least %d", ErrMalformed, size, fmtPCMLen)
			}
			body := b[:min(int64(size), maxFmtRead)]
			if _, err := s.readFull(body); err != nil {
				return nil, truncErr(err, "the fmt chunk")
			}
			if f, err = parseFmt(body); err != nil {
				return nil, err
			}
			haveFmt = true
			if err := s.skip(int64(size) - int64(len(body))); err != nil {
				return nil, truncErr(err, "the fmt chunk")
			}
		case "data":
			if !haveFmt {
				return nil, fmt.Errorf("%w: data chunk before fmt chunk", ErrMalformed)
			}
			return &header{
				format:      f,
				dataSizeOff: s.off - 4,
				dataOff:     s.off,
				dataSize:    size,
			}, nil
		default:
			if err := s.skip(int64(size)); err != nil {
				return nil, truncErr(err, fmt.Sprintf("chunk %q", id))
			}
		}
		if size%2 == 1 {
			if err := s.skipPad(); err != nil {
				return nil, truncErr(err, "chunk padding")
			}
		}
	}
}

// parseFmt validates a fmt chunk body (at least 16 bytes).
func parseFmt(b []byte) (format, error) {
	tag := binary.LittleEndian.Uint16(b[0:2])
	channels := int(binary.LittleEndian.Uint16(b[2:4]))
	rate := binary.LittleEndian.Uint32(b[4:8])
	blockAlign := int(binary.LittleEndian.Uint16(b[12:14]))
	bits := int(binary.LittleEndian.Uint16(b[14:16]))

	desc := ""
	if tag == tagExtensible {
		if len(b) < 40 {
			return format{}, fmt.Errorf("%w: WAVE_FORMAT_EXTENSIBLE fmt chunk is %d bytes, need 40", ErrMalformed, len(b))
		}
		validBits := int(binary.LittleEndian.Uint16(b[18:20]))
		guid := b[24:40]
		if [14]byte(guid[2:16]) != ksSubtypeSuffix {
			return format{}, &FormatError{Tag: tag, Bits: bits, Channels: channels,
				Desc: fmt.Sprintf("WAVE_FORMAT_EXTENSIBLE with non-standard subformat GUID % X", guid)}
		}
		tag = binary.LittleEndian.Uint16(guid[0:2])
		if validBits > bits {
			return format{}, fmt.Errorf("%w: %d valid bits in a %d-bit container", ErrMalformed, validBits, bits)
		}
		desc = " in WAVE_FORMAT_EXTENSIBLE"
	}
	if tag != tagPCM {
		d := tagName(tag)
		if bits != 0 {
			d = fmt.Sprintf("%d-bit %s", bits, d)
		}
		return format{}, &FormatError{Tag: tag, Bits: bits, Channels: channels, Desc: d + desc}
	}
	if bits != 16 {
		return format{}, &FormatError{Tag: tag, Bits: bits, Channels: channels,
			Desc: fmt.Sprintf("%d-bit PCM%s", bits, desc)}
	}
	if channels == 0 {
		return format{}, fmt.Errorf("%w: zero channels", ErrMalformed)
	}
	if channels > 2 {
		return format{}, &FormatError{Tag: tag, Bits: bits, Channels: channels,
			Desc: fmt.Sprintf("%d channels%s", channels, desc)}
	}
	f := format{rate: int(rate), channels: channels}
	if rate == 0 || int64(rate)*int64(f.blockAlign()) > math.MaxUint32 {
		// The byte rate of a valid file fits its 32-bit field.
		return format{}, fmt.Errorf("%w: sample rate %d", ErrMalformed, rate)
	}
	if blockAlign != f.blockAlign() {
		return format{}, fmt.Errorf("%w: block align %d for %d-channel 16-bit PCM (want %d)",
			ErrMalformed, blockAlign, channels, f.blockAlign())
	}
	return f, nil
}

// putCanonicalHeader writes the 44-byte header of a 16-bit PCM file with
// the given sizes into b.
func putCanonicalHeader(b []byte, rate, channels int, riffSize, dataSize uint32) {
	le := binary.LittleEndian
	copy(b[0:4], "RIFF")
	le.PutUint32(b[4:8], riffSize)
	copy(b[8:12], "WAVE")
	copy(b[12:16], "fmt ")
	le.PutUint32(b[16:20], fmtPCMLen)
	le.PutUint16(b[20:22], tagPCM)
	le.PutUint16(b[22:24], uint16(channels))
	le.PutUint32(b[24:28], uint32(rate))
	le.PutUint32(b[28:32], uint32(rate*channels*2))
	le.PutUint16(b[32:34], uint16(channels*2))
	le.PutUint16(b[34:36], 16)
	copy(b[36:40], "data")
	le.PutUint32(b[40:44], dataSize)
}
