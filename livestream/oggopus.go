package livestream

import (
	"encoding/binary"
)

// Ogg Opus (RFC 7845): the first page holds only the identification
// header (OpusHead), the following page(s) only the comment header
// (OpusTags), and audio starts on a fresh page. Granule positions count
// 48 kHz samples, pre-skip included, up to the end of the last packet
// completed on the page.

// opusPreSkip is the encoder's algorithmic delay in 48 kHz samples that a
// player discards: libopus's lookahead (2.5 ms + 4 ms of delay
// compensation) is 312 samples at 48 kHz, and the same time at the other
// rates.
const opusPreSkip = 312

// opusGranuleRate is the rate of Ogg Opus granule positions, whatever the
// encoder's input rate.
const opusGranuleRate = 48000

// opusHead returns the identification header (RFC 7845 §5.1):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|      'O'      |      'p'      |      'u'      |      's'      |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|      'H'      |      'e'      |      'a'      |      'd'      |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Version = 1  | Channel Count |           Pre-skip            |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                     Input Sample Rate (Hz)                    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|   Output Gain (Q7.8 in dB)    | Mapping Family|
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// setbridge sends mono (channel mapping family 0, no mapping table).
func opusHead(inputRate int) []byte {
	b := make([]byte, 19)
	copy(b, "OpusHead")
	b[8] = 1
	b[9] = 1
	binary.LittleEndian.PutUint16(b[10:], opusPreSkip)
	binary.LittleEndian.PutUint32(b[12:], uint32(inputRate))
	binary.LittleEndian.PutUint16(b[16:], 0)
	b[18] = 0
	return b
}

// opusTags returns the comment header (RFC 7845 §5.2): "OpusTags", the
// vendor string and the user comments, each preceded by its 32-bit
// little-endian length, the comments by their count.
func opusTags(vendor string, comments ...string) []byte {
	n := 8 + 4 + len(vendor) + 4
	for _, c := range comments {
		n += 4 + len(c)
	}
	b := make([]byte, 0, n)
	b = append(b, "OpusTags"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(vendor)))
	b = append(b, vendor...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(comments)))
	for _, c := range comments {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(c)))
		b = append(b, c...)
	}
	return b
}

// oggOpusMuxer turns Opus packets into the pages of one Ogg Opus stream.
type oggOpusMuxer struct {
	w *oggWriter
	// granule is the position after the last packet written.
	granule int64
	// pagePackets is how many packets a page holds before it is sent.
	pagePackets int
}

// newOggOpusMuxer starts a stream with the given serial, sending a page
// every pagePackets packets (at least 1).
func newOggOpusMuxer(serial uint32, pagePackets int) *oggOpusMuxer {
	return &oggOpusMuxer{w: newOggWriter(serial), pagePackets: max(pagePackets, 1)}
}

// headers returns the two header pages, to be sent before any audio; the
// caller writes each page before asking for the next page (the slices
// share a buffer), so headers calls emit for each.
func (m *oggOpusMuxer) headers(inputRate int, title string, emit func(page []byte) error) error {
	m.w.add(opusHead(inputRate), 0)
	if err := emit(m.w.flush(false)); err != nil {
		return err
	}
	var comments []string
	if title != "" {
		comments = append(comments, "TITLE="+title)
	}
	m.w.add(opusTags("setbridge livestream", comments...), 0)
	return emit(m.w.flush(false))
}

// packet adds one packet of samples48 samples (at 48 kHz) and returns a
// page when one is complete, else nil. The page is valid until the next
// call.
func (m *oggOpusMuxer) packet(p []byte, samples48 int) []byte {
	var out []byte
	if !m.w.add(p, m.granule+int64(samples48)) {
		out = m.w.flush(false)
		// Copy out of the page buffer before it is reused: the caller
		// gets this page and the packet waits for the next one.
		out = append([]byte(nil), out...)
		m.w.add(p, m.granule+int64(samples48))
	}
	m.granule += int64(samples48)
	if out == nil && m.w.pending() >= m.pagePackets {
		out = m.w.flush(false)
	}
	return out
}

// end returns the last page, flagged end of stream.
func (m *oggOpusMuxer) end() []byte { return m.w.flush(true) }
