//go:build linux

package sip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"
)

// Integration test against a real kamailio registrar (Debian package
// "kamailio"), configured by testdata/kamailio/registrar.cfg.

// kamailioRegistrar is a kamailio process listening on 127.0.0.1:port/udp.
type kamailioRegistrar struct {
	addr string // 127.0.0.1:port
	log  *regSyncBuffer
}

type regSyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *regSyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *regSyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func kamailioBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("kamailio"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/kamailio"); err == nil {
		return "/usr/sbin/kamailio"
	}
	t.Skip("kamailio is not installed (apt-get install kamailio)")
	return ""
}

func regFreeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// startKamailio runs kamailio in the foreground on a free loopback UDP port
// and waits until it answers OPTIONS. It is stopped when the test ends.
func startKamailio(t *testing.T, client *sipgo.Client) *kamailioRegistrar {
	t.Helper()
	bin := kamailioBinary(t)
	cfg, err := filepath.Abs(filepath.Join("testdata", "kamailio", "registrar.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	var lastErr error
	for try := 0; try < 3; try++ { // the free port can be taken before kamailio binds it
		k, err := tryStartKamailio(t, bin, cfg, regFreeUDPPort(t), client)
		if err == nil {
			return k
		}
		lastErr = err
	}
	t.Fatalf("kamailio did not start: %v", lastErr)
	return nil
}

func tryStartKamailio(t *testing.T, bin, cfg string, port int, client *sipgo.Client) (*kamailioRegistrar, error) {
	dir := t.TempDir()
	k := &kamailioRegistrar{addr: fmt.Sprintf("127.0.0.1:%d", port), log: &regSyncBuffer{}}
	cmd := exec.Command(bin,
		"-f", cfg,
		"-DD", "-E", // creator in the foreground, log to stderr
		"-l", "udp:"+k.addr, // the only listening socket
		"-w", dir, "-P", filepath.Join(dir, "kamailio.pid"), "-Y", dir,
		"-m", "32", "-M", "4", "-n", "2",
	)
	cmd.Stdout, cmd.Stderr = k.log, k.log
	// Own process group so the fallback kill reaches the children; the
	// creator dies with the test binary.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	}

	// Ready when it answers an OPTIONS without user.
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			stop()
			return nil, fmt.Errorf("kamailio exited: %v\n%s", err, k.log)
		default:
		}
		if res, err := k.options(client, ""); err == nil && res.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("kamailio not answering OPTIONS on %s\n%s", k.addr, k.log)
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("kamailio log:\n%s", k.log)
		}
	})
	return k, nil
}

// options sends OPTIONS to sip:user@registrar with a short timeout.
func (k *kamailioRegistrar) options(client *sipgo.Client, user string) (*sipmsg.Response, error) {
	var uri sipmsg.Uri
	if err := sipmsg.ParseUri("sip:"+k.addr, &uri); err != nil {
		return nil, err
	}
	uri.User = user
	req := sipmsg.NewRequest(sipmsg.OPTIONS, uri)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	return client.Do(ctx, req)
}

// binding asks kamailio for user's contact ("" when not bound).
func (k *kamailioRegistrar) binding(t *testing.T, client *sipgo.Client, user string) string {
	t.Helper()
	var res *sipmsg.Response
	var err error
	for range 3 {
		if res, err = k.options(client, user); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("OPTIONS probe for %s: %v", user, err)
	}
	switch res.StatusCode {
	case 200:
		if h := res.GetHeader("X-Contact"); h != nil {
			return h.Value()
		}
		t.Fatalf("probe for %s: 200 without X-Contact", user)
	case 404:
		return ""
	}
	t.Fatalf("probe for %s: %d %s", user, res.StatusCode, res.Reason)
	return ""
}

// regStatusWatch collects a Registration's status changes.
type regStatusWatch struct {
	mu  sync.Mutex
	all []RegistrationStatus
	ch  chan RegistrationStatus
}

func newRegStatusWatch() *regStatusWatch {
	return &regStatusWatch{ch: make(chan RegistrationStatus, 256)}
}

func (w *regStatusWatch) record(s RegistrationStatus) {
	w.mu.Lock()
	w.all = append(w.all, s)
	w.mu.Unlock()
	w.ch <- s
}

// until waits for a status satisfying match.
func (w *regStatusWatch) until(t *testing.T, what string, timeout time.Duration, match func(RegistrationStatus) bool) RegistrationStatus {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case s := <-w.ch:
			if match(s) {
				return s
			}
		case <-deadline:
			w.mu.Lock()
			defer w.mu.Unlock()
			t.Fatalf("no status %s within %v; saw %+v", what, timeout, w.all)
		}
	}
}

func TestRegistrationKamailio(t *testing.T) {
	if testing.Short() {
		t.Skip("starts kamailio")
	}
	kamailioBinary(t)

	ua, err := sipgo.NewUA(sipgo.WithUserAgent("setbridge-test"))
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	// As in production, REGISTERs leave from the socket we listen on (the
	// Contact), here a loopback UDP port served by a sipgo server.
	ln, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.ServeUDP(ln) }()
	defer func() {
		ln.Close()
		<-served
	}()
	contact := ln.LocalAddr().String()
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientConnectionAddr(contact))
	if err != nil {
		t.Fatal(err)
	}
	k := startKamailio(t, client)
	logger := regTestLogger(t)

	t.Run("a registration with the right password is Registered, refreshed and removed on cancel", func(t *testing.T) {
		watch := newRegStatusWatch()
		r, err := NewRegistration(client, RegistrationConfig{
			Trunk:     "kamailio",
			Registrar: "sip:" + k.addr,
			AOR:       "sip:1001@setbridge.test",
			Password:  "s3cret",
			Contact:   contact,
			Expires:   time.Second, // kamailio answers 423 with Min-Expires: 3
		}, WithRegistrationLogger(logger), WithRegistrationStatusFunc(watch.record),
			WithRegistrationBackoff(100*time.Millisecond, time.Second))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx) }()

		first := watch.until(t, "Registered", 5*time.Second, func(s RegistrationStatus) bool { return s.State == Registered })
		if got := first.Expires.Sub(time.Now()); got <= 0 || got > 3*time.Second {
			t.Errorf("first binding expires in %v, want within the 3 s kamailio grants", got)
		}
		wantContact := "sip:1001@" + contact
		if got := k.binding(t, client, "1001"); got != wantContact {
			t.Errorf("kamailio binding %q, want %q", got, wantContact)
		}

		// Two refreshes: each moves the expiry; the first binding would
		// have expired by the time the second one lands.
		prev := first.Expires
		for i := 0; i < 2; i++ {
			s := watch.until(t, "refreshed", 5*time.Second, func(s RegistrationStatus) bool {
				return s.State == Registered && s.Expires.After(prev)
			})
			prev = s.Expires
		}
		if time.Now().Before(first.Expires) {
			time.Sleep(time.Until(first.Expires) + 100*time.Millisecond)
		}
		if got := k.binding(t, client, "1001"); got != wantContact {
			t.Errorf("after refreshes kamailio binding %q, want %q", got, wantContact)
		}
		if st := r.Status(); st.State != Registered || st.Failures != 0 || st.LastError != "" {
			t.Errorf("status %+v", st)
		}

		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return after cancel")
		}
		if r.expiresSec != 3 {
			t.Errorf("requested expiry %d s after the 423, want 3", r.expiresSec)
		}
		if st := r.Status(); st.State != Unregistered || st.LastError != "" {
			t.Errorf("after cancel: %+v", st)
		}
		if got := k.binding(t, client, "1001"); got != "" {
			t.Errorf("after un-REGISTER kamailio still has %q", got)
		}
	})

	t.Run("a wrong password ends in Failed with the authentication error", func(t *testing.T) {
		watch := newRegStatusWatch()
		r, err := NewRegistration(client, RegistrationConfig{
			Trunk:     "kamailio-bad",
			Registrar: "sip:" + k.addr,
			AOR:       "sip:1002@setbridge.test",
			Password:  "wrong",
			Contact:   contact,
			Expires:   30 * time.Second,
		}, WithRegistrationLogger(logger), WithRegistrationStatusFunc(watch.record))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx) }()

		st := watch.until(t, "Failed", 5*time.Second, func(s RegistrationStatus) bool { return s.State == Failed })
		if !strings.HasPrefix(st.LastError, ErrRegistrationAuthFailed.Error()) || st.Failures != 1 {
			t.Errorf("status %+v, want Failed with %q", st, ErrRegistrationAuthFailed)
		}
		if got := k.binding(t, client, "1002"); got != "" {
			t.Errorf("kamailio bound %q despite the wrong password", got)
		}
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v", err)
		}
		if st := r.Status(); st.State != Unregistered {
			t.Errorf("after cancel: %+v", st)
		}
	})
}
