package webrtc

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/setbridge/setbridge/internal/audiotest"
)

// A minimal offer pion would accept apart from its content.
const junkSDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n" +
	"c=IN IP4 0.0.0.0\r\na=rtpmap:111 opus/48000/2\r\na=sendrecv\r\na=mid:0\r\n"

func TestToneReachesListenerButNotItsSpeaker(t *testing.T) {
	t.Parallel()
	b := newBridge(t, nil)
	pub := newPeer(t, clientOpts{publish: true})
	resp := pub.post(b.srv.URL+"/whip/demo", token(t, "demo", true))
	if got := resp.Header.Values("Link"); len(got) != 1 || !strings.Contains(got[0], `rel="ice-server"`) ||
		!strings.Contains(got[0], "<turn:127.0.0.1:3478>") || !strings.Contains(got[0], `username="u"`) {
		t.Errorf("Link headers = %q", got)
	}
	if !strings.HasPrefix(pub.location, "/whip/demo/") || pub.etag == "" || pub.participant == "" {
		t.Errorf("Location %q ETag %q participant %q", pub.location, pub.etag, pub.participant)
	}
	lis := newPeer(t, clientOpts{})
	lis.post(b.srv.URL+"/whep/demo", token(t, "demo", false))
	pub.waitConnected()
	lis.waitConnected()
	pub.send(1000, 0.3, -1)

	eventually(t, 8*time.Second, "the listener to hear 1 s of audio", func() bool {
		return len(lis.recent(time.Second)) == 48000 && len(pub.recent(time.Second)) == 48000
	})
	time.Sleep(500 * time.Millisecond)
	heard := audiotest.ToneLevelDB(lis.recent(time.Second), 48000, 1000)
	own := audiotest.ToneLevelDB(pub.recent(time.Second), 48000, 1000)
	t.Logf("listener hears 1000 Hz at %.1f dBFS, the speaker at %.1f dBFS; %+v", heard, own, b.edge.Stats())
	if heard < -20 {
		t.Errorf("listener hears the tone at %.1f dBFS, want > -20", heard)
	}
	if own > -50 {
		t.Errorf("speaker hears its own tone at %.1f dBFS, want < -50 (N-1)", own)
	}
	if got := b.engine.Talkers("demo"); len(got) != 1 || string(got[0]) != pub.participant {
		t.Errorf("talkers = %v, want [%s]", got, pub.participant)
	}
	st := b.edge.Stats()
	if st.Sessions != 2 || st.PacketsIn < 50 || st.PacketsOut < 100 || st.Decodes < 50 || st.Encodes < 50 {
		t.Errorf("stats = %+v", st)
	}
}

func TestRefusedRequestsLeaveNothingBehind(t *testing.T) {
	b := newBridge(t, nil)
	before := runtime.NumGoroutine()
	tests := []struct {
		name     string
		path     string
		ctype    string
		tok      string
		body     string
		wantCode int
	}{
		{"no token is 401", "/whip/demo", "application/sdp", "", junkSDP, http.StatusUnauthorized},
		{"a bad token is 401", "/whip/demo", "application/sdp", "not-a-jwt", junkSDP, http.StatusUnauthorized},
		{"a truncated token is 401", "/whip/demo", "application/sdp", token(t, "demo", true)[:40], junkSDP, http.StatusUnauthorized},
		{"a token for another room is 403", "/whip/demo", "application/sdp", token(t, "other", true), junkSDP, http.StatusForbidden},
		{"a listen-only token may not publish", "/whip/demo", "application/sdp", token(t, "demo", false), junkSDP, http.StatusForbidden},
		{"a wrong content type is 415", "/whip/demo", "text/plain", token(t, "demo", true), junkSDP, http.StatusUnsupportedMediaType},
		{"garbage SDP is 400", "/whip/demo", "application/sdp", token(t, "demo", true), "hello", http.StatusBadRequest},
		{"an offer without ICE and DTLS is 400", "/whip/demo", "application/sdp", token(t, "demo", true), junkSDP, http.StatusBadRequest},
		{"an offer without audio codec is 400", "/whep/demo", "application/sdp", token(t, "demo", true),
			strings.ReplaceAll(junkSDP, "opus/48000/2", "speex/8000"), http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, http.MethodPost, b.srv.URL+tt.path, tt.ctype, tt.tok, []byte(tt.body))
			if resp.StatusCode != tt.wantCode {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, body, tt.wantCode)
			}
			var e struct{ Error string }
			if err := json.Unmarshal(body, &e); err != nil || e.Error == "" || resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("body %q is not a JSON error", body)
			}
			if n := b.edge.Sessions(); n != 0 {
				t.Errorf("%d sessions left", n)
			}
		})
	}
	if n := b.engine.Participants("demo"); n != 0 {
		t.Errorf("%d participants joined", n)
	}
	eventually(t, 3*time.Second, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
}

func TestDeleteLeavesTheRoom(t *testing.T) {
	t.Parallel()
	b := newBridge(t, nil)
	lis := newPeer(t, clientOpts{})
	lis.post(b.srv.URL+"/whep/room4", token(t, "room4", false))
	eventually(t, 2*time.Second, "the participant to join", func() bool { return b.engine.Participants("room4") == 1 })

	resp, body := do(t, http.MethodPost, b.srv.URL+lis.location+"/mute", "application/json", "", []byte(`{"muted":true}`))
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("mute: %d %s", resp.StatusCode, body)
	}
	if resp, _ := do(t, http.MethodDelete, b.srv.URL+"/whip/room4/"+lis.location[len("/whep/room4/"):], "", "", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("DELETE of a WHEP session under /whip: %d, want 404", resp.StatusCode)
	}
	resp, body = do(t, http.MethodDelete, b.srv.URL+lis.location, "", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("DELETE: %d %s", resp.StatusCode, body)
	}
	eventually(t, 2*time.Second, "the participant to leave", func() bool { return b.engine.Participants("room4") == 0 })
	if n := b.edge.Sessions(); n != 0 {
		t.Errorf("%d sessions left", n)
	}
	if resp, _ := do(t, http.MethodDelete, b.srv.URL+lis.location, "", "", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("second DELETE: %d, want 404", resp.StatusCode)
	}
}

func TestClosedConnectionLeavesTheRoom(t *testing.T) {
	t.Parallel()
	b := newBridge(t, func(c *Config) { c.DisconnectTimeout = 500 * time.Millisecond })
	lis := newPeer(t, clientOpts{})
	lis.post(b.srv.URL+"/whep/room7", token(t, "room7", false))
	lis.waitConnected()
	lis.close()
	eventually(t, 10*time.Second, "the session to end", func() bool {
		return b.edge.Sessions() == 0 && b.engine.Participants("room7") == 0
	})
}

func TestICERestartKeepsMediaFlowing(t *testing.T) {
	t.Parallel()
	b := newBridge(t, nil)
	pub := newPeer(t, clientOpts{publish: true})
	pub.post(b.srv.URL+"/whip/room5", token(t, "room5", true))
	lis := newPeer(t, clientOpts{})
	lis.post(b.srv.URL+"/whep/room5", token(t, "room5", false))
	pub.waitConnected()
	lis.waitConnected()
	pub.send(1000, 0.3, -1)
	eventually(t, 5*time.Second, "media", func() bool { return b.edge.Stats().PacketsIn > 25 })

	offer := pub.offer(&pionOfferRestart)
	ufrag, pwd := iceCredentials(offer)
	var frag strings.Builder
	frag.WriteString("a=ice-ufrag:" + ufrag + "\r\na=ice-pwd:" + pwd + "\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n")
	for line := range strings.Lines(offer) {
		if strings.HasPrefix(line, "a=candidate:") {
			frag.WriteString(line)
		}
	}
	resp, _ := do(t, http.MethodPatch, b.srv.URL+pub.location, "application/trickle-ice-sdpfrag", "", []byte(frag.String()),
		"If-Match", `"wrong"`)
	if resp.StatusCode != http.StatusPreconditionFailed {
		t.Errorf("PATCH with a stale ETag: %d, want 412", resp.StatusCode)
	}
	resp, body := do(t, http.MethodPatch, b.srv.URL+pub.location, "application/trickle-ice-sdpfrag", "", []byte(frag.String()),
		"If-Match", "*")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/trickle-ice-sdpfrag" {
		t.Fatalf("ICE restart: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if et := resp.Header.Get("ETag"); et == "" || et == pub.etag {
		t.Errorf("ETag after restart = %q (before %q)", et, pub.etag)
	}
	oldUfrag, _ := iceCredentials(pub.pc.RemoteDescription().SDP)
	newUfrag, newPwd := iceCredentials(string(body))
	if newUfrag == "" || newPwd == "" || newUfrag == oldUfrag || !strings.Contains(string(body), "a=candidate:") {
		t.Fatalf("restart sdpfrag has no new credentials or candidates:\n%s", body)
	}
	// Apply the server's new credentials and candidates to its answer.
	answer := withICE(pub.pc.RemoteDescription().SDP, newUfrag, newPwd)
	var cands strings.Builder
	for line := range strings.Lines(string(body)) {
		if strings.HasPrefix(line, "a=candidate:") {
			cands.WriteString(line)
		}
	}
	answer = strings.Replace(answer, "a=mid:", cands.String()+"a=mid:", 1)
	if err := pub.pc.SetRemoteDescription(pionAnswer(answer)); err != nil {
		t.Fatal(err)
	}
	restartedAt := b.edge.Stats().PacketsIn
	eventually(t, 8*time.Second, "media after the restart", func() bool { return b.edge.Stats().PacketsIn > restartedAt+75 })
	time.Sleep(time.Second)
	if heard := audiotest.ToneLevelDB(lis.recent(time.Second), 48000, 1000); heard < -20 {
		t.Errorf("after the restart the listener hears the tone at %.1f dBFS, want > -20", heard)
	}
}

func TestAudioLevelRanksWithoutDecoding(t *testing.T) {
	t.Parallel()
	b := newBridge(t, nil)
	quiet := newPeer(t, clientOpts{publish: true, audioLevel: true})
	quiet.post(b.srv.URL+"/whip/room6", token(t, "room6", true))
	if quiet.levelExt == 0 {
		t.Fatal("the audio level extension was not negotiated")
	}
	quiet.waitConnected()
	quiet.send(440, 0.001, 127) // says "silence": never selected, never decoded
	eventually(t, 5*time.Second, "packets", func() bool { return b.edge.Stats().PacketsIn >= 75 })
	if st := b.edge.Stats(); st.Decodes != 0 {
		t.Fatalf("an unselected uplink with audio levels was decoded: %+v", st)
	}

	loud := newPeer(t, clientOpts{publish: true, audioLevel: true})
	loud.post(b.srv.URL+"/whip/room6", token(t, "room6", true))
	loud.waitConnected()
	loud.send(1000, 0.3, -1)
	eventually(t, 5*time.Second, "the loud speaker to be selected", func() bool {
		got := b.engine.Talkers("room6")
		return len(got) == 1 && string(got[0]) == loud.participant
	})
	time.Sleep(time.Second)
	st := b.edge.Stats()
	// Only the loud one is decoded: about half the packets in.
	if st.Decodes == 0 || st.Decodes > st.PacketsIn*2/3 {
		t.Errorf("decodes %d for %d packets in: want only the selected uplink decoded", st.Decodes, st.PacketsIn)
	}
	t.Logf("%+v", st)
}

func TestICETCPCandidatesAreOffered(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	b := newBridge(t, func(c *Config) { c.ICETCPPort = port })
	lis := newPeer(t, clientOpts{})
	lis.post(b.srv.URL+"/whep/room8", token(t, "room8", false))
	if sdp := lis.pc.RemoteDescription().SDP; !strings.Contains(sdp, "tcptype passive") {
		t.Errorf("no passive TCP candidate in the answer:\n%s", sdp)
	}
	lis.waitConnected()
}

// TestG711OnlyClients: a WHIP client that offers only PCMU is answered
// with PCMU; an Opus listener hears it, and a PCMU-only listener hears an
// Opus publisher, each through the mixer.
func TestG711OnlyClients(t *testing.T) {
	t.Parallel()
	b := newBridge(t, nil)
	pub := newPeer(t, clientOpts{publish: true, pcmu: true})
	pub.post(b.srv.URL+"/whip/demo", token(t, "demo", true))
	if sdp := pub.pc.RemoteDescription().SDP; !strings.Contains(sdp, "PCMU/8000") || strings.Contains(sdp, "opus") {
		t.Fatalf("answer to a PCMU-only offer:\n%s", sdp)
	}
	opusPub := newPeer(t, clientOpts{publish: true})
	opusPub.post(b.srv.URL+"/whip/demo", token(t, "demo", true))
	lis := newPeer(t, clientOpts{})
	lis.post(b.srv.URL+"/whep/demo", token(t, "demo", false))
	lisPCMU := newPeer(t, clientOpts{pcmu: true})
	lisPCMU.post(b.srv.URL+"/whep/demo", token(t, "demo", false))
	for _, c := range []*client{pub, opusPub, lis, lisPCMU} {
		c.waitConnected()
	}
	pub.send(440, 0.3, -1)
	opusPub.send(1000, 0.3, -1)
	eventually(t, 8*time.Second, "both listeners to hear 1 s of audio", func() bool {
		return len(lis.recent(time.Second)) == 48000 && len(lisPCMU.recent(time.Second)) == 8000
	})
	time.Sleep(1500 * time.Millisecond)
	for _, c := range []struct {
		who  string
		pcm  []int16
		rate int
		want []float64
	}{
		{"Opus listener", lis.recent(time.Second), 48000, []float64{440, 1000}},
		{"PCMU listener", lisPCMU.recent(time.Second), 8000, []float64{440, 1000}},
		{"PCMU publisher (hears the Opus one, not itself)", pub.recent(time.Second), 8000, []float64{1000}},
	} {
		for _, f := range c.want {
			if db := audiotest.ToneLevelDB(c.pcm, c.rate, f); db < -25 {
				t.Errorf("%s hears %.0f Hz at %.1f dBFS, want > -25", c.who, f, db)
			}
		}
	}
	if db := audiotest.ToneLevelDB(pub.recent(time.Second), 8000, 440); db > -45 {
		t.Errorf("the PCMU publisher hears its own 440 Hz at %.1f dBFS", db)
	}
}

// TestPublicAddressAndPortRange: with a 1:1 NAT address the answer's host
// candidates carry it, and without the UDP mux the ports come from the
// configured range.
func TestPublicAddressAndPortRange(t *testing.T) {
	t.Parallel()
	lo := uint16(freeUDPPort(t))
	b := newBridge(t, func(c *Config) {
		c.UDPMuxPort = 0
		c.PortMin, c.PortMax = lo, lo+20
		c.NAT1To1IPs = []string{"203.0.113.7"}
	})
	pub := newPeer(t, clientOpts{publish: true})
	pub.post(b.srv.URL+"/whip/demo", token(t, "demo", true))
	var cands []string
	for _, l := range strings.Split(pub.pc.RemoteDescription().SDP, "\r\n") {
		if strings.HasPrefix(l, "a=candidate:") {
			cands = append(cands, l)
		}
	}
	if len(cands) == 0 {
		t.Fatal("no candidates in the answer")
	}
	t.Logf("answer candidates: %q", cands)
	for _, c := range cands {
		f := strings.Fields(c)
		if len(f) < 8 || f[4] != "203.0.113.7" {
			t.Errorf("candidate %q does not carry the public address", c)
			continue
		}
		var port int
		fmt.Sscan(f[5], &port)
		if f[2] == "udp" && (port < int(lo) || port > int(lo)+20) {
			t.Errorf("candidate %q: port outside %d..%d", c, lo, lo+20)
		}
	}
}
