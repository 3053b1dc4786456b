package peers

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// StartPostgres runs initdb and postgres from Debian's binaries and
// returns the server's DSN and a func that stops it (SIGINT, fast
// shutdown) and waits for it.
func StartPostgres() (dsn string, stop func(), err error) {
	bin, err := postgresBin()
	if err != nil {
		return "", nil, err
	}
	// As root, run as an unprivileged user; otherwise as ourselves.
	var prefix []string
	var uid, gid int = -1, -1
	if os.Geteuid() == 0 {
		runuser, err := exec.LookPath("runuser")
		if err != nil {
			return "", nil, fmt.Errorf("running as root and no runuser: %v", err)
		}
		var u *user.User
		for _, name := range []string{"postgres", "nobody"} {
			if u, err = user.Lookup(name); err == nil {
				break
			}
		}
		if u == nil {
			return "", nil, errors.New("running as root and no unprivileged user (postgres, nobody) to run initdb as")
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		prefix = []string{runuser, "-u", u.Username, "--"}
	}
	dir, err := os.MkdirTemp("", "setbridge-store-pg-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { _ = os.RemoveAll(dir) }
	if uid >= 0 {
		if err := os.Chown(dir, uid, gid); err != nil {
			cleanup()
			return "", nil, err
		}
	}
	data := filepath.Join(dir, "data")
	initdb := command(prefix, filepath.Join(bin, "initdb"),
		"-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	port, err := freePGPort()
	if err != nil {
		cleanup()
		return "", nil, err
	}
	srv := command(prefix, filepath.Join(bin, "postgres"),
		"-D", data, "-k", dir, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	stderr, err := srv.StderrPipe()
	if err != nil {
		cleanup()
		return "", nil, err
	}
	if err := srv.Start(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("start postgres: %v", err)
	}
	// The server says when it is ready; keep its log for failures.
	var logMu sync.Mutex
	var log strings.Builder // guarded by logMu
	ready := make(chan struct{})
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(stderr)
		signalled := false
		for sc.Scan() {
			logMu.Lock()
			log.WriteString(sc.Text() + "\n")
			logMu.Unlock()
			if !signalled && strings.Contains(sc.Text(), "ready to accept connections") {
				signalled = true
				close(ready)
			}
		}
	}()
	halt := func() {
		// runuser stays in between and would answer a signal with SIGTERM
		// then SIGKILL: signal the postmaster itself.
		pid := postmasterPID(data)
		if pid <= 0 {
			pid = srv.Process.Pid
		}
		_ = syscall.Kill(pid, syscall.SIGINT)
		t := time.AfterFunc(30*time.Second, func() { _ = syscall.Kill(pid, syscall.SIGQUIT) })
		<-logDone
		_ = srv.Wait()
		t.Stop()
		cleanup()
	}
	select {
	case <-ready:
	case <-logDone:
		_ = srv.Wait()
		cleanup()
		logMu.Lock()
		defer logMu.Unlock()
		return "", nil, fmt.Errorf("postgres exited before it was ready:\n%s", log.String())
	case <-time.After(60 * time.Second):
		halt()
		logMu.Lock()
		defer logMu.Unlock()
		return "", nil, fmt.Errorf("postgres not ready after 60s:\n%s", log.String())
	}
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port), halt, nil
}

// postgresBin is the newest /usr/lib/postgresql/<v>/bin holding initdb
// and postgres.
func postgresBin() (string, error) {
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	slices.SortFunc(found, func(a, b string) int { return version(b) - version(a) })
	for _, initdb := range found {
		bin := filepath.Dir(initdb)
		if _, err := os.Stat(filepath.Join(bin, "postgres")); err == nil {
			return bin, nil
		}
	}
	return "", errors.New("no /usr/lib/postgresql/*/bin/{initdb,postgres}")
}

// version is the major version in /usr/lib/postgresql/<v>/bin/initdb.
func version(initdb string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return v
}

func command(prefix []string, name string, args ...string) *exec.Cmd {
	argv := append(append(slices.Clone(prefix), name), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = os.TempDir() // a directory the unprivileged user may enter
	return cmd
}

func freePGPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// postmasterPID reads the server's pid from its data directory, or 0.
func postmasterPID(data string) int {
	b, err := os.ReadFile(filepath.Join(data, "postmaster.pid"))
	if err != nil {
		return 0
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(first))
	return pid
}
