package sip

import (
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"github.com/setbridge/setbridge/media"
	"github.com/setbridge/setbridge/media/dtmf"
)

type legPeer struct {
	rtp, rtcp *net.UDPConn
}

func (p legPeer) addr() netip.AddrPort { return p.rtp.LocalAddr().(*net.UDPAddr).AddrPort() }

func newLegPeer(t *testing.T) legPeer {
	t.Helper()
	ports := newPortAllocator(netip.MustParseAddr("127.0.0.1"), 42000, 42999)
	a, b, _, err := ports.listen()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return legPeer{a, b}
}

type digitLog struct {
	mu     sync.Mutex
	digits []rune
}

func (d *digitLog) add(x dtmf.Digit) { d.mu.Lock(); d.digits = append(d.digits, x.Rune); d.mu.Unlock() }
func (d *digitLog) String() string   { d.mu.Lock(); defer d.mu.Unlock(); return string(d.digits) }

func newTestLeg(t *testing.T, roomRate int, digits *digitLog) *rtpLeg {
	t.Helper()
	neg := negotiated{Codec: media.PCMU, PT: 0, DTMFPT: 101, Ptime: 20}
	l, err := newRTPLeg(legConfig{log: slog.Default(), clock: media.SystemClock{}, ports: newPortAllocator(netip.MustParseAddr("127.0.0.1"), 43000, 43999),
		neg: neg, roomRate: roomRate, jitterDepth: 2, onDigit: digits.add, metrics: NewMetrics(nil)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.close)
	return l
}

func (l *rtpLeg) addrPort() netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(l.port))
}

func sendRTP(t *testing.T, from *net.UDPConn, to netip.AddrPort, pt uint8, seq uint16, ts uint32, payload []byte) {
	t.Helper()
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: ts, SSRC: 0x1234}, Payload: payload}
	b, _ := p.Marshal()
	if _, err := from.WriteToUDPAddrPort(b, to); err != nil {
		t.Fatal(err)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestLegLatchesTheFirstSourceAndDropsOthers(t *testing.T) {
	l := newTestLeg(t, 8000, &digitLog{})
	sdpSays := netip.MustParseAddrPort("127.0.0.1:9") // the caller's SDP lies (NAT)
	l.setRemote(sdpSays, netip.MustParseAddrPort("127.0.0.1:10"))
	a, b := newLegPeer(t), newLegPeer(t)
	payload := make([]byte, 160)
	for i := range 3 {
		sendRTP(t, a.rtp, l.addrPort(), 0, uint16(i), uint32(i*160), payload)
	}
	waitUntil(t, "three packets", func() bool { return l.stats.packetsIn.Load() == 3 })
	for i := range 3 {
		sendRTP(t, b.rtp, l.addrPort(), 0, uint16(100+i), uint32(i*160), payload)
	}
	waitUntil(t, "three strays", func() bool { return l.stats.strayIn.Load() == 3 })
	if got := l.stats.packetsIn.Load(); got != 3 {
		t.Fatalf("accepted %d packets, want 3: RTP bleed from a second source", got)
	}
	if got := *l.remote.Load(); got != a.addr() {
		t.Fatalf("sends to %v, want the latched source %v (symmetric RTP)", got, a.addr())
	}
	// Our audio goes to where the caller really is.
	l.sending.Store(true)
	l.WriteFrame(make([]int16, 160))
	a.rtp.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 1500)
	n, err := a.rtp.Read(buf)
	if err != nil || n != 12+160 {
		t.Fatalf("latched source got %d bytes, %v", n, err)
	}
}

func TestLegSendsDigitsAsRFC4733AndKeepsTheClock(t *testing.T) {
	l := newTestLeg(t, 8000, &digitLog{})
	a := newLegPeer(t)
	l.setRemote(a.addr(), netip.AddrPortFrom(a.addr().Addr(), a.addr().Port()+1))
	l.sending.Store(true)
	if !l.SendDigits("15#5") {
		t.Fatal("SendDigits refused")
	}
	rx := dtmf.NewReceiver(8000)
	var got []rune
	var lastTS uint32
	var audio int
	buf := make([]byte, 1500)
	frame := make([]int16, 160)
	for i := range 150 {
		l.WriteFrame(frame)
		a.rtp.SetReadDeadline(time.Now().Add(time.Second))
		n, err := a.rtp.Read(buf)
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		var p rtp.Packet
		if err := p.Unmarshal(buf[:n]); err != nil {
			t.Fatal(err)
		}
		switch p.PayloadType {
		case 101:
			if d, ok, err := rx.Push(p.SequenceNumber, p.Timestamp, p.Payload, time.Now()); err != nil {
				t.Fatal(err)
			} else if ok {
				got = append(got, d.Rune)
			}
		case 0:
			if audio > 0 && (p.Timestamp <= lastTS || (p.Timestamp-lastTS)%160 != 0) {
				t.Fatalf("audio timestamp went from %d to %d", lastTS, p.Timestamp)
			}
			lastTS = p.Timestamp
			audio++
		}
	}
	if string(got) != "15#5" {
		t.Fatalf("peer decoded %q, want %q", string(got), "15#5")
	}
	if audio == 0 {
		t.Fatal("no audio between digits")
	}
}

func TestLegDeliversReceivedDigitsOnce(t *testing.T) {
	digits := &digitLog{}
	l := newTestLeg(t, 8000, digits)
	a := newLegPeer(t)
	s, _ := dtmf.NewSender(8000, 20*time.Millisecond)
	seq, ts := uint16(1), uint32(1000)
	for _, r := range "90*" {
		pkts, err := s.Packets(r, 80*time.Millisecond, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pkts {
			sendRTP(t, a.rtp, l.addrPort(), 101, seq, ts+p.TimestampOffset, p.Payload[:])
			seq++
		}
		ts += 2000
	}
	waitUntil(t, "three digits", func() bool { return digits.String() == "90*" })
	time.Sleep(50 * time.Millisecond)
	if digits.String() != "90*" {
		t.Fatalf("digits %q, want 90* exactly once each", digits.String())
	}
}

func TestLegSendsRTCPSenderReports(t *testing.T) {
	l := newTestLeg(t, 8000, &digitLog{})
	a := newLegPeer(t)
	l.setRemote(a.addr(), netip.AddrPortFrom(a.addr().Addr(), a.addr().Port()+1))
	l.sending.Store(true)
	frame := make([]int16, 160)
	for range 250 { // five seconds of ticks
		l.WriteFrame(frame)
	}
	a.rtcp.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 1500)
	n, err := a.rtcp.Read(buf)
	if err != nil {
		t.Fatalf("no RTCP: %v", err)
	}
	pkts, err := rtcp.Unmarshal(buf[:n])
	if err != nil {
		t.Fatal(err)
	}
	sr, ok := pkts[0].(*rtcp.SenderReport)
	if !ok || sr.SSRC != l.ssrc || sr.PacketCount != 250 || sr.OctetCount != 250*160 {
		t.Fatalf("got %#v, want an SR for SSRC %x with 250 packets", pkts[0], l.ssrc)
	}
}

func TestLegPlaysOutReorderedAudioInOrder(t *testing.T) {
	l := newTestLeg(t, 8000, &digitLog{})
	a := newLegPeer(t)
	// Packet i carries the μ-law code i+1 in every byte.
	order := []int{1, 0, 2, 4, 3, 5}
	for _, i := range order {
		p := make([]byte, 160)
		for j := range p {
			p[j] = byte(0x10 + i)
		}
		sendRTP(t, a.rtp, l.addrPort(), 0, uint16(500+i), uint32(i*160), p)
	}
	waitUntil(t, "six packets", func() bool { return l.stats.packetsIn.Load() == 6 })
	dst := make([]int16, 160)
	dec, _ := media.PCMU.NewDecoder()
	want := make([]int16, 1)
	for i := range 6 {
		if !l.ReadFrame(dst) {
			t.Fatalf("frame %d: no audio", i)
		}
		dec.Decode(want, []byte{byte(0x10 + i)})
		if dst[0] != want[0] || dst[159] != want[0] {
			t.Fatalf("frame %d holds %d, want %d", i, dst[0], want[0])
		}
	}
	if l.ReadFrame(dst) {
		t.Fatal("audio after the last packet")
	}
}

func FuzzLegHandleRTP(f *testing.F) {
	f.Add([]byte{0x80, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0xff, 0xff})
	f.Add([]byte{0x80, 101, 0x00, 0x02, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0x05, 0x8a, 0x03, 0x20})
	f.Add([]byte{0xa0, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0x09})
	l, err := newRTPLeg(legConfig{log: slog.Default(), clock: media.SystemClock{}, ports: newPortAllocator(netip.MustParseAddr("127.0.0.1"), 44000, 44999),
		neg: negotiated{Codec: media.PCMU, PT: 0, DTMFPT: 101, Ptime: 20}, roomRate: 48000, jitterDepth: 2, metrics: NewMetrics(nil)})
	if err != nil {
		f.Fatal(err)
	}
	defer l.close()
	src := netip.MustParseAddrPort("127.0.0.1:5004")
	dst := make([]int16, 960)
	f.Fuzz(func(t *testing.T, b []byte) {
		l.handleRTP(b, src)
		l.ReadFrame(dst)
	})
}
