package e2e

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// sipRequest sends raw bytes over UDP and returns the first response's
// status line, or "" if none came within wait.
func sipExchange(t *testing.T, addr string, msg string, wait time.Duration) string {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 65535)
	n, err := c.Read(buf)
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(string(buf[:n]), "\r\n")
	return line
}

func options(addr, branch string) string {
	return fmt.Sprintf("OPTIONS sip:%s SIP/2.0\r\n"+
		"Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK%s;rport\r\n"+
		"Max-Forwards: 70\r\n"+
		"From: <sip:probe@127.0.0.1>;tag=%s\r\n"+
		"To: <sip:%s>\r\n"+
		"Call-ID: %s@127.0.0.1\r\n"+
		"CSeq: 1 OPTIONS\r\n"+
		"Content-Length: 0\r\n\r\n", addr, branch, branch, addr, branch)
}

// Torture messages in the style of RFC 4475: each must get 400 or be
// dropped, and must not stop the server from serving.
var malformed = []struct {
	name string
	msg  string
}{
	{"garbage", "this is not sip at all\r\n\r\n"},
	{"no CSeq", "INVITE sip:1000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKa1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:1000@127.0.0.1>\r\nCall-ID: nocseq\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"},
	{"bad CSeq method mismatch", "INVITE sip:1000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKa2\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:1000@127.0.0.1>\r\nCall-ID: badcseq\r\nCSeq: 1 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"},
	{"negative Content-Length", "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKa3\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: neglen\r\nCSeq: 1 OPTIONS\r\nContent-Length: -999\r\n\r\n"},
	{"huge Content-Length", "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKa4\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: hugelen\r\nCSeq: 1 OPTIONS\r\nContent-Length: 99999999\r\n\r\n"},
	{"bad request line", "INVITE  SIP/2.0\r\n\r\n"},
	{"unknown scheme in Request-URI", "INVITE nope:1000 SIP/7.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKa5\r\nCSeq: 1 INVITE\r\n\r\n"},
	{"no Via", "OPTIONS sip:127.0.0.1 SIP/2.0\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: novia\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"},
	{"INVITE with broken SDP", "INVITE sip:1000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKa6\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:1000@127.0.0.1>\r\nCall-ID: badsdp\r\nCSeq: 1 INVITE\r\nContact: <sip:a@127.0.0.1:5999>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: 9\r\n\r\nv=0\r\nxxxx"},
	{"binary noise", "\x00\x01\x02\xff\xfe\r\n\r\n"},
}

func TestMalformedRequestsAreRefusedAndServingGoesOn(t *testing.T) {
	s := startServer(t, "")
	for i, m := range malformed {
		t.Run(m.name, func(t *testing.T) {
			got := sipExchange(t, s.SIPUDP, m.msg, 300*time.Millisecond)
			if got != "" && !strings.HasPrefix(got, "SIP/2.0 4") {
				t.Fatalf("answered %q, want a 4xx or nothing", got)
			}
			// The server still answers a good request after each bad one.
			if got := sipExchange(t, s.SIPUDP, options(s.SIPUDP, fmt.Sprintf("ok%d", i)), 2*time.Second); got != "SIP/2.0 200 OK" {
				t.Fatalf("after %s, OPTIONS answered %q", m.name, got)
			}
		})
	}
}
