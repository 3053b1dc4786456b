package wav

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// maxDataBytes is the largest data chunk whose sizes fit the 32-bit RIFF
// fields of a canonical header, rounded down to whole stereo frames.
const maxDataBytes = (math.MaxUint32 - (canonicalLen - 8)) &^ 3

// Writer writes a 16-bit PCM WAV stream incrementally.
//
// NewWriter writes a 44-byte header whose RIFF and data sizes are the
// streaming placeholder 0xFFFFFFFF ("unknown, read to end of file"), which
// Read and most other readers accept; Close replaces them with the real
// sizes. If the process dies before Close, FixHeader repairs the file.
//
// Write converts samples through a buffer inside the Writer and passes them
// on at once (no buffering across calls, so a crash loses nothing that Write
// returned); it does not allocate.
//
// A Writer is not safe for concurrent use.
type Writer struct {
	w         io.WriteSeeker
	start     int64 // offset of "RIFF" in w
	channels  int
	dataBytes int64
	err       error // sticky
	closed    bool
	buf       [8192]byte
}

// NewWriter writes a WAV header for 16-bit PCM at rate Hz with channels
// channels (1 or 2) at the current position of w and returns a Writer for
// the samples. The header may start anywhere in w; Close seeks back to it.
func NewWriter(w io.WriteSeeker, rate, channels int) (*Writer, error) {
	if channels != 1 && channels != 2 {
		return nil, &FormatError{Tag: tagPCM, Bits: 16, Channels: channels,
			Desc: fmt.Sprintf("%d channels", channels)}
	}
	if rate <= 0 || int64(rate)*int64(channels)*2 > math.MaxUint32 {
		return nil, fmt.Errorf("%w: sample rate %d", ErrUnsupportedFormat, rate)
	}
	start, err := w.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, fmt.Errorf("wav: %w", err)
	}
	wr := &Writer{w: w, start: start, channels: channels}
	putCanonicalHeader(wr.buf[:canonicalLen], rate, channels, unknownSize, unknownSize)
	if _, err := w.Write(wr.buf[:canonicalLen]); err != nil {
		return nil, fmt.Errorf("wav: writing header: %w", err)
	}
	return wr, nil
}

// Write appends interleaved samples; len(samples) must be a multiple of the
// channel count. After an error from the underlying writer every later
// Write returns that error.
func (w *Writer) Write(samples []int16) error {
	if w.closed {
		return ErrClosed
	}
	if w.err != nil {
		return w.err
	}
	if len(samples)%w.channels != 0 {
		return ErrPartialFrame
	}
	if w.dataBytes+2*int64(len(samples)) > maxDataBytes {
		return ErrTooLarge
	}
	for len(samples) > 0 {
		n := min(len(samples), len(w.buf)/2)
		b := w.buf[:2*n]
		for i, v := range samples[:n] {
			binary.LittleEndian.PutUint16(b[2*i:], uint16(v))
		}
		m, err := w.w.Write(b)
		w.dataBytes += int64(m)
		if err != nil {
			w.err = fmt.Errorf("wav: writing data: %w", err)
			return w.err
		}
		samples = samples[n:]
	}
	return nil
}

// Frames returns the number of whole frames written so far.
func (w *Writer) Frames() int64 { return w.dataBytes / int64(2*w.channels) }

// Close writes the real RIFF and data sizes into the header and leaves the
// position of the underlying writer at the end of the data. It does not
// close the underlying writer. If an earlier Write failed, Close still
// patches the header for the bytes that were written and returns the
// earlier error.
func (w *Writer) Close() error {
	if w.closed {
		return ErrClosed
	}
	w.closed = true
	data := w.dataBytes &^ int64(2*w.channels-1) // whole frames only
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(canonicalLen-8+data))
	if err := w.writeAt(b[:], w.start+4); err != nil {
		return errors.Join(w.err, err)
	}
	binary.LittleEndian.PutUint32(b[:], uint32(data))
	if err := w.writeAt(b[:], w.start+canonicalLen-4); err != nil {
		return errors.Join(w.err, err)
	}
	if _, err := w.w.Seek(w.start+canonicalLen+w.dataBytes, io.SeekStart); err != nil {
		return errors.Join(w.err, fmt.Errorf("wav: %w", err))
	}
	return w.err
}

func (w *Writer) writeAt(b []byte, off int64) error {
	if _, err := w.w.Seek(off, io.SeekStart); err != nil {
		return fmt.Errorf("wav: patching header: %w", err)
	}
	if _, err := w.w.Write(b); err != nil {
		return fmt.Errorf("wav: patching header: %w", err)
	}
	return nil
}

// FixHeader repairs the RIFF and data chunk sizes of a 16-bit PCM WAV file
// whose writer died before Close, for crash recovery. The file must start
// at offset 0 of f and its data chunk must be the last chunk, as it is for
// files made by Writer.
//
// The data size is taken from the length of the file, rounded down to
// whole frames. A declared data size is kept instead when it is a real size
// (not 0 or 0xFFFFFFFF) that the file holds and is followed by nothing but
// well-formed chunks reaching exactly to the end of the file, so FixHeader
// leaves a good file with trailing chunks (LIST after data) intact. If f
// has a Truncate(int64) error method (as *os.File does), a trailing partial
// frame is cut off.
//
// It returns the size of the data chunk now in the header, in bytes. Data
// beyond what a RIFF file can describe (about 4 GiB) is left out of the
// header and reported with ErrTooLarge.
func FixHeader(f io.ReadWriteSeeker) (dataBytes int64, err error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, fmt.Errorf("wav: %w", err)
	}
	s := newScanner(f)
	h, err := s.readHeader()
	if err != nil {
		return 0, err
	}
	end, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, fmt.Errorf("wav: %w", err)
	}
	block := int64(h.blockAlign())
	avail := end - h.dataOff
	dataBytes = avail - avail%block
	riffEnd := h.dataOff + dataBytes
	if !h.toEOF() && int64(h.dataSize) <= avail && int64(h.dataSize)%block == 0 {
		declared := int64(h.dataSize)
		if ok, err := chunksToEnd(f, h.dataOff+declared+declared%2, end); err != nil {
			return 0, err
		} else if ok {
			dataBytes, riffEnd = declared, end
		}
	}
	var tooLarge error
	if riffEnd-8 > math.MaxUint32 || dataBytes >= unknownSize {
		dataBytes = min(dataBytes, math.MaxUint32-(h.dataOff-8)) &^ (block - 1)
		riffEnd = h.dataOff + dataBytes
		tooLarge = fmt.Errorf("%w: only %d data bytes fit the header", ErrTooLarge, dataBytes)
	}
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(dataBytes))
	if err := writeAt(f, b[:], h.dataSizeOff); err != nil {
		return 0, err
	}
	binary.LittleEndian.PutUint32(b[:], uint32(riffEnd-8))
	if err := writeAt(f, b[:], 4); err != nil {
		return 0, err
	}
	if t, ok := f.(interface{ Truncate(int64) error }); ok && riffEnd < end && tooLarge == nil {
		if err := t.Truncate(riffEnd); err != nil {
			return dataBytes, fmt.Errorf("wav: %w", err)
		}
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		return dataBytes, fmt.Errorf("wav: %w", err)
	}
	return dataBytes, tooLarge
}

// chunksToEnd reports whether the bytes of f from off to end are a chain
// of well-formed chunks (printable ids, sizes that fit) ending exactly at
// end, the last pad byte optional.
func chunksToEnd(f io.ReadSeeker, off, end int64) (bool, error) {
	if off >= end {
		return off == end || off == end+1, nil
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return false, fmt.Errorf("wav: %w", err)
	}
	br := bufio.NewReader(f)
	var b [chunkHeaderLen]byte
	for i := 0; i < 64 && off < end; i++ {
		if off+chunkHeaderLen > end {
			return false, nil
		}
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return false, nil
		}
		size := int64(binary.LittleEndian.Uint32(b[4:]))
		if !isID(b[:4]) || off+chunkHeaderLen+size > end {
			return false, nil
		}
		next := off + chunkHeaderLen + size + size%2
		if next >= end {
			return next <= end+1, nil
		}
		if _, err := br.Discard(int(next - off - chunkHeaderLen)); err != nil {
			return false, nil
		}
		off = next
	}
	return false, nil
}

func writeAt(f io.WriteSeeker, b []byte, off int64) error {
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return fmt.Errorf("wav: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		return fmt.Errorf("wav: %w", err)
	}
	return nil
}
