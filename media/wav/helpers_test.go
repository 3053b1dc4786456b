package wav

import (
	"encoding/binary"
	"errors"
	"io"
	"slices"
)

// memFile is an in-memory io.ReadWriteSeeker with Truncate, standing in
// for *os.File.
type memFile struct {
	b   []byte
	pos int64
}

func (m *memFile) Read(p []byte) (int, error) {
	if m.pos >= int64(len(m.b)) {
		return 0, io.EOF
	}
	n := copy(p, m.b[m.pos:])
	m.pos += int64(n)
	return n, nil
}

func (m *memFile) Write(p []byte) (int, error) {
	if end := int(m.pos) + len(p); end > len(m.b) {
		if end > cap(m.b) {
			m.b = slices.Grow(m.b, end-len(m.b))
		}
		clear(m.b[len(m.b):end])
		m.b = m.b[:end]
	}
	copy(m.b[m.pos:], p)
	m.pos += int64(len(p))
	return len(p), nil
}

func (m *memFile) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		off += m.pos
	case io.SeekEnd:
		off += int64(len(m.b))
	}
	if off < 0 {
		return 0, errors.New("negative seek")
	}
	m.pos = off
	return off, nil
}

func (m *memFile) Truncate(n int64) error {
	if n < int64(len(m.b)) {
		m.b = m.b[:n]
	}
	return nil
}

type chunk struct {
	id    string
	body  []byte
	noPad bool // omit the pad byte after an odd-sized body
	size  *uint32
}

// riff builds a RIFF/WAVE file from chunks (RIFF size computed).
func riff(chunks ...chunk) []byte {
	var b []byte
	b = append(b, "RIFF\x00\x00\x00\x00WAVE"...)
	for _, c := range chunks {
		b = append(b, c.id...)
		size := uint32(len(c.body))
		if c.size != nil {
			size = *c.size
		}
		b = binary.LittleEndian.AppendUint32(b, size)
		b = append(b, c.body...)
		if len(c.body)%2 == 1 && !c.noPad {
			b = append(b, 0)
		}
	}
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)-8))
	return b
}

func u32(v uint32) *uint32 { return &v }

func fmtBody(tag uint16, channels, rate, bits int) []byte {
	le := binary.LittleEndian
	b := make([]byte, 16)
	le.PutUint16(b[0:], tag)
	le.PutUint16(b[2:], uint16(channels))
	le.PutUint32(b[4:], uint32(rate))
	le.PutUint32(b[8:], uint32(rate*channels*bits/8))
	le.PutUint16(b[12:], uint16(channels*bits/8))
	le.PutUint16(b[14:], uint16(bits))
	return b
}

func extBody(subtag uint16, channels, rate, bits, valid int) []byte {
	b := fmtBody(tagExtensible, channels, rate, bits)
	b = binary.LittleEndian.AppendUint16(b, 22)
	b = binary.LittleEndian.AppendUint16(b, uint16(valid))
	b = binary.LittleEndian.AppendUint32(b, 0x4) // front centre
	b = binary.LittleEndian.AppendUint16(b, subtag)
	b = append(b, ksSubtypeSuffix[:]...)
	return b
}

func pcm(samples ...int16) []byte {
	var b []byte
	for _, s := range samples {
		b = binary.LittleEndian.AppendUint16(b, uint16(s))
	}
	return b
}
