package webrtc

import (
	"testing"

	"github.com/pion/rtp"
	pion "github.com/pion/webrtc/v4"

	"github.com/setbridge/setbridge/internal/audiotest"
	"github.com/setbridge/setbridge/media"
	"github.com/setbridge/setbridge/selector"
)

type discardWriter struct{ n int }

func (d *discardWriter) WriteRTP(*rtp.Packet) error { d.n++; return nil }

// packetBytes marshals one RTP packet, with an audio level when level >= 0.
func packetBytes(t testing.TB, seq uint16, pt uint8, payload []byte, ext uint8, level int) []byte {
	t.Helper()
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: uint32(seq) * 960}, Payload: payload}
	if level >= 0 {
		if err := p.Header.SetExtension(ext, []byte{byte(level)}); err != nil {
			t.Fatal(err)
		}
	}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLegDefersDecodingWhileLevelsSuffice(t *testing.T) {
	var st counters
	l, err := newLeg(testLogger(), 48000, media.Opus, nil, true, &st, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.startUplink(media.Opus, 111, 1, 1); err != nil {
		t.Fatal(err)
	}
	enc, _ := media.Opus.NewEncoder()
	tone := audiotest.GenTone(48000, 1000, 0.3, 200*media.FrameDuration)
	buf := make([]byte, 1500)
	frame := make([]int16, 960)
	var got []int16
	for i := range 20 {
		n, err := enc.Encode(buf, tone[i*960:(i+1)*960])
		if err != nil {
			t.Fatal(err)
		}
		l.push(packetBytes(t, uint16(i), 111, buf[:n], 1, 12))
		lvl, ok := l.ReadLevel()
		if !ok || lvl != 12 {
			t.Fatalf("packet %d: ReadLevel = %d, %v; want 12 from the extension", i, lvl, ok)
		}
		if i%2 == 1 { // selected every other tick
			if !l.ReadFrame(frame) {
				t.Fatalf("packet %d: no frame", i)
			}
			got = append(got, frame...)
		}
	}
	if d := st.decodes.Load(); d != 10 {
		t.Errorf("decodes = %d, want 10 (only the frames read)", d)
	}
	if lvl := audiotest.ToneLevelDB(got[len(got)-4800:], 48000, 1000); lvl < -20 {
		t.Errorf("decoded tone at %.1f dBFS", lvl)
	}
}

func TestLegDecodesG711WithoutLevels(t *testing.T) {
	var st counters
	l, err := newLeg(testLogger(), 16000, media.PCMU, nil, true, &st, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.startUplink(media.PCMU, 0, 0, 1); err != nil {
		t.Fatal(err)
	}
	tone := audiotest.GenTone(8000, 1000, 0.3, 10*media.FrameDuration)
	enc, _ := media.PCMU.NewEncoder()
	payload := make([]byte, 160)
	frame := make([]int16, media.FrameSamples(16000))
	var got []int16
	for i := range 10 {
		if i == 4 {
			continue // lost: concealed with silence
		}
		_, _ = enc.Encode(payload, tone[i*160:(i+1)*160])
		l.push(packetBytes(t, uint16(i), 0, payload, 0, -1))
	}
	for range 10 {
		lvl, ok := l.ReadLevel()
		if !ok {
			t.Fatal("no frame")
		}
		if !l.ReadFrame(frame) {
			t.Fatal("ReadFrame after ReadLevel found no frame")
		}
		if want := selector.Level(frame); lvl != want {
			t.Errorf("level %d, want the measured %d", lvl, want)
		}
		got = append(got, frame...)
	}
	if lvl := audiotest.ToneLevelDB(got[len(got)-1600:], 16000, 1000); lvl < -20 {
		t.Errorf("decoded tone at %.1f dBFS", lvl)
	}
	if _, ok := l.ReadLevel(); ok {
		t.Error("a frame after the last packet")
	}
}

func TestWHEPLegHasNoUplink(t *testing.T) {
	var st counters
	l, err := newLeg(testLogger(), 48000, media.Opus, &discardWriter{}, false, &st, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := l.ReadLevel(); ok {
		t.Error("ReadLevel found audio")
	}
	if l.ReadFrame(make([]int16, 960)) {
		t.Error("ReadFrame found audio")
	}
}

func TestLegKeepsRTPContinuityAcrossPaths(t *testing.T) {
	var st counters
	w := &recordWriter{}
	l, err := newLeg(testLogger(), 48000, media.Opus, w, false, &st, 65534, 1000)
	if err != nil {
		t.Fatal(err)
	}
	l.sending.Store(true)
	f := &media.SharedFrame{Format: media.FormatKey{Codec: "opus"}, Packets: []media.SharedPacket{{Payload: []byte{0xf8, 1, 2}, Samples: 960}}}
	l.WriteShared(f)
	l.WriteFrame(make([]int16, 960))
	l.WriteShared(f)
	if len(w.hdrs) != 3 {
		t.Fatalf("%d packets", len(w.hdrs))
	}
	for i, h := range w.hdrs {
		if h.SequenceNumber != uint16(65534+i) || h.Timestamp != uint32(1000+960*i) || !h.Marker {
			t.Errorf("packet %d: seq %d ts %d marker %v", i, h.SequenceNumber, h.Timestamp, h.Marker)
		}
	}
}

type recordWriter struct{ hdrs []rtp.Header }

func (r *recordWriter) WriteRTP(p *rtp.Packet) error { r.hdrs = append(r.hdrs, p.Header); return nil }

func TestChooseCodec(t *testing.T) {
	const head = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
	tests := []struct {
		name, give, want string
	}{
		{"opus wins wherever it is", head + "m=audio 9 UDP/TLS/RTP/SAVPF 0 109\r\na=rtpmap:109 opus/48000/2\r\n", "opus"},
		{"static PCMA without rtpmap", head + "m=audio 9 UDP/TLS/RTP/SAVPF 8 0\r\n", "PCMA"},
		{"G722 first", head + "m=audio 9 UDP/TLS/RTP/SAVPF 9 0\r\n", "G722"},
		{"video only", head + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n", ""},
		{"unknown codec", head + "m=audio 9 UDP/TLS/RTP/SAVPF 97\r\na=rtpmap:97 speex/8000\r\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := chooseCodec([]byte(tt.give))
			if (err != nil) != (tt.want == "") || c.Name != tt.want {
				t.Errorf("chooseCodec = %q, %v; want %q", c.Name, err, tt.want)
			}
		})
	}
}

func TestOpusSamples(t *testing.T) {
	tests := []struct {
		give []byte
		want int
	}{
		{[]byte{0x78}, 960},        // config 15 hybrid FB 20 ms, c=0
		{[]byte{0xf8}, 960},        // config 31 CELT FB 20 ms
		{[]byte{0x09}, 960 * 2},    // config 1 SILK NB 20 ms, c=1
		{[]byte{0x0b, 0x03}, 2880}, // config 1, c=3, 3 frames
		{[]byte{0x18}, 2880},       // config 3 SILK 60 ms
		{nil, 0},
	}
	for _, tt := range tests {
		if got := opusSamples(tt.give); got != tt.want {
			t.Errorf("opusSamples(%x) = %d, want %d", tt.give, got, tt.want)
		}
	}
}

func TestParseFrag(t *testing.T) {
	f, err := parseFrag([]byte("a=ice-ufrag:abcd\r\na=ice-pwd:secretsecretsecretsecret\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\n" +
		"a=mid:0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host\r\na=end-of-candidates\r\n"))
	if err != nil || f.ufrag != "abcd" || f.mid != "0" || len(f.candidates) != 1 {
		t.Fatalf("parseFrag = %+v, %v", f, err)
	}
	if _, err := parseFrag([]byte("a=ice-ufrag:abcd\r\n")); err == nil {
		t.Error("ufrag without pwd accepted")
	}
}

// BenchmarkLegWriteShared measures the leg's share of the downlink: one
// shared Opus packet wrapped in the leg's RTP header per tick.
func BenchmarkLegWriteShared(b *testing.B) {
	var st counters
	b.Run("discard", func(b *testing.B) {
		benchShared(b, &discardWriter{}, &st)
	})
	b.Run("unbound pion track", func(b *testing.B) {
		tr, err := pion.NewTrackLocalStaticRTP(pion.RTPCodecCapability{MimeType: pion.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "a", "b")
		if err != nil {
			b.Fatal(err)
		}
		benchShared(b, tr, &st)
	})
}

func benchShared(b *testing.B, w rtpWriter, st *counters) {
	l, err := newLeg(testLogger(), 48000, media.Opus, w, false, st, 0, 0)
	if err != nil {
		b.Fatal(err)
	}
	l.sending.Store(true)
	f := &media.SharedFrame{Format: media.FormatKey{Codec: "opus"},
		Packets: []media.SharedPacket{{Payload: make([]byte, 80), Samples: 960}}}
	b.ReportAllocs()
	for b.Loop() {
		l.WriteShared(f)
	}
}

func TestLegWriteSharedDoesNotAllocate(t *testing.T) {
	var st counters
	l, _ := newLeg(testLogger(), 48000, media.Opus, &discardWriter{}, false, &st, 0, 0)
	l.sending.Store(true)
	f := &media.SharedFrame{Packets: []media.SharedPacket{{Payload: make([]byte, 80), Samples: 960}}}
	if n := testing.AllocsPerRun(100, func() { l.WriteShared(f) }); n != 0 {
		t.Errorf("WriteShared allocates %.1f times per frame", n)
	}
	pcm := make([]int16, 960)
	if n := testing.AllocsPerRun(100, func() { l.WriteFrame(pcm) }); n != 0 {
		t.Errorf("WriteFrame allocates %.1f times per frame", n)
	}
}
