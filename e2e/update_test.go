package e2e

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// rawDialog is a minimal UAC on one UDP socket, enough to drive in-dialog
// requests sipp's scenarios do not cover.
type rawDialog struct {
	t      *testing.T
	c      *net.UDPConn
	server string
	callID string
	number string // dialled; "1000" if empty
	toTag  string
	cseq   int
}

func (d *rawDialog) send(method, extra, body string) (string, string, string) {
	d.t.Helper()
	d.cseq++
	number := d.number
	if number == "" {
		number = "1000"
	}
	to := fmt.Sprintf("<sip:%s@%s>", number, d.server)
	if d.toTag != "" {
		to += ";tag=" + d.toTag
	}
	ctype := ""
	if body != "" {
		ctype = "Content-Type: application/sdp\r\n"
	}
	msg := fmt.Sprintf("%s sip:%s@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK%s%s%d;rport\r\nMax-Forwards: 70\r\n"+
		"From: <sip:caller@127.0.0.1>;tag=raw%s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %d %s\r\nContact: <sip:caller@%s>\r\n%s%sContent-Length: %d\r\n\r\n%s",
		method, number, d.server, d.c.LocalAddr(), d.callID, method, d.cseq, d.callID, to, d.callID, d.cseq, method, d.c.LocalAddr(), extra, ctype, len(body), body)
	if _, err := d.c.Write([]byte(msg)); err != nil {
		d.t.Fatal(err)
	}
	if method == "ACK" {
		return "", "", ""
	}
	buf := make([]byte, 65535)
	for {
		d.c.SetReadDeadline(time.Now().Add(3 * time.Second))
		n, err := d.c.Read(buf)
		if err != nil {
			d.t.Fatalf("%s: no final response: %v", method, err)
		}
		head, body, _ := strings.Cut(string(buf[:n]), "\r\n\r\n")
		line, hdrs, _ := strings.Cut(head, "\r\n")
		if !strings.HasPrefix(line, "SIP/2.0 ") || strings.HasPrefix(line, "SIP/2.0 1") {
			continue
		}
		if d.toTag == "" {
			if _, tag, ok := strings.Cut(header(hdrs+"\r\n", "To"), "tag="); ok {
				d.toTag = strings.Split(tag, ";")[0]
			}
		}
		return line, hdrs + "\r\n", body
	}
}

func sdpWith(dir string) string {
	return "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=" + dir + "\r\n"
}

func TestUpdateHoldsResumesAndRefreshes(t *testing.T) {
	s := startServer(t, "")
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(mustAddrPort(t, s.SIPUDP)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	d := &rawDialog{t: t, c: c, server: s.SIPUDP, callID: "update-test"}
	if st, _, _ := d.send("INVITE", "", sdpWith("sendrecv")); st != "SIP/2.0 200 OK" {
		t.Fatalf("INVITE: %s", st)
	}
	d.cseq--
	d.send("ACK", "", "")
	d.cseq++
	for _, tt := range []struct{ give, want string }{{"sendonly", "a=recvonly"}, {"inactive", "a=inactive"}, {"sendrecv", "a=sendrecv"}} {
		st, _, body := d.send("UPDATE", "", sdpWith(tt.give))
		if st != "SIP/2.0 200 OK" || !strings.Contains(body, tt.want) {
			t.Fatalf("UPDATE %s: %s\n%s", tt.give, st, body)
		}
	}
	if st, _, _ := d.send("UPDATE", "", ""); st != "SIP/2.0 200 OK" {
		t.Fatalf("refreshing UPDATE without SDP: %s", st)
	}
	if v := s.metric("setbridge_sip_active_calls"); v != 1 {
		t.Fatalf("active calls %v after hold and resume, want 1", v)
	}
	if st, _, _ := d.send("BYE", "", ""); st != "SIP/2.0 200 OK" {
		t.Fatalf("BYE: %s", st)
	}
	waitFor(t, 3*time.Second, "the call to end", func() bool { return s.metric("setbridge_sip_active_calls") == 0 })
}

func mustAddrPort(t *testing.T, s string) netip.AddrPort {
	t.Helper()
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		t.Fatal(err)
	}
	return ap
}
