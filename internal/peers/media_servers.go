package peers

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// The media servers robots push to in tests: Debian's icecast2 and nginx
// with the RTMP module, started on loopback ports with generated
// configurations, and ffmpeg to read back what they serve. A missing tool
// skips the test, or fails it when SETBRIDGE_REQUIRE_ROBOTS=1.

// RequireTool returns the path of an installed tool, or skips the test
// (fails it when SETBRIDGE_REQUIRE_ROBOTS=1).
func RequireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("SETBRIDGE_REQUIRE_ROBOTS") == "1" {
			t.Fatalf("%s not installed (SETBRIDGE_REQUIRE_ROBOTS=1): apt-get install -y icecast2 nginx-light libnginx-mod-rtmp ffmpeg", name)
		}
		t.Skipf("%s not installed: apt-get install -y icecast2 nginx-light libnginx-mod-rtmp ffmpeg", name)
	}
	return p
}

func RequireFile(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("SETBRIDGE_REQUIRE_ROBOTS") == "1" {
			t.Fatalf("%s missing (SETBRIDGE_REQUIRE_ROBOTS=1)", path)
		}
		t.Skipf("%s missing: apt-get install -y libnginx-mod-rtmp", path)
	}
}

func BytesToPCM(b []byte) []int16 {
	pcm := make([]int16, len(b)/2)
	for i := range pcm {
		pcm[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return pcm
}

// freeTCPPort returns a loopback TCP port that was free a moment ago.
func FreeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitListening waits until something accepts TCP connections on port
// (the server's ready signal) or the process exits.
func waitListening(t *testing.T, port int, exited <-chan struct{}, logPath string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(logPath)
			t.Fatalf("server exited before listening on %d:\n%s", port, log)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("nothing listens on %d after 10 s", port)
}

// MediaServer is a child server process the test can kill and start again.
type MediaServer struct {
	t       *testing.T
	argv    []string
	Port    int
	logPath string
	asUser  bool // run as nobody when we are root

	cmd    *exec.Cmd
	exited chan struct{}
	out    bytes.Buffer
}

func (s *MediaServer) Start() {
	s.t.Helper()
	s.cmd = exec.Command(s.argv[0], s.argv[1:]...)
	s.cmd.Stdout = &s.out
	s.cmd.Stderr = &s.out
	if s.asUser && os.Geteuid() == 0 {
		s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start %s: %v", s.argv[0], err)
	}
	s.exited = make(chan struct{})
	cmd, exited := s.cmd, s.exited
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	waitListening(s.t, s.Port, s.exited, s.logPath)
}

// kill stops the server abruptly and waits for it.
func (s *MediaServer) Kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// sharedTempDir is a directory that a server running as nobody can write.
func sharedTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "livestream-test-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

const IcecastPassword = "hackme-test"

// StartIcecast runs icecast2 on a loopback port with a generated config,
// as nobody when the test runs as root (icecast2 refuses root).
func StartIcecast(t *testing.T) *MediaServer {
	t.Helper()
	bin := RequireTool(t, "icecast2")
	RequireFile(t, "/usr/share/icecast2/web")
	dir := sharedTempDir(t)
	port := FreeTCPPort(t)
	cfg := fmt.Sprintf(`<icecast>
  <location>test</location>
  <admin>test@localhost</admin>
  <hostname>127.0.0.1</hostname>
  <limits><clients>20</clients><sources>4</sources><queue-size>524288</queue-size>
    <client-timeout>30</client-timeout><header-timeout>5</header-timeout><source-timeout>5</source-timeout>
    <burst-on-connect>0</burst-on-connect></limits>
  <authentication><source-password>%s</source-password><admin-user>admin</admin-user><admin-password>%s</admin-password></authentication>
  <listen-socket><port>%d</port><bind-address>127.0.0.1</bind-address></listen-socket>
  <fileserve>1</fileserve>
  <paths><basedir>/usr/share/icecast2</basedir><logdir>%s</logdir>
    <webroot>/usr/share/icecast2/web</webroot><adminroot>/usr/share/icecast2/admin</adminroot>
    <pidfile>%s/icecast.pid</pidfile></paths>
  <logging><accesslog>access.log</accesslog><errorlog>error.log</errorlog><loglevel>3</loglevel></logging>
  <security><chroot>0</chroot></security>
</icecast>
`, IcecastPassword, IcecastPassword, port, dir, dir)
	path := filepath.Join(dir, "icecast.xml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &MediaServer{t: t, argv: []string{bin, "-c", path}, Port: port, logPath: filepath.Join(dir, "error.log"), asUser: true}
	s.Start()
	t.Cleanup(s.Kill)
	return s
}

const rtmpModule = "/usr/lib/nginx/modules/ngx_rtmp_module.so"

// StartNginxRTMP runs nginx with the RTMP module on a loopback port, in
// the foreground with a temporary prefix.
func StartNginxRTMP(t *testing.T) *MediaServer {
	t.Helper()
	bin := RequireTool(t, "nginx")
	RequireFile(t, rtmpModule)
	dir := sharedTempDir(t)
	port := FreeTCPPort(t)
	cfg := fmt.Sprintf(`load_module %s;
daemon off;
master_process off;
pid %s/nginx.pid;
error_log %s/error.log info;
events { worker_connections 64; }
rtmp {
  server {
    listen 127.0.0.1:%d;
    application live { live on; record off; }
  }
}
`, rtmpModule, dir, dir, port)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &MediaServer{t: t, argv: []string{bin, "-p", dir, "-c", path, "-e", filepath.Join(dir, "error.log")},
		Port: port, logPath: filepath.Join(dir, "error.log")}
	s.Start()
	t.Cleanup(s.Kill)
	return s
}

// ReadBack has ffmpeg play url for dur and returns the PCM at 48 kHz.
func ReadBack(t *testing.T, url string, dur time.Duration) []int16 {
	t.Helper()
	ffmpeg := RequireTool(t, "ffmpeg")
	ctx, cancel := context.WithTimeout(context.Background(), dur+15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin",
		"-probesize", "32768", "-analyzeduration", "500000",
		"-i", url, "-t", fmt.Sprintf("%.2f", dur.Seconds()), "-f", "s16le", "-ac", "1", "-ar", "48000", "-")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffmpeg -i %s: %v\n%s", url, err, stderr.String())
	}
	return BytesToPCM(out)
}
