package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/setbridge/setbridge/internal/peers"
)

// startVersitygw runs the S3-compatible versitygw (posix backend) on a
// free loopback port; CI installs it (recorder/s3store/testdata).
func startVersitygw(t *testing.T) (addr, root string) {
	t.Helper()
	bin := os.Getenv("SETBRIDGE_S3_SERVER")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("versitygw"); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatal("versitygw is not installed (recorder/s3store/testdata/install-s3-server.sh)")
			}
			t.Skip("versitygw not installed; run recorder/s3store/testdata/install-s3-server.sh")
		}
	}
	port, err := peers.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr = fmt.Sprintf("127.0.0.1:%d", port)
	root = t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "recordings"), 0o755); err != nil { // the bucket
		t.Fatal(err)
	}
	log := &lockedBuffer{}
	cmd := exec.Command(bin, "--access", "setbridge", "--secret", "setbridge-secret", "--port", addr, "--health", "/health", "posix", root)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("versitygw log:\n%s", log)
		}
	})
	waitFor(t, 15*time.Second, "versitygw to answer", func() bool {
		res, err := http.Get("http://" + addr + "/health")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	})
	return addr, root
}

// TestRecordingIsCopiedToObjectStorage: with recordings.s3 set, every
// segment and the sealed manifest reach the bucket byte for byte.
func TestRecordingIsCopiedToObjectStorage(t *testing.T) {
	addr, root := startVersitygw(t)
	s := startServer(t, fmt.Sprintf(`
recordings:
  segment: 1s
  s3:
    endpoint: %s
    bucket: recordings
    access_key: setbridge
    secret_key: setbridge-secret
    prefix: site1
`, addr))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, _ := toneCaller(t, ctx, s, "1000", 440, []string{"PCMU"})
	defer b.Stop()
	code, rec := apiPost(t, s, "/api/rooms/demo/recordings")
	if code != 201 {
		t.Fatalf("start: %d %v", code, rec)
	}
	id := rec["id"].(string)
	time.Sleep(2500 * time.Millisecond)
	if code, rec = apiPost(t, s, "/api/recordings/"+id+"/stop"); code != 200 {
		t.Fatalf("stop: %d %v", code, rec)
	}
	local := filepath.Join(s.Dir, "recordings", id)
	remote := filepath.Join(root, "recordings", "site1", id)
	files, _ := filepath.Glob(filepath.Join(local, "*"))
	var want []string
	for _, f := range files {
		if n := filepath.Base(f); n == "manifest.json" || filepath.Ext(n) == ".wav" {
			want = append(want, n)
		}
	}
	if len(want) < 3 {
		t.Fatalf("local recording holds %v", want)
	}
	waitFor(t, 20*time.Second, "every file in the bucket", func() bool {
		for _, n := range want {
			a, err1 := os.ReadFile(filepath.Join(local, n))
			b, err2 := os.ReadFile(filepath.Join(remote, n))
			if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
				return false
			}
		}
		return true
	})
	t.Logf("%d files copied to the bucket: %v", len(want), want)
}
