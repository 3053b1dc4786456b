package wav

import (
	"errors"
	"fmt"
)

// Errors returned by this package. Match them with errors.Is: the returned
// errors usually wrap one of these with detail about what was found.
var (
	// ErrNotWAV means the stream is not a RIFF/WAVE stream at all (wrong
	// magic, or too short to hold a RIFF header).
	ErrNotWAV = errors.New("wav: not a RIFF/WAVE stream")

	// ErrUnsupportedFormat means the stream is a WAV file but not 16-bit
	// PCM mono or stereo: 8-, 24- or 32-bit PCM, IEEE float, A-law, mu-law,
	// ADPCM, more than two channels, RF64, big-endian RIFX... The error
	// returned by Read is then a *FormatError that names the format found.
	ErrUnsupportedFormat = errors.New("wav: unsupported format")

	// ErrMalformed means the header is structurally invalid: fmt chunk too
	// short, data chunk before the fmt chunk, no data chunk, zero sample
	// rate, block alignment inconsistent with the channel count.
	ErrMalformed = errors.New("wav: malformed header")

	// ErrTruncated means the stream ended inside the header or before the
	// number of data bytes the data chunk declares. Read returns the whole
	// frames it did get together with this error.
	ErrTruncated = errors.New("wav: truncated")

	// ErrTooLarge means the data would not fit the 32-bit RIFF size fields
	// (about 4 GiB).
	ErrTooLarge = errors.New("wav: data too large for a RIFF file")

	// ErrPartialFrame means Writer.Write was given a number of samples that
	// is not a multiple of the channel count.
	ErrPartialFrame = errors.New("wav: sample count is not a whole number of frames")

	// ErrClosed means Writer.Write or Close was called after Close.
	ErrClosed = errors.New("wav: writer closed")
)

// FormatError describes a WAV file this package does not decode. It wraps
// ErrUnsupportedFormat.
type FormatError struct {
	// Tag is the WAVE format tag (for WAVE_FORMAT_EXTENSIBLE, the tag of
	// the subformat): 1 PCM, 3 IEEE float, 6 A-law, 7 mu-law, ...
	Tag uint16
	// Bits is the bits per sample declared by the fmt chunk.
	Bits int
	// Channels is the channel count declared by the fmt chunk.
	Channels int
	// Desc says in words what was found, e.g. "8-bit PCM" or "mu-law (G.711)".
	Desc string
}

func (e *FormatError) Error() string {
	return "wav: unsupported format: " + e.Desc + " (only 16-bit PCM, mono or stereo, is supported)"
}

// Unwrap returns ErrUnsupportedFormat.
func (e *FormatError) Unwrap() error { return ErrUnsupportedFormat }

// Format tags seen in the wild, for error messages.
var tagNames = map[uint16]string{
	0x0001: "PCM",
	0x0002: "Microsoft ADPCM",
	0x0003: "IEEE float",
	0x0006: "A-law (G.711)",
	0x0007: "mu-law (G.711)",
	0x0011: "IMA ADPCM",
	0x0031: "GSM 6.10",
	0x0040: "G.721 ADPCM",
	0x0050: "MPEG",
	0x0055: "MPEG layer 3",
	0x0064: "G.726 ADPCM",
	0x0065: "G.722 ADPCM",
	0x0092: "Dolby AC-3 SPDIF",
	0x0161: "Windows Media Audio",
	0x1610: "AAC",
	0xF1AC: "FLAC",
	0xFFFE: "WAVE_FORMAT_EXTENSIBLE",
}

func tagName(tag uint16) string {
	if n, ok := tagNames[tag]; ok {
		return fmt.Sprintf("%s (format tag 0x%04X)", n, tag)
	}
	return fmt.Sprintf("unknown format tag 0x%04X", tag)
}
