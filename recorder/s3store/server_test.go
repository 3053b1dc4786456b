package s3store

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// The tests run against a real S3-compatible server: versitygw with its
// posix backend, started on 127.0.0.1 on a free port. Install it with
// testdata/install-s3-server.sh; the tests find it through
// SETBRIDGE_S3_SERVER or PATH, and fail without it when CI=true.

const (
	testAccess = "setbridge-test"
	testSecret = "setbridge-test-secret-key"
)

// s3Server is a versitygw process serving a temporary directory.
type s3Server struct {
	t      testing.TB
	bin    string
	dir    string // the posix backend's root: one directory per bucket
	addr   string
	logf   string
	cmd    *exec.Cmd
	exited chan struct{}
}

func serverBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("SETBRIDGE_S3_SERVER"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("SETBRIDGE_S3_SERVER=%s: %v", p, err)
		}
		return p
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	const msg = "no S3-compatible server: run recorder/s3store/testdata/install-s3-server.sh " +
		"and put versitygw on PATH or its path in SETBRIDGE_S3_SERVER"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// startServer starts a server for the test; it is killed at cleanup.
func startServer(t testing.TB) *s3Server {
	t.Helper()
	s := &s3Server{t: t, bin: serverBinary(t), dir: t.TempDir()}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = l.Addr().String()
	l.Close()
	s.logf = filepath.Join(t.TempDir(), "versitygw.log")
	s.start()
	t.Cleanup(s.stop)
	return s
}

// start runs the server and waits until it answers its health check.
func (s *s3Server) start() {
	s.t.Helper()
	out, err := os.OpenFile(s.logf, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	defer out.Close()
	s.cmd = exec.Command(s.bin, "--access", testAccess, "--secret", testSecret,
		"--port", s.addr, "--health", "/health", "--quiet", "posix", s.dir)
	s.cmd.Stdout, s.cmd.Stderr = out, out
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start %s: %v", s.bin, err)
	}
	exited := make(chan struct{})
	s.exited = exited
	cmd := s.cmd
	go func() { _ = cmd.Wait(); close(exited) }()
	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := hc.Get("http://" + s.addr + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(s.logf)
			s.t.Fatalf("versitygw exited at start-up: %s", log)
		default:
		}
		if time.Now().After(deadline) {
			s.stop()
			log, _ := os.ReadFile(s.logf)
			s.t.Fatalf("versitygw did not answer on %s within 15 s (last error %v): %s", s.addr, err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop kills the server (SIGKILL: an outage, not a shutdown) and waits for
// it to exit.
func (s *s3Server) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// client is an S3 client of the server for the tests' own checks.
func (s *s3Server) client() *minio.Client {
	s.t.Helper()
	c, err := minio.New(s.addr, &minio.Options{Creds: credentials.NewStaticV4(testAccess, testSecret, ""),
		Transport: &http.Transport{DisableKeepAlives: true}})
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

// makeBucket creates a bucket, with Object Lock if lock.
func (s *s3Server) makeBucket(name string, lock bool) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.client().MakeBucket(ctx, name, minio.MakeBucketOptions{ObjectLocking: lock}); err != nil {
		s.t.Fatalf("make bucket %s (object lock %v): %v", name, lock, err)
	}
}

// config is an uploader configuration for the server's bucket.
func (s *s3Server) config(bucket string) Config {
	return Config{Endpoint: s.addr, Bucket: bucket, AccessKey: testAccess, SecretKey: testSecret,
		Prefix: "setbridge/recordings", Logger: testLogger(s.t), Backoff: 20 * time.Millisecond,
		MaxBackoff: 200 * time.Millisecond}
}

// retention returns an object's retention as GetObjectRetention
// (GET ?retention) reports it, "" when it has none. versitygw v1.8.0 names
// the answer's root element ObjectLockRetention instead of Retention, which
// minio-go's GetObjectRetention refuses to decode; then the request is made
// by hand (presigned) and the answer decoded whatever its root's name.
func (s *s3Server) retention(ctx context.Context, bucket, key string) (string, time.Time) {
	s.t.Helper()
	c := s.client()
	mode, until, err := c.GetObjectRetention(ctx, bucket, key, "")
	if err == nil {
		if mode == nil || until == nil {
			return "", time.Time{}
		}
		return string(*mode), *until
	}
	if !strings.Contains(err.Error(), "expected element type <Retention>") {
		if r := minio.ToErrorResponse(err); r.StatusCode == http.StatusNotFound || r.StatusCode == http.StatusBadRequest {
			return "", time.Time{} // no retention (or no Object Lock on the bucket)
		}
		s.t.Fatalf("GetObjectRetention %s: %v", key, err)
	}
	u, err := c.Presign(ctx, http.MethodGet, bucket, key, time.Minute, url.Values{"retention": {""}})
	if err != nil {
		s.t.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := hc.Get(u.String())
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		s.t.Fatalf("GET %s?retention: %s: %s", key, resp.Status, body)
	}
	var r struct { // any root element
		Mode            string
		RetainUntilDate time.Time
	}
	if err := xml.Unmarshal(body, &r); err != nil {
		s.t.Fatalf("GET %s?retention: %v: %s", key, err, body)
	}
	return r.Mode, r.RetainUntilDate
}

func (s *s3Server) String() string { return fmt.Sprintf("versitygw on %s", s.addr) }
