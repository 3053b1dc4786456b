package e2e

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/setbridge/setbridge/internal/audiotest"
	"github.com/setbridge/setbridge/media/dtmf"
)

type rtpArrival struct {
	at  time.Time
	pkt rtp.Packet
}

// TestPromptTimingOnTheWire measures the IVR's prompts as a trunk receives
// them: the first prompt packet right after the ACK, with the marker bit;
// no gap inside the prompt (sequence numbers and timestamps advance by
// exactly one packet, every packet on time); and a digit stops the prompt
// within a frame or two of its arrival.
func TestPromptTimingOnTheWire(t *testing.T) {
	s := startServer(t, "")
	media, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer media.Close()
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(mustAddrPort(t, s.SIPUDP)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	d := &rawDialog{t: t, c: c, server: s.SIPUDP, callID: "timing", number: "2000"}
	offer := strings.Replace(sdpWith("sendrecv"), "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000",
		"m=audio "+strconv.Itoa(media.LocalAddr().(*net.UDPAddr).Port)+" RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000", 1)
	d.server = s.SIPUDP
	st, _, answer := d.send("INVITE", "", offer)
	if st != "SIP/2.0 200 OK" {
		t.Fatalf("INVITE: %s", st)
	}
	var serverRTP *net.UDPAddr
	for _, l := range strings.Split(answer, "\r\n") {
		if p, ok := strings.CutPrefix(l, "m=audio "); ok {
			port, _ := strconv.Atoi(strings.Fields(p)[0])
			serverRTP = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
		}
	}
	d.cseq--
	d.send("ACK", "", "")
	d.cseq++
	ack := time.Now()

	// Read packets for three seconds; send a digit after two.
	var got []rtpArrival
	var digitAt time.Time
	buf := make([]byte, 1500)
	sender, _ := dtmf.NewSender(8000, 20*time.Millisecond)
	pkts, _ := sender.Packets('5', 100*time.Millisecond, nil)
	seq := uint16(100)
	for time.Since(ack) < 3*time.Second {
		media.SetReadDeadline(time.Now().Add(time.Second))
		n, err := media.Read(buf)
		if err != nil {
			t.Fatalf("no RTP: %v", err)
		}
		var p rtp.Packet
		if err := p.Unmarshal(buf[:n]); err != nil {
			t.Fatal(err)
		}
		p.Payload = append([]byte(nil), p.Payload...)
		got = append(got, rtpArrival{time.Now(), p})
		if digitAt.IsZero() && time.Since(ack) > 2*time.Second {
			digitAt = time.Now()
			for _, e := range pkts {
				b, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 101, Marker: e.Marker, SequenceNumber: seq,
					Timestamp: 16000, SSRC: 7}, Payload: e.Payload[:]}).Marshal()
				media.WriteToUDP(b, serverRTP)
				seq++
			}
		}
	}
	d.send("BYE", "", "")

	first := got[0]
	t.Logf("first prompt packet %v after the ACK", first.at.Sub(ack).Round(time.Millisecond))
	if !first.pkt.Marker {
		t.Error("the first packet lacks the marker bit")
	}
	if d := first.at.Sub(ack); d > 60*time.Millisecond {
		t.Errorf("the first prompt packet came %v after the ACK", d)
	}
	// No gap: every packet follows the last by one sequence number and 160
	// timestamp units, and arrives within 3 frames of its schedule.
	var late time.Duration
	for i := 1; i < len(got); i++ {
		a, b := got[i-1].pkt, got[i].pkt
		if b.SequenceNumber != a.SequenceNumber+1 || b.Timestamp != a.Timestamp+160 {
			t.Fatalf("packet %d: seq %d→%d, ts %d→%d: a gap", i, a.SequenceNumber, b.SequenceNumber, a.Timestamp, b.Timestamp)
		}
		due := first.at.Add(time.Duration(i) * 20 * time.Millisecond)
		late = max(late, got[i].at.Sub(due))
	}
	t.Logf("%d packets, the latest %v behind its schedule", len(got), late.Round(time.Millisecond))
	if late > 60*time.Millisecond {
		t.Errorf("packets ran up to %v late", late)
	}
	// The welcome prompt is audio up to the digit, then silence within a
	// few frames (barge-in).
	bargeIn := time.Duration(-1)
	for _, a := range got {
		if a.at.Before(digitAt) {
			continue
		}
		if audiotest.RMSdBFS(audiotest.DecodeULaw(a.pkt.Payload)) < -50 {
			bargeIn = a.at.Sub(digitAt)
			break
		}
	}
	t.Logf("barge-in: the prompt stopped %v after the digit", bargeIn.Round(time.Millisecond))
	if bargeIn < 0 || bargeIn > 100*time.Millisecond {
		t.Errorf("barge-in took %v", bargeIn)
	}
}
