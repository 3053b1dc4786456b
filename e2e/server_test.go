// Package e2e runs the real setbridge binary and talks to it with real SIP
// peers (sipp, baresip) over loopback sockets.
package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var binPath string

func TestMain(m *testing.M) {
	binPath = os.Getenv("SETBRIDGE_BIN")
	if binPath == "" {
		dir, err := os.MkdirTemp("", "setbridge-e2e")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		binPath = filepath.Join(dir, "setbridge")
		_, file, _, _ := runtime.Caller(0)
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/setbridge")
		cmd.Dir = filepath.Join(filepath.Dir(file), "..")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build setbridge:", err)
			os.Exit(1)
		}
		defer os.RemoveAll(dir)
	}
	os.Exit(m.Run())
}

// server is one running setbridge process.
type server struct {
	t       *testing.T
	cmd     *exec.Cmd
	SIPUDP  string // host:port
	SIPTCP  string
	HTTP    string
	Dir     string // the server's working directory
	mu      sync.Mutex
	logs    []string
	exited  chan struct{}
	exitErr error
}

// startServer runs setbridge with the embedded defaults, loopback
// listeners on free ports, and the YAML in extra (if any) as its config.
func startServer(t *testing.T, extra string, args ...string) *server {
	t.Helper()
	return startServerIn(t, t.TempDir(), extra, args...)
}

// startServerIn is startServer with dir as the working directory, so that
// a second server can find what a first one left there.
func startServerIn(t *testing.T, dir, extra string, args ...string) *server {
	t.Helper()
	argv := []string{"serve", "--log-format", "json", "--log-level", "debug",
		"--http-addr", "127.0.0.1:0", "--sip-udp", "127.0.0.1:0", "--sip-tcp", "127.0.0.1:0"}
	if extra != "" {
		p := filepath.Join(dir, "setbridge.yaml")
		if err := os.WriteFile(p, []byte(extra), 0o644); err != nil {
			t.Fatal(err)
		}
		argv = append(argv, "--config", p)
	}
	argv = append(argv, args...)
	cmd := exec.Command(binPath, argv...)
	cmd.Dir = dir // recordings and other relative paths land in the test's directory
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, cmd: cmd, exited: make(chan struct{}), Dir: dir}
	ready := make(chan map[string]any, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.logs = append(s.logs, line)
			s.mu.Unlock()
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "setbridge ready" {
				ready <- rec
			}
		}
		s.exitErr = cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			s.mu.Lock()
			defer s.mu.Unlock()
			n := max(0, len(s.logs)-200)
			t.Logf("setbridge log (last %d lines):\n%s", len(s.logs)-n, strings.Join(s.logs[n:], "\n"))
		}
	})
	select {
	case rec := <-ready:
		s.SIPUDP, _ = rec["sip_udp"].(string)
		s.SIPTCP, _ = rec["sip_tcp"].(string)
		s.HTTP, _ = rec["http"].(string)
	case <-s.exited:
		t.Fatalf("setbridge exited before ready: %v\n%s", s.exitErr, strings.Join(s.logs, "\n"))
	case <-time.After(20 * time.Second):
		t.Fatal("setbridge not ready after 20 s")
	}
	return s
}

// stop sends SIGTERM and waits; after 15 s it kills.
func (s *server) stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// get fetches an HTTP path and returns status and body.
func (s *server) get(path string) (int, string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.HTTP+path, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// metric returns the value of an unlabelled (or fully labelled) sample
// from /metrics, or -1 if absent.
func (s *server) metric(name string) float64 {
	_, body := s.get("/metrics")
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, name+" ") {
			var v float64
			fmt.Sscanf(strings.TrimPrefix(line, name+" "), "%g", &v)
			return v
		}
	}
	return -1
}

// waitFor polls cond every 50 ms until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestServeAnswersHealthAndMetrics(t *testing.T) {
	s := startServer(t, "")
	if code, _ := s.get("/livez"); code != 200 {
		t.Fatalf("/livez = %d", code)
	}
	if code, _ := s.get("/readyz"); code != 200 {
		t.Fatalf("/readyz = %d", code)
	}
	if v := s.metric("setbridge_sip_active_calls"); v != 0 {
		t.Fatalf("setbridge_sip_active_calls = %v, want 0", v)
	}
}

func TestConfigCheckPointsAtTheLine(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(p, []byte("sip:\n  trunks:\n    - name: a\n      allowed_addresses: [10.0.0.0/99]\n"), 0o644)
	out, err := exec.Command(binPath, "config", "check", p).CombinedOutput()
	if err == nil {
		t.Fatalf("config check accepted a bad file:\n%s", out)
	}
	if !strings.Contains(string(out), "bad.yaml:4:") || !strings.Contains(string(out), "10.0.0.0/99") {
		t.Fatalf("config check output lacks line context:\n%s", out)
	}
	good := filepath.Join(t.TempDir(), "good.yaml")
	os.WriteFile(good, []byte("http:\n  addr: 127.0.0.1:0\n"), 0o644)
	if out, err := exec.Command(binPath, "config", "check", good).CombinedOutput(); err != nil {
		t.Fatalf("config check refused a good file: %v\n%s", err, out)
	}
}
