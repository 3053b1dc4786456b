// Package peers drives real external SIP peers (sipp, baresip) for
// integration tests: each runs in its own temp dir with free loopback ports,
// its output is captured (and logged through testing.TB when a test fails),
// readiness is detected from the process itself (its bound sockets, its
// control-interface events) rather than from sleeps, and every process is
// killed and reaped on cleanup.
//
// Everything here binds to 127.0.0.1 only.
package peers

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// LoopbackIP is the only address the drivers bind to by default.
const LoopbackIP = "127.0.0.1"

// proc is one running external program.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *lineBuffer
	done chan struct{} // closed when the process has been reaped
	err  error         // Wait's result; valid once done is closed
}

// startProc starts bin with args in dir, capturing stdout and stderr into
// one buffer. The process gets its own process group; cancelling ctx (or
// kill) sends SIGKILL to the whole group. stdin may be nil.
func startProc(ctx context.Context, name, dir string, stdin *os.File, onLine func(string), bin string, args ...string) (*proc, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "TERM=dumb")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = 2 * time.Second
	p := &proc{name: name, cmd: cmd, out: &lineBuffer{onLine: onLine}, done: make(chan struct{})}
	cmd.Stdout = p.out
	cmd.Stderr = p.out
	if stdin != nil {
		cmd.Stdin = stdin
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		p.out.flush()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has been reaped.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// exitCode is the exit status, or -1 if it was killed by a signal or is
// still running.
func (p *proc) exitCode() int {
	if !p.exited() || p.cmd.ProcessState == nil {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

// signal sends sig to the process (not its group).
func (p *proc) signal(sig syscall.Signal) {
	if !p.exited() {
		_ = p.cmd.Process.Signal(sig)
	}
}

// kill SIGKILLs the process group and waits for the reap.
func (p *proc) kill() {
	if !p.exited() {
		_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
	}
	<-p.done
}

// waitFor waits up to d for the process to exit; it reports whether it did.
func (p *proc) waitFor(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.done:
		return true
	case <-t.C:
		return false
	}
}

// stop asks politely with sig, then kills after grace.
func (p *proc) stop(sig syscall.Signal, grace time.Duration) {
	if p.exited() {
		return
	}
	p.signal(sig)
	if !p.waitFor(grace) {
		p.kill()
	}
}

// lineBuffer collects output and calls onLine for every line. Lines are
// split at \n and \r, so that carriage-return status updates become lines.
type lineBuffer struct {
	mu      sync.Mutex
	all     bytes.Buffer
	partial []byte
	onLine  func(string)
}

func (b *lineBuffer) Write(data []byte) (int, error) {
	b.mu.Lock()
	b.all.Write(data)
	var lines []string
	if b.onLine != nil {
		b.partial = append(b.partial, data...)
		for {
			i := bytes.IndexAny(b.partial, "\r\n")
			if i < 0 {
				break
			}
			lines = append(lines, string(b.partial[:i]))
			b.partial = b.partial[i+1:]
		}
	}
	b.mu.Unlock()
	for _, l := range lines {
		b.onLine(l)
	}
	return len(data), nil
}

func (b *lineBuffer) flush() {
	b.mu.Lock()
	rest := string(b.partial)
	b.partial = nil
	b.mu.Unlock()
	if rest != "" && b.onLine != nil {
		b.onLine(rest)
	}
}

func (b *lineBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.all.String()
}

// workDir makes the temp dir for one peer: t.TempDir() when t is set (so
// the testing package removes it), else a new dir that cleanup removes.
func workDir(t testing.TB, prefix string) (dir string, cleanup func(), err error) {
	if t != nil {
		return t.TempDir(), func() {}, nil
	}
	dir, err = os.MkdirTemp("", prefix)
	if err != nil {
		return "", nil, err
	}
	return dir, func() { _ = os.RemoveAll(dir) }, nil
}

// tail returns at most the last n bytes of s, cut at a line start.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return "…\n" + s
}

// readFileString returns a file's content, or "" if it cannot be read.
func readFileString(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return string(b)
}

// ---- socket introspection ----

// sockAddr is a bound local socket of a process.
type sockAddr struct {
	Proto string // "udp" or "tcp"
	IP    string // dotted IPv4 or "::"-style IPv6 as in /proc (hex decoded)
	Port  int
}

// boundSockets lists the UDP sockets and listening TCP sockets that process
// pid holds, from /proc/<pid>/fd and /proc/net/{udp,tcp,udp6,tcp6}.
func boundSockets(pid int) ([]sockAddr, error) {
	fdDir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(fdDir)
	if err != nil {
		return nil, err
	}
	inodes := map[string]bool{}
	for _, e := range ents {
		link, err := os.Readlink(filepath.Join(fdDir, e.Name()))
		if err != nil {
			continue
		}
		if strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	var out []sockAddr
	for _, tab := range []struct{ file, proto string }{
		{"/proc/net/udp", "udp"}, {"/proc/net/udp6", "udp"},
		{"/proc/net/tcp", "tcp"}, {"/proc/net/tcp6", "tcp"},
	} {
		f, err := os.Open(tab.file)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || !inodes[fields[9]] {
				continue
			}
			// TCP: only listening sockets (state 0A).
			if tab.proto == "tcp" && fields[3] != "0A" {
				continue
			}
			ip, port, ok := parseProcAddr(fields[1])
			if !ok {
				continue
			}
			out = append(out, sockAddr{Proto: tab.proto, IP: ip, Port: port})
		}
		f.Close()
	}
	return out, nil
}

// parseProcAddr decodes "0100007F:13C4" (IPv4, little-endian words) and
// the 32-hex-digit IPv6 form.
func parseProcAddr(s string) (ip string, port int, ok bool) {
	hostHex, portHex, found := strings.Cut(s, ":")
	if !found {
		return "", 0, false
	}
	p, err := strconv.ParseUint(portHex, 16, 16)
	if err != nil {
		return "", 0, false
	}
	switch len(hostHex) {
	case 8:
		v, err := strconv.ParseUint(hostHex, 16, 32)
		if err != nil {
			return "", 0, false
		}
		return fmt.Sprintf("%d.%d.%d.%d", byte(v), byte(v>>8), byte(v>>16), byte(v>>24)), int(p), true
	case 32:
		return strings.ToLower(hostHex), int(p), true
	}
	return "", 0, false
}

// waitBound waits until process p holds every socket in want (matched on
// protocol and port), or p exits, or ctx ends. It polls /proc every 5 ms:
// binding is the moment a peer becomes reachable, and nothing else tells.
func waitBound(ctx context.Context, p *proc, want []sockAddr) ([]sockAddr, error) {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		have, _ := boundSockets(p.pid())
		missing := false
		for _, w := range want {
			found := false
			for _, h := range have {
				if h.Proto == w.Proto && h.Port == w.Port {
					found = true
					break
				}
			}
			if !found {
				missing = true
				break
			}
		}
		if !missing {
			return have, nil
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("%s exited (%v) before binding %v", p.name, p.err, want)
		case <-ctx.Done():
			return nil, fmt.Errorf("%s: waiting for %v to be bound: %w", p.name, want, ctx.Err())
		case <-tick.C:
		}
	}
}

// checkLoopbackOnly returns an error if any socket is bound outside
// 127.0.0.0/8 (or ::1).
func checkLoopbackOnly(name string, socks []sockAddr) error {
	var bad []string
	for _, s := range socks {
		if strings.HasPrefix(s.IP, "127.") || s.IP == "00000000000000000000000001000000" {
			continue
		}
		bad = append(bad, fmt.Sprintf("%s %s:%d", s.Proto, s.IP, s.Port))
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s bound non-loopback sockets: %s", name, strings.Join(bad, ", "))
	}
	return nil
}
