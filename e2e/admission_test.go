package e2e

import (
	"context"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/icholy/digest"

	"github.com/setbridge/setbridge/internal/peers"
)

func invite(addr, callID, number, authz string, cseq int) string {
	return inviteWithMedia(addr, callID, number, authz, cseq, "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
}

func inviteWithMedia(addr, callID, number, authz string, cseq int, media string) string {
	sdp := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" + media
	h := ""
	if authz != "" {
		h = "Authorization: " + authz + "\r\n"
	}
	return fmt.Sprintf("INVITE sip:%s@%s SIP/2.0\r\n"+
		"Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK%s%d;rport\r\n"+
		"Max-Forwards: 70\r\n"+
		"From: <sip:caller@127.0.0.1>;tag=%s\r\n"+
		"To: <sip:%s@%s>\r\n"+
		"Call-ID: %s\r\n"+
		"CSeq: %d INVITE\r\n"+
		"Contact: <sip:caller@127.0.0.1:5999>\r\n"+
		"%s"+
		"Content-Type: application/sdp\r\n"+
		"Content-Length: %d\r\n\r\n%s", number, addr, callID, cseq, callID, number, addr, callID, cseq, h, len(sdp), sdp)
}

// exchange sends msg and collects the responses until a final one.
func exchange(t *testing.T, addr, msg string) (status string, headers string) {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte(msg))
	buf := make([]byte, 65535)
	for {
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		n, err := c.Read(buf)
		if err != nil {
			return "", ""
		}
		resp := string(buf[:n])
		line, rest, _ := strings.Cut(resp, "\r\n")
		if strings.HasPrefix(line, "SIP/2.0 1") {
			continue
		}
		return line, rest
	}
}

func header(headers, name string) string {
	for _, l := range strings.Split(headers, "\r\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

const trunkConfig = `
sip:
  trunks:
    - name: carrier
      allowed_addresses: ["192.0.2.0/24"]
    - name: pbx
      username: pbx
      password: s3cret
      numbers: ["+15550001000"]
      default_room: demo
`

func TestStrangersAreForbiddenAndDigestAdmits(t *testing.T) {
	s := startServer(t, trunkConfig)

	t.Run("a stranger with no credentials is challenged, with wrong ones forbidden", func(t *testing.T) {
		st, hdrs := exchange(t, s.SIPUDP, invite(s.SIPUDP, "auth1", "15550001000", "", 1))
		if st != "SIP/2.0 401 Unauthorized" {
			t.Fatalf("got %q", st)
		}
		chal, err := digest.ParseChallenge(header(hdrs, "WWW-Authenticate"))
		if err != nil {
			t.Fatalf("challenge: %v", err)
		}
		cred, _ := digest.Digest(chal, digest.Options{Method: "INVITE", URI: "sip:15550001000@" + s.SIPUDP, Username: "pbx", Password: "wrong", Count: 1})
		if st, _ := exchange(t, s.SIPUDP, invite(s.SIPUDP, "auth1", "15550001000", cred.String(), 2)); st != "SIP/2.0 403 Forbidden" {
			t.Fatalf("wrong password: got %q", st)
		}
	})
	t.Run("sipp with the right credentials gets through the challenge", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		res, err := peers.RunSipp(ctx, peers.SippOptions{T: t, Scenario: "testdata/uac_auth.xml", Target: s.SIPUDP, Service: "+15550001000",
			Calls: 1, Timeout: 20 * time.Second, Extra: []string{"-au", "pbx", "-ap", "s3cret"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := res.Check(1); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a number the trunk does not carry is not found", func(t *testing.T) {
		st, hdrs := exchange(t, s.SIPUDP, invite(s.SIPUDP, "auth2", "999", "", 1))
		chal, _ := digest.ParseChallenge(header(hdrs, "WWW-Authenticate"))
		if st != "SIP/2.0 401 Unauthorized" || chal == nil {
			t.Fatalf("got %q", st)
		}
		cred, _ := digest.Digest(chal, digest.Options{Method: "INVITE", URI: "sip:999@" + s.SIPUDP, Username: "pbx", Password: "s3cret", Count: 1})
		if st, _ := exchange(t, s.SIPUDP, invite(s.SIPUDP, "auth2", "999", cred.String(), 2)); st != "SIP/2.0 404 Not Found" {
			t.Fatalf("got %q", st)
		}
	})
}

func TestNoCommonCodecGets488WithWarning(t *testing.T) {
	s := startServer(t, "")
	msg := inviteWithMedia(s.SIPUDP, "codec1", "1000", "", 1, "m=audio 40000 RTP/AVP 3\r\na=rtpmap:3 GSM/8000\r\n")
	st, hdrs := exchange(t, s.SIPUDP, msg)
	if st != "SIP/2.0 488 Not Acceptable Here" || !strings.Contains(header(hdrs, "Warning"), "305") {
		t.Fatalf("got %q, Warning %q", st, header(hdrs, "Warning"))
	}
}

// TestSIGTERMDrains: new calls get 503 while the call in progress goes on
// to its end, then the process exits 0.
func TestSIGTERMDrains(t *testing.T) {
	s := startServer(t, "drain_timeout: 20s\n")
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	call, err := peers.StartSipp(ctx, peers.SippOptions{T: t, Scenario: "uac", Target: s.SIPUDP, Service: "1000",
		Calls: 1, CallDuration: 4 * time.Second, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the call", func() bool { return s.metric("setbridge_sip_active_calls") == 1 })
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "readyz to turn 503", func() bool { code, _ := s.get("/readyz"); return code == 503 })
	if st, _ := exchange(t, s.SIPUDP, invite(s.SIPUDP, "drain1", "1000", "", 1)); st != "SIP/2.0 503 Service Unavailable" {
		t.Fatalf("INVITE while draining: %q", st)
	}
	if st := sipExchange(t, s.SIPUDP, options(s.SIPUDP, "drain2"), 2*time.Second); st != "SIP/2.0 503 Service Unavailable" {
		t.Fatalf("OPTIONS while draining: %q", st)
	}
	res, err := call.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Check(1); err != nil {
		t.Fatalf("the call in progress did not finish normally: %v", err)
	}
	select {
	case <-s.exited:
		if s.exitErr != nil {
			t.Fatalf("exit: %v", s.exitErr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("setbridge did not exit after its last call ended")
	}
}
