package s3store

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/setbridge/setbridge/media"
	"github.com/setbridge/setbridge/recorder"
)

// ErrStopped is what Wait returns for a Watcher stopped before its
// recording was done.
var ErrStopped = errors.New("s3store: watcher stopped")

// Watcher uploads one recording while the recorder writes it.
//
// It polls. A pass reads the manifest (recorder.ReadManifest) and lists
// the directory, then
//
//   - uploads each segment that is closed and not uploaded yet, stream by
//     stream (the mix, then each track) in segment order. A segment is
//     closed when the manifest lists it with a SHA-256, or when a later
//     segment of the same stream exists (the recorder fsyncs and closes a
//     segment before it opens the next one; the manifest follows soon
//     after). The segment being written is never uploaded;
//   - then uploads the manifest if its bytes changed since the last upload,
//     but only once every segment it lists is uploaded, so that a manifest
//     in the store never names a segment the store lacks.
//
// The next pass starts Config.PollInterval (on Config.Clock) after the end
// of the previous one. An upload that fails after the Uploader's retries
// (reported loudly there) ends the pass, since the next files would most
// likely wait out their retries too, unless it was a local file that
// could not be read; the failed file is tried again on a pass at least
// Config.RetryAfter later.
//
// When the recording's done channel closes (recorder.Recorder.Done), the
// Watcher makes a final pass, which ignores RetryAfter, and ends. Wait
// returns that pass's error: nil when every segment of the final manifest
// and the manifest itself are in the store. A segment on disk that the
// sealed manifest does not list is not uploaded (it is logged). A
// recording left incomplete in the store (the store was down when it
// ended) is completed later by Sync.
//
// A Watcher ends after its final pass, on Stop, or when the Uploader is
// closed; in-flight uploads are cancelled by the last two.
type Watcher struct {
	u       *Uploader
	id, dir string
	done    <-chan struct{}

	ctx    context.Context
	cancel context.CancelFunc
	exited chan struct{}
	err    error // set before exited closes

	passes atomic.Uint64

	// Owned by the watcher's goroutine.
	uploaded    map[string]bool
	failedAt    map[string]time.Time
	manifestSum [32]byte
	manifestUp  bool
}

// Watch starts a Watcher for the recording recordingID in dir (usually
// recorder.Recorder.Dir()); done is the recorder's Done channel, or a
// channel closed when the recording is known to be complete. It may start
// before the recorder has written anything.
func (u *Uploader) Watch(recordingID, dir string, done <-chan struct{}) (*Watcher, error) {
	if err := checkNames(recordingID); err != nil {
		return nil, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return nil, ErrClosed
	}
	w := u.newWatcher(u.ctx, recordingID, dir, done)
	u.wg.Add(1)
	go w.run()
	return w, nil
}

func (u *Uploader) newWatcher(ctx context.Context, id, dir string, done <-chan struct{}) *Watcher {
	w := &Watcher{u: u, id: id, dir: dir, done: done, exited: make(chan struct{}),
		uploaded: map[string]bool{}, failedAt: map[string]time.Time{}}
	w.ctx, w.cancel = context.WithCancel(ctx)
	return w
}

// Sync makes one complete pass over a recording that is not being written
// any more (for example one sealed by recorder.Recover at start-up): it
// uploads every segment its manifest lists and then the manifest. Objects
// already in the store with the same SHA-256 are not sent again.
func (u *Uploader) Sync(ctx context.Context, recordingID, dir string) error {
	if err := checkNames(recordingID); err != nil {
		return err
	}
	w := u.newWatcher(ctx, recordingID, dir, nil)
	defer w.cancel()
	stop := context.AfterFunc(u.ctx, w.cancel)
	defer stop()
	return w.pass(w.ctx, true)
}

// Stop ends the Watcher without a final pass, cancelling an upload in
// flight, and waits for it.
func (w *Watcher) Stop() {
	w.cancel()
	<-w.exited
}

// Done is closed when the Watcher has ended.
func (w *Watcher) Done() <-chan struct{} { return w.exited }

// Wait waits for the Watcher to end and returns the error of its final
// pass, ErrStopped or ErrClosed.
func (w *Watcher) Wait(ctx context.Context) error {
	select {
	case <-w.exited:
		return w.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Passes returns the number of passes made so far.
func (w *Watcher) Passes() uint64 { return w.passes.Load() }

func (w *Watcher) run() {
	defer w.u.wg.Done()
	defer close(w.exited)
	defer w.cancel()
	// The next pass is PollInterval after the end of the last one. A
	// timer that only signals, rather than a ticker, never blocks the
	// clock (a media.FakeClock's Advance waits for a ticker's tick to be
	// received, which it would not be during a back-off wait on the same
	// clock).
	poll := make(chan struct{}, 1)
	var timer media.Timer
	defer func() { timer.Stop() }()
	for {
		select {
		case <-w.done: // ended already: the final pass only
		default:
			if err := w.pass(w.ctx, false); err != nil && w.ctx.Err() == nil {
				w.u.log.Debug("upload pass incomplete", "recording", w.id, "error", err)
			}
		}
		timer = w.u.cfg.Clock.AfterFunc(w.u.cfg.PollInterval, func() {
			select {
			case poll <- struct{}{}:
			default:
			}
		})
		select {
		case <-w.done:
			w.err = w.pass(w.ctx, true)
			if w.ctx.Err() != nil {
				w.err = w.stopErr()
			}
			return
		case <-poll:
		case <-w.ctx.Done():
			w.err = w.stopErr()
			return
		}
	}
}

func (w *Watcher) stopErr() error {
	if w.u.ctx.Err() != nil {
		return ErrClosed
	}
	return ErrStopped
}

var segRE = regexp.MustCompile(`^(?:(.+)-)?seg-([0-9]+)\.wav$`)

// segName is a segment's file name split into its stream and number.
type segName struct {
	name, stream string
	n            int
	ok           bool // the name parsed
}

func parseSeg(name string) segName {
	m := segRE.FindStringSubmatch(name)
	if m == nil {
		return segName{name: name}
	}
	n, err := strconv.Atoi(m[2])
	return segName{name: name, stream: m[1], n: n, ok: err == nil}
}

// pass uploads what is closed and not uploaded yet, then the manifest if
// it changed; final tries every file regardless of RetryAfter and reports
// what is still missing.
func (w *Watcher) pass(ctx context.Context, final bool) error {
	defer w.passes.Add(1)
	u := w.u
	log := u.log.With("recording", w.id)
	m, data, merr := recorder.ReadManifest(w.dir)
	if merr != nil {
		if final {
			err := fmt.Errorf("s3store: recording %s: %w", w.id, merr)
			log.Error("final upload pass: no readable manifest", "error", merr)
			return err
		}
		log.Debug("manifest not readable yet", "error", merr)
		m = nil
	}

	// Which segments are closed.
	listed := map[string]bool{}
	if m != nil {
		add := func(segs []recorder.Segment) {
			for _, s := range segs {
				if s.SHA256 != "" {
					listed[s.Name] = true
				}
			}
		}
		add(m.Segments)
		for _, t := range m.Tracks {
			add(t.Segments)
		}
	}
	closed := map[string]segName{}
	for name := range listed {
		closed[name] = parseSeg(name)
	}
	entries, err := os.ReadDir(w.dir)
	if err != nil && final {
		log.Error("final upload pass: cannot list the recording", "error", err)
	}
	last := map[string]int{}
	var onDisk []segName
	for _, e := range entries {
		if s := parseSeg(e.Name()); s.ok && e.Type().IsRegular() {
			onDisk = append(onDisk, s)
			last[s.stream] = max(last[s.stream], s.n)
		}
	}
	for _, s := range onDisk {
		if s.n < last[s.stream] {
			closed[s.name] = s
		} else if final && !listed[s.name] && m != nil && m.Status != recorder.StateRecording {
			log.Warn("segment on disk is not in the sealed manifest: not uploaded", "file", s.name)
		}
	}
	order := make([]segName, 0, len(closed))
	for _, s := range closed {
		order = append(order, s)
	}
	slices.SortFunc(order, func(a, b segName) int {
		if a.ok != b.ok {
			if a.ok {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(a.stream, b.stream), cmp.Compare(a.n, b.n), cmp.Compare(a.name, b.name))
	})

	now := u.cfg.Clock.Now()
	var errs []error
	for _, s := range order {
		if w.uploaded[s.name] {
			continue
		}
		if at, ok := w.failedAt[s.name]; ok && !final && now.Sub(at) < u.cfg.RetryAfter {
			continue
		}
		if err := u.Upload(ctx, w.id, w.dir, s.name); err != nil {
			if ctx.Err() != nil {
				return err
			}
			w.failedAt[s.name] = now
			errs = append(errs, err)
			var pe *fs.PathError
			if !errors.As(err, &pe) {
				// The store failed after the retries: the next files
				// would most likely too; leave them to a later pass
				// rather than wait out their retries now.
				break
			}
			continue
		}
		w.uploaded[s.name] = true
		delete(w.failedAt, s.name)
	}
	missing := 0 // listed segments not in the store
	for name := range listed {
		if !w.uploaded[name] {
			missing++
		}
	}

	if m != nil {
		sum := sha256.Sum256(data)
		at, failed := w.failedAt[recorder.ManifestName]
		switch {
		case missing > 0:
			if final {
				errs = append(errs, fmt.Errorf("s3store: recording %s: manifest not uploaded: %d of its segments are not in the store", w.id, missing))
			}
		case w.manifestUp && sum == w.manifestSum:
		case failed && !final && now.Sub(at) < u.cfg.RetryAfter:
		default:
			if err := u.upload(ctx, w.id, recorder.ManifestName, source{data: data}, manifestSealed(data)); err != nil {
				if ctx.Err() != nil {
					return err
				}
				w.failedAt[recorder.ManifestName] = now
				errs = append(errs, err)
			} else {
				w.manifestSum, w.manifestUp = sum, true
				delete(w.failedAt, recorder.ManifestName)
			}
		}
		if final && m.Status == recorder.StateRecording {
			log.Warn("final upload pass over a manifest still marked recording", "dir", w.dir)
		}
	}
	return errors.Join(errs...)
}
