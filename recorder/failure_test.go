package recorder

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// failures records OnFailure calls.
type failures struct {
	mu   sync.Mutex
	errs []error
}

func (f *failures) add(id string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, err)
}

func (f *failures) list() []error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]error(nil), f.errs...)
}

func TestRingOverflowFailsTheRecording(t *testing.T) {
	const n = testRate / 50
	cfg := testConfig(t)
	cfg.RingFrames = 4
	var fails failures
	cfg.OnFailure = fails.add
	cfg.Metrics = new(Metrics)
	release := make(chan struct{})
	cfg.hooks = &testHooks{beforeSlot: func() { <-release }}
	r := newRecorder(t, cfg)
	if err := r.Start(1); err != nil {
		t.Fatal(err)
	}
	// The writer is stuck on tick 1; the ring holds ticks 1-4; tick 5
	// overflows it. Frame must not block meanwhile.
	feed(r, 1, 20, nil)
	if st := r.Status(); st.State != StateFailed || !errors.Is(st.Err, ErrOverrun) {
		t.Fatalf("status %s, %v right after the overflow; want failed, overrun", st.State, st.Err)
	}
	close(release)
	st, err := r.Wait(t.Context())
	if !errors.Is(err, ErrOverrun) || st.State != StateFailed {
		t.Fatalf("wait: %s, %v", st.State, err)
	}
	if got := fails.list(); len(got) != 1 || !errors.Is(got[0], ErrOverrun) {
		t.Fatalf("OnFailure got %v", got)
	}
	if cfg.Metrics.Overruns.Load() != 1 || cfg.Metrics.Failed.Load() != 1 {
		t.Errorf("overruns %d, failed %d", cfg.Metrics.Overruns.Load(), cfg.Metrics.Failed.Load())
	}
	// What was queued before the overflow is kept, exactly, and sealed.
	m := mustManifest(t, r.Dir())
	if m.Status != StateFailed || m.StartTick != 1 || m.StopTick != 5 || !strings.Contains(m.Error, "overflowed") {
		t.Fatalf("manifest %s [%d, %d) %q", m.Status, m.StartTick, m.StopTick, m.Error)
	}
	if i := firstDiff(readSegments(t, r.Dir(), m.Segments), want(1, 5, 0, n, nil)); i >= 0 {
		t.Fatalf("sample %d is wrong", i)
	}
	mustVerify(t, r.Dir())
}

func TestUnwritableDirectoryFailsLoudly(t *testing.T) {
	t.Run("the directory is a file", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.Dir = filepath.Join(cfg.Dir, "file")
		if err := os.WriteFile(cfg.Dir, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		checkStartFails(t, cfg)
	})
	t.Run("the directory is read-only", func(t *testing.T) {
		cfg := testConfig(t)
		if os.Geteuid() == 0 {
			// Root ignores permission bits: mount a read-only file system.
			mountTmpfs(t, cfg.Dir, "ro,size=64k")
		} else {
			if err := os.Chmod(cfg.Dir, 0o555); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Chmod(cfg.Dir, 0o755) })
		}
		checkStartFails(t, cfg)
	})
}

func checkStartFails(t *testing.T, cfg Config) {
	t.Helper()
	var fails failures
	cfg.OnFailure = fails.add
	r := newRecorder(t, cfg)
	err := r.Start(1)
	if !errors.Is(err, ErrWrite) {
		t.Fatalf("start: %v", err)
	}
	feed(r, 1, 10, nil) // the tick goes on
	st, werr := r.Wait(t.Context())
	if st.State != StateFailed || !errors.Is(st.Err, ErrWrite) || !errors.Is(werr, ErrWrite) {
		t.Fatalf("status %s %v", st.State, st.Err)
	}
	if got := fails.list(); len(got) != 1 {
		t.Fatalf("OnFailure called %d times", len(got))
	}
}

func TestFullDiskFailsLoudly(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	const n = testRate / 50
	cfg := testConfig(t)
	mountTmpfs(t, cfg.Dir, "size=256k")
	var fails failures
	cfg.OnFailure = fails.add
	r := newRecorder(t, cfg)
	if err := r.Start(1); err != nil {
		t.Fatal(err)
	}
	// 256 KiB less the manifest's reserve hold about 600 frames of 320
	// bytes; feed up to 1000, one at a time so that the ring never
	// overflows first.
	for tick := uint64(1); tick < 1000 && r.Status().State == StateRecording; tick++ {
		r.Frame(tick, tone(tick, 0, n))
		waitFor(t, "the writer", func() bool { st := r.Status(); return st.Frames >= tick || st.State != StateRecording })
	}
	st, err := r.Wait(t.Context())
	if st.State != StateFailed || !errors.Is(err, ErrWrite) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("status %s, %v; want failed with ENOSPC", st.State, err)
	}
	if got := fails.list(); len(got) != 1 || !errors.Is(got[0], syscall.ENOSPC) {
		t.Fatalf("OnFailure got %v", got)
	}
	t.Logf("failed after %d frames: %v", st.Frames, err)
	// The reserve made room for the sealed failed manifest, and what the
	// full disk let us write is exact.
	m := mustManifest(t, r.Dir())
	if m.Status != StateFailed || !strings.Contains(m.Error, "no space left") {
		t.Fatalf("manifest %s %q", m.Status, m.Error)
	}
	rep := mustVerify(t, r.Dir())
	if rep.Frames == 0 {
		t.Error("nothing kept")
	}
	got := readSegments(t, r.Dir(), mustManifest(t, r.Dir()).Segments)
	if i := firstDiff(got, want(1, 1+rep.Frames, 0, n, nil)); i >= 0 {
		t.Fatalf("sample %d is wrong", i)
	}
}

// mountTmpfs mounts a tmpfs on dir for the test, or skips it.
func mountTmpfs(t *testing.T, dir, opts string) {
	t.Helper()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Skipf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount: %v: %s", err, out)
		}
	})
}
