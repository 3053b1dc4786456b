package livestream

import (
	"bytes"
	"encoding/binary"
	"github.com/setbridge/setbridge/internal/peers"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hraban/opus"

	"github.com/setbridge/setbridge/internal/audiotest"
)

func TestOggCRC(t *testing.T) {
	tests := []struct {
		name string
		give []byte
		want uint32
	}{
		// CRC-32/CKSUM (POSIX cksum, same polynomial, init 0, no
		// reflection) checks "123456789" as 0x765E7680 after its final
		// XOR with 0xFFFFFFFF; Ogg has no final XOR.
		{name: "the standard check string", give: []byte("123456789"), want: 0x765E7680 ^ 0xFFFFFFFF},
		{name: "empty input is zero", give: nil, want: 0},
		{name: "one byte is the table entry", give: []byte{1}, want: 0x04c11db7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := oggCRC(0, tt.give); got != tt.want {
				t.Errorf("oggCRC(%q) = %#08x, want %#08x", tt.give, got, tt.want)
			}
		})
	}
}

// parsedPage is a page read back by the test's own small parser.
type parsedPage struct {
	flags   byte
	granule int64
	serial  uint32
	seq     uint32
	packets [][]byte
}

func parsePage(t *testing.T, p []byte) parsedPage {
	t.Helper()
	if string(p[:4]) != "OggS" || p[4] != 0 {
		t.Fatalf("bad capture pattern or version: % x", p[:6])
	}
	nseg := int(p[26])
	if len(p) < 27+nseg {
		t.Fatalf("page too short")
	}
	crc := binary.LittleEndian.Uint32(p[22:])
	c := append([]byte(nil), p...)
	binary.LittleEndian.PutUint32(c[22:], 0)
	if got := oggCRC(0, c); got != crc {
		t.Fatalf("crc field %#x, computed %#x", crc, got)
	}
	pp := parsedPage{
		flags:   p[5],
		granule: int64(binary.LittleEndian.Uint64(p[6:])),
		serial:  binary.LittleEndian.Uint32(p[14:]),
		seq:     binary.LittleEndian.Uint32(p[18:]),
	}
	data := p[27+nseg:]
	var cur []byte
	off := 0
	for _, l := range p[27 : 27+nseg] {
		cur = append(cur, data[off:off+int(l)]...)
		off += int(l)
		if l < 255 {
			pp.packets = append(pp.packets, cur)
			cur = nil
		}
	}
	if off != len(data) {
		t.Fatalf("segment table covers %d bytes, page has %d", off, len(data))
	}
	return pp
}

func TestOggWriterLacing(t *testing.T) {
	tests := []struct {
		name     string
		give     []int // packet sizes
		wantSegs int
	}{
		{name: "a small packet takes one segment", give: []int{100}, wantSegs: 1},
		{name: "a 255-byte packet needs a terminating zero", give: []int{255}, wantSegs: 2},
		{name: "a 600-byte packet takes 255+255+90", give: []int{600}, wantSegs: 3},
		{name: "several packets add up", give: []int{10, 510, 0}, wantSegs: 1 + 3 + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newOggWriter(0x1234)
			var want [][]byte
			for i, n := range tt.give {
				p := bytes.Repeat([]byte{byte(i + 1)}, n)
				want = append(want, p)
				if !w.add(p, int64(960*(i+1))) {
					t.Fatalf("packet %d did not fit", i)
				}
			}
			page := w.flush(false)
			if got := int(page[26]); got != tt.wantSegs {
				t.Errorf("segments = %d, want %d", got, tt.wantSegs)
			}
			pp := parsePage(t, page)
			if len(pp.packets) != len(want) {
				t.Fatalf("got %d packets, want %d", len(pp.packets), len(want))
			}
			for i := range want {
				if !bytes.Equal(pp.packets[i], want[i]) {
					t.Errorf("packet %d differs", i)
				}
			}
			if pp.granule != int64(960*len(tt.give)) || pp.serial != 0x1234 || pp.flags != oggBOS {
				t.Errorf("granule %d serial %#x flags %#x", pp.granule, pp.serial, pp.flags)
			}
		})
	}
}

func TestOggWriterRefusesAPacketThatDoesNotFit(t *testing.T) {
	w := newOggWriter(1)
	for range 63 {
		if !w.add(make([]byte, 1000), 0) { // 4 segments each: 252
			t.Fatal("refused early")
		}
	}
	if w.add(make([]byte, 1000), 0) {
		t.Error("a packet beyond 255 segments was accepted")
	}
	if !w.add(make([]byte, 10), 0) {
		t.Error("a one-segment packet that fits was refused")
	}
}

// muxTone encodes seconds of a tone into an Ogg Opus stream.
func muxTone(t *testing.T, freq float64, dur time.Duration) ([]byte, []parsedPage) {
	t.Helper()
	enc, err := opus.NewEncoder(48000, 1, opus.AppAudio)
	if err != nil {
		t.Fatal(err)
	}
	pcm := audiotest.GenTone(48000, freq, 0.5, dur)
	var out bytes.Buffer
	var pages []parsedPage
	emit := func(p []byte) error {
		pages = append(pages, parsePage(t, p))
		out.Write(p)
		return nil
	}
	m := newOggOpusMuxer(0xcafe, 5)
	if err := m.headers(48000, "test", emit); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, maxOpusPacket)
	for i := 0; i+960 <= len(pcm); i += 960 {
		n, err := enc.Encode(pcm[i:i+960], buf)
		if err != nil {
			t.Fatal(err)
		}
		if p := m.packet(buf[:n], 960); p != nil {
			_ = emit(p)
		}
	}
	_ = emit(m.end())
	return out.Bytes(), pages
}

func TestOggOpusLayout(t *testing.T) {
	_, pages := muxTone(t, 440, time.Second)
	if len(pages) < 3 {
		t.Fatalf("%d pages", len(pages))
	}
	head, tags := pages[0], pages[1]
	if head.flags != oggBOS || len(head.packets) != 1 || string(head.packets[0][:8]) != "OpusHead" || head.granule != 0 {
		t.Errorf("first page: flags %#x granule %d packets %d", head.flags, head.granule, len(head.packets))
	}
	h := head.packets[0]
	if len(h) != 19 || h[8] != 1 || h[9] != 1 || binary.LittleEndian.Uint16(h[10:]) != opusPreSkip ||
		binary.LittleEndian.Uint32(h[12:]) != 48000 || h[18] != 0 {
		t.Errorf("OpusHead = % x", h)
	}
	if tags.flags != 0 || len(tags.packets) != 1 || string(tags.packets[0][:8]) != "OpusTags" || tags.granule != 0 {
		t.Errorf("second page: flags %#x granule %d", tags.flags, tags.granule)
	}
	var granule int64
	for i, p := range pages {
		if p.seq != uint32(i) || p.serial != 0xcafe {
			t.Errorf("page %d: seq %d serial %#x", i, p.seq, p.serial)
		}
		if i < 2 {
			continue
		}
		granule += int64(960 * len(p.packets))
		if p.granule != granule {
			t.Errorf("page %d: granule %d, want %d (960 per 20 ms packet)", i, p.granule, granule)
		}
	}
	if last := pages[len(pages)-1]; last.flags&oggEOS == 0 {
		t.Errorf("last page flags %#x: no EOS", last.flags)
	}
	if granule != 50*960 {
		t.Errorf("final granule %d, want %d", granule, 50*960)
	}
}

// TestOggOpusDecodesWithFFmpeg has ffmpeg (a decoder that is not ours)
// read the stream back, checking every page's CRC, and finds the tone.
func TestOggOpusDecodesWithFFmpeg(t *testing.T) {
	ffmpeg := peers.RequireTool(t, "ffmpeg")
	data, _ := muxTone(t, 440, 2*time.Second)
	path := filepath.Join(t.TempDir(), "tone.opus")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-xerror", "-err_detect", "crccheck+explode",
		"-i", path, "-f", "s16le", "-ac", "1", "-ar", "48000", "-").Output()
	if err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, stderrOf(err))
	}
	pcm := peers.BytesToPCM(out)
	// 2 s minus the pre-skip.
	if want := 2*48000 - opusPreSkip; len(pcm) != want {
		t.Errorf("decoded %d samples, want %d (2 s less the pre-skip)", len(pcm), want)
	}
	if lvl := audiotest.ToneLevelDB(pcm[4800:], 48000, 440); lvl < -8 {
		t.Errorf("440 Hz at %.1f dBFS, want about -6", lvl)
	}
	if tool, err := exec.LookPath("opusinfo"); err == nil {
		if out, err := exec.Command(tool, path).CombinedOutput(); err != nil {
			t.Errorf("opusinfo: %v\n%s", err, out)
		}
	}
}
