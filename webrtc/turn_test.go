package webrtc

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	pion "github.com/pion/webrtc/v4"

	"github.com/setbridge/setbridge/internal/audiotest"
)

// startCoturn runs Debian's coturn on 127.0.0.1 with one long-term user.
func startCoturn(t *testing.T) (url string) {
	t.Helper()
	bin, err := exec.LookPath("turnserver")
	if err != nil {
		if os.Getenv("SETBRIDGE_REQUIRE_TURN") != "" {
			t.Fatal("turnserver (Debian's coturn) is required")
		}
		t.Skip("turnserver (Debian's coturn) not installed")
	}
	port := freeUDPPort(t)
	relayMin := freeUDPPort(t)
	dir := t.TempDir()
	cmd := exec.Command(bin, "-n", "--no-cli", "--no-tls", "--no-dtls", "--listening-ip", "127.0.0.1", "--relay-ip", "127.0.0.1",
		"--listening-port", fmt.Sprint(port), "--min-port", fmt.Sprint(relayMin), "--max-port", fmt.Sprint(relayMin+50),
		"--lt-cred-mech", "--user", "alice:secret", "--realm", "setbridge.test", "--allow-loopback-peers",
		"--pidfile", filepath.Join(dir, "turn.pid"), "--log-file", filepath.Join(dir, "turn.log"), "--simple-log")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	time.Sleep(300 * time.Millisecond) // it binds at once; give it a moment
	return fmt.Sprintf("turn:127.0.0.1:%d?transport=udp", port)
}

// TestThroughTURN: a publisher reaches the edge only through coturn (relay
// candidates only), and a listener hears its tone.
func TestThroughTURN(t *testing.T) {
	turn := startCoturn(t)
	b := newBridge(t, nil)
	pub := newPeer(t, clientOpts{publish: true, relay: true,
		ice: []pion.ICEServer{{URLs: []string{turn}, Username: "alice", Credential: "secret"}}})
	pub.post(b.srv.URL+"/whip/demo", token(t, "demo", true))
	lis := newPeer(t, clientOpts{})
	lis.post(b.srv.URL+"/whep/demo", token(t, "demo", false))
	pub.waitConnected()
	lis.waitConnected()
	pair, err := pub.pc.GetSenders()[0].Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil {
		t.Fatalf("no selected candidate pair: %v", err)
	}
	if pair.Local.Typ != pion.ICECandidateTypeRelay {
		t.Fatalf("the publisher's selected candidate is %s, want relay (through coturn)", pair.Local.Typ)
	}
	pub.send(1000, 0.3, -1)
	eventually(t, 8*time.Second, "the listener to hear 1 s of audio", func() bool { return len(lis.recent(time.Second)) == 48000 })
	time.Sleep(1500 * time.Millisecond) // past the start of the tone
	heard := audiotest.ToneLevelDB(lis.recent(time.Second), 48000, 1000)
	t.Logf("through TURN (%s → %s): the listener hears 1000 Hz at %.1f dBFS", pair.Local.Address, pair.Remote.Address, heard)
	if heard < -20 {
		t.Errorf("the listener hears the relayed tone at %.1f dBFS, want > -20", heard)
	}
}
