package e2e

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/setbridge/setbridge/internal/peers"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// startKamailio runs Debian's kamailio as a registrar on a free loopback
// port, with the configuration the sip package's registration test uses
// (every user of realm setbridge.test has password s3cret).
func startKamailio(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("kamailio")
	if err != nil {
		t.Fatalf("kamailio is not installed: %v", err)
	}
	port, err := peers.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	dir := t.TempDir()
	log := &lockedBuffer{}
	cmd := exec.Command(bin, "-f", "../sip/testdata/kamailio/registrar.cfg", "-DD", "-E", "-l", "udp:"+addr,
		"-w", dir, "-P", filepath.Join(dir, "kamailio.pid"), "-Y", dir, "-m", "32", "-M", "4", "-n", "2")
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			t.Logf("kamailio log:\n%s", log)
		}
	})
	waitFor(t, 10*time.Second, "kamailio to answer OPTIONS", func() bool {
		return sipExchange(t, addr, options(addr, fmt.Sprintf("kready%d", time.Now().UnixNano())), 200*time.Millisecond) == "SIP/2.0 200 Ready"
	})
	return addr
}

// bound asks the registrar whether user has a binding.
func bound(t *testing.T, registrar, user string) bool {
	msg := strings.Replace(options(registrar, fmt.Sprintf("b%d", time.Now().UnixNano())), "OPTIONS sip:"+registrar, "OPTIONS sip:"+user+"@"+registrar, 1)
	return sipExchange(t, registrar, msg, time.Second) == "SIP/2.0 200 Bound"
}

// TestTrunkRegistersWithItsCarrier: a trunk with a register section keeps
// a binding at a real registrar (kamailio, digest auth), shows it in
// /metrics, and removes it when setbridge stops.
func TestTrunkRegistersWithItsCarrier(t *testing.T) {
	registrar := startKamailio(t)
	s := startServer(t, fmt.Sprintf(`
sip:
  trunks:
    - name: carrier
      allowed_addresses: ["127.0.0.1"]
      register:
        registrar: sip:%s
        aor: sip:4420794600@setbridge.test
        username: "4420794600"
        password: s3cret
        expires: 60s
`, registrar))
	waitFor(t, 10*time.Second, "the registration", func() bool {
		return s.metric(`setbridge_sip_registration_registered{trunk="carrier"}`) == 1
	})
	if !bound(t, registrar, "4420794600") {
		t.Fatal("setbridge reports registered but the registrar holds no binding")
	}
	s.stop()
	if s.exitErr != nil {
		t.Fatalf("exit: %v", s.exitErr)
	}
	if bound(t, registrar, "4420794600") {
		t.Fatal("the binding is still there after setbridge stopped")
	}
}
