package livestream

import "encoding/binary"

// Ogg encapsulation (RFC 3533). A logical bitstream is a sequence of pages;
// each page carries whole or partial packets, cut into 255-byte lacing
// segments whose lengths make up the segment table:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1| Byte
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	| capture_pattern: Magic number for page start "OggS"           | 0-3
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	| version       | header_type   | granule_position              | 4-7
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
//	|                                                               | 8-11
//	+                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                               | bitstream_serial_number       | 12-15
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
//	|                               | page_sequence_number          | 16-19
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
//	|                               | CRC_checksum                  | 20-23
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
//	|                               |page_segments  | segment_table | 24-27
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	| ...                                                           | 28-
//
// All fields are little-endian. The CRC is the 32-bit CRC with generator
// polynomial 0x04c11db7, initial value 0, no reflection and no final XOR,
// over the whole page with the CRC field set to zero.

// Ogg header_type flags.
const (
	oggContinued = 0x01 // first packet on the page continues one from the previous page
	oggBOS       = 0x02 // first page of a logical bitstream
	oggEOS       = 0x04 // last page of a logical bitstream
)

const (
	oggHeaderSize  = 27
	oggMaxSegments = 255
)

var oggCRCTable = func() (t [256]uint32) {
	for i := range t {
		r := uint32(i) << 24
		for range 8 {
			if r&0x80000000 != 0 {
				r = r<<1 ^ 0x04c11db7
			} else {
				r <<= 1
			}
		}
		t[i] = r
	}
	return t
}()

// oggCRC updates crc with b (MSB-first, table driven).
func oggCRC(crc uint32, b []byte) uint32 {
	for _, c := range b {
		crc = crc<<8 ^ oggCRCTable[byte(crc>>24)^c]
	}
	return crc
}

// oggWriter builds the pages of one logical bitstream. It is not safe for
// concurrent use and does not allocate once its buffers have grown.
type oggWriter struct {
	serial uint32
	seq    uint32
	// pending packets of the page being built: their bytes back to back
	// and their lengths.
	data []byte
	lens []int
	// granule is the granule position of the last packet added.
	granule int64
	first   bool // the next page is the first (BOS)
	page    []byte
}

func newOggWriter(serial uint32) *oggWriter {
	return &oggWriter{serial: serial, first: true}
}

// segments returns how many lacing values a packet of n bytes needs.
func segments(n int) int { return n/255 + 1 }

// pendingSegments is the segment count of the packets held.
func (w *oggWriter) pendingSegments() int {
	s := 0
	for _, n := range w.lens {
		s += segments(n)
	}
	return s
}

// add queues packet, ending at granule, for the next page. It reports
// false, queueing nothing, when the packet does not fit on the page
// (flush first); a packet needing more than 255 segments alone (over
// 64 770 bytes) never fits: setbridge's packets are far smaller.
func (w *oggWriter) add(packet []byte, granule int64) bool {
	if w.pendingSegments()+segments(len(packet)) > oggMaxSegments {
		return false
	}
	w.data = append(w.data, packet...)
	w.lens = append(w.lens, len(packet))
	w.granule = granule
	return true
}

// pending reports the number of packets queued.
func (w *oggWriter) pending() int { return len(w.lens) }

// flush returns a page holding the queued packets, with eos setting the
// end-of-stream flag. The page is valid until the next flush. With no
// packets queued it returns nil unless eos is set (an empty EOS page).
func (w *oggWriter) flush(eos bool) []byte {
	if len(w.lens) == 0 && !eos {
		return nil
	}
	nseg := w.pendingSegments()
	size := oggHeaderSize + nseg + len(w.data)
	if cap(w.page) < size {
		w.page = make([]byte, size)
	}
	p := w.page[:size]
	copy(p, "OggS")
	p[4] = 0
	var flags byte
	if w.first {
		flags |= oggBOS
	}
	if eos {
		flags |= oggEOS
	}
	p[5] = flags
	binary.LittleEndian.PutUint64(p[6:], uint64(w.granule))
	binary.LittleEndian.PutUint32(p[14:], w.serial)
	binary.LittleEndian.PutUint32(p[18:], w.seq)
	binary.LittleEndian.PutUint32(p[22:], 0)
	p[26] = byte(nseg)
	i := oggHeaderSize
	for _, n := range w.lens {
		for ; n >= 255; n -= 255 {
			p[i] = 255
			i++
		}
		p[i] = byte(n)
		i++
	}
	copy(p[i:], w.data)
	binary.LittleEndian.PutUint32(p[22:], oggCRC(0, p))
	w.seq++
	w.first = false
	w.data = w.data[:0]
	w.lens = w.lens[:0]
	return p
}
