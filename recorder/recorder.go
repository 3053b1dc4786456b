package recorder

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/setbridge/setbridge/media"
)

// maxEvents bounds the timeline kept in memory; later events are counted
// in Manifest.DroppedEvents.
const maxEvents = 100_000

// Recorder records one room once. Construct it with New, call Start, feed
// it with Frame (and TrackFrame) from the room's tick, call Stop, and Wait.
//
// Frame, TrackFrame, Talkers and Event may be called on the room's tick
// goroutine: they take r.mu only for a few field updates and a copy into
// the ring, never across I/O or a wait, and they do not allocate (Event and
// Talkers append to the timeline). Every other method may be called from
// any goroutine.
type Recorder struct {
	cfg          Config
	log          *slog.Logger
	dir          string // Config.Dir/ID
	frameSamples int
	ring         *ring
	wake         chan struct{} // size 1: frames or a control change for the writer
	kill         chan struct{} // closed by tests to simulate a crash
	done         chan struct{} // closed when the recording has ended

	mu            sync.Mutex
	state         State                   // guarded by mu: pending, then recording; final states are in st
	startTick     uint64                  // guarded by mu: 0 = "the next tick" until resolved
	startResolved bool                    // guarded by mu: a frame at or after startTick arrived
	startedAt     time.Time               // guarded by mu: wall time of startTick
	stopTick      uint64                  // guarded by mu: 0 = not set
	stopReason    string                  // guarded by mu
	ended         bool                    // guarded by mu: no frame will be pushed any more
	failErr       error                   // guarded by mu: failure found on the producer side
	lastTick      uint64                  // guarded by mu: last tick given to Frame
	seen          bool                    // guarded by mu: lastTick is valid
	apiPaused     bool                    // guarded by mu
	pins          int                     // guarded by mu: PIN entries in progress
	events        []Event                 // guarded by mu
	droppedEvents int                     // guarded by mu
	talkers       map[ParticipantID]bool  // guarded by mu: current talkers (Talkers)
	tracks        map[ParticipantID]int32 // guarded by mu: stream index of each track
	trackIDs      []ParticipantID         // guarded by mu: trackIDs[i] has stream i+1
	refused       int                     // guarded by mu: track frames refused
	refusedLogged bool                    // guarded by mu

	stmu sync.Mutex
	st   progress // guarded by stmu: written by the writer
}

// progress is what the writer reports to Status.
type progress struct {
	state    State
	err      error
	frames   uint64 // mix frames on disk
	segments int    // closed mix segments
	bytes    int64  // bytes written, all streams
	stop     uint64 // final stop tick
}

// Status is a snapshot of a recording.
type Status struct {
	ID    string
	Room  RoomID
	Dir   string
	State State
	// Err is why a failed recording failed.
	Err error
	// StartTick is 0 until known; StopTick 0 until set.
	StartTick, StopTick uint64
	// Frames counts mix frames written to disk so far.
	Frames uint64
	// Segments counts closed mix segments.
	Segments int
	// Bytes counts bytes written to segments, tracks included.
	Bytes  int64
	Paused bool
}

// New returns a Recorder for cfg. It does no I/O; Start creates the files.
func New(cfg Config) (*Recorder, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	fs := frameSamplesAt(cfg.Rate)
	r := &Recorder{
		cfg:          cfg,
		log:          cfg.Logger.With("component", "recorder", "room", string(cfg.Room), "recording", cfg.ID),
		dir:          filepath.Join(cfg.Dir, cfg.ID),
		frameSamples: fs,
		ring:         newRing(cfg.RingFrames, fs),
		wake:         make(chan struct{}, 1),
		kill:         make(chan struct{}),
		done:         make(chan struct{}),
		state:        StatePending,
		talkers:      make(map[ParticipantID]bool),
		tracks:       make(map[ParticipantID]int32),
	}
	r.st.state = StatePending
	return r, nil
}

// ID returns the recording's id.
func (r *Recorder) ID() string { return r.cfg.ID }

// Dir returns the recording's directory, Config.Dir/ID.
func (r *Recorder) Dir() string { return r.dir }

// Start creates the recording's directory and manifest and starts the
// writer. The recording begins with tick atTick, or with the next tick
// given to Frame when atTick is 0; a tick already given to Frame is
// refused with ErrTickPassed. If the files cannot be created the
// recording fails: Start returns the error, Status says failed and
// OnFailure is called.
func (r *Recorder) Start(atTick uint64) error {
	r.mu.Lock()
	if r.state != StatePending {
		r.mu.Unlock()
		return ErrStarted
	}
	if atTick != 0 && r.seen && atTick <= r.lastTick {
		r.mu.Unlock()
		return fmt.Errorf("start at tick %d: %w (tick %d given)", atTick, ErrTickPassed, r.lastTick)
	}
	r.state = StateRecording
	r.startTick = atTick
	r.mu.Unlock()
	r.setProgress(func(p *progress) { p.state = StateRecording })
	r.cfg.Metrics.Started.Add(1)

	w := newWriter(r)
	if err := w.create(atTick); err != nil {
		r.mu.Lock()
		r.ended = true
		r.failErr = err
		r.mu.Unlock()
		r.failed(err, 0)
		close(r.done)
		return fmt.Errorf("start recording: %w", err)
	}
	r.log.Info("recording started", "start_tick", atTick, "dir", r.dir)
	go w.run()
	return nil
}

// Stop ends the recording before tick atTick: it will hold the frames of
// ticks [start, atTick). With atTick 0 it ends before the next tick not yet
// given to Frame. A tick already given to Frame is refused with
// ErrTickPassed. Stop does not wait; Wait does. Stop may be called again
// before the stop tick is reached to move it.
func (r *Recorder) Stop(atTick uint64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.state == StatePending:
		return ErrNotStarted
	case r.ended:
		return ErrEnded
	}
	next := uint64(1)
	if r.seen {
		next = r.lastTick + 1
	}
	if atTick == 0 {
		atTick = max(next, r.startTick)
	}
	if atTick < next {
		return fmt.Errorf("stop at tick %d: %w (tick %d given)", atTick, ErrTickPassed, r.lastTick)
	}
	if r.startTick != 0 && atTick < r.startTick {
		return fmt.Errorf("stop at tick %d: %w: before the start tick %d", atTick, ErrTickPassed, r.startTick)
	}
	if r.startTick == 0 {
		// Not started yet and stopped at the next tick: an empty recording.
		r.startTick = atTick
	}
	r.stopTick = atTick
	if atTick == next || (!r.startResolved && atTick <= r.startTick) {
		r.ended = true
	}
	r.signal()
	return nil
}

// Frame records the room's common mix of tick. Pass it to
// mixerengine.Engine.Tap. It never blocks on I/O and does not allocate. A
// mix shorter or longer than a frame is padded with silence or cut.
//
// Ticks before the start tick and from the stop tick on are ignored. A
// tick number not above the previous one means the room stopped and ran
// again (ticks restart at 1): the recording then stops where the previous
// run ended, with stop reason "room restarted".
func (r *Recorder) Frame(tick uint64, mix []int16) {
	r.mu.Lock()
	if r.state != StateRecording || r.ended {
		r.lastTick, r.seen = tick, true
		r.mu.Unlock()
		return
	}
	if r.seen && tick <= r.lastTick && r.startResolved {
		r.stopTick = r.lastTick + 1
		r.stopReason = "room restarted"
		r.ended = true
		r.lastTick = tick
		r.mu.Unlock()
		r.signal()
		return
	}
	r.lastTick, r.seen = tick, true
	if !r.startResolved {
		if r.startTick == 0 {
			r.startTick = tick
		}
		if tick < r.startTick {
			r.mu.Unlock()
			return
		}
		r.startResolved = true
		r.startedAt = r.cfg.Clock.Now().Add(-time.Duration(tick-r.startTick) * media.FrameDuration).UTC()
	}
	if r.stopTick != 0 && tick >= r.stopTick {
		r.ended = true
		r.mu.Unlock()
		r.signal()
		return
	}
	if !r.ring.push(tick, streamMix, r.pauseLocked(), mix) {
		r.overrunLocked(tick)
	}
	r.mu.Unlock()
	r.signal()
}

// TrackFrame records participant p's frame of tick into p's track (with
// Config.Tracks). Call it after Frame for the same tick: frames of ticks
// not yet given to Frame, and of participants beyond MaxTracks, are
// refused and counted in the manifest (refused_track_frames). A track
// holds the ticks from p's first frame to its last, with silence for the
// ticks in between that had no frame.
func (r *Recorder) TrackFrame(tick uint64, p ParticipantID, pcm []int16) {
	if !r.cfg.Tracks {
		return
	}
	r.mu.Lock()
	if r.state != StateRecording || r.ended || !r.startResolved || tick < r.startTick {
		r.mu.Unlock()
		return
	}
	if tick > r.lastTick {
		r.refuseLocked("track frame ahead of the mix (call TrackFrame after Frame)")
		r.mu.Unlock()
		return
	}
	idx, ok := r.tracks[p]
	if !ok {
		if len(r.trackIDs) >= r.cfg.MaxTracks {
			r.refuseLocked("too many tracks")
			r.mu.Unlock()
			return
		}
		r.trackIDs = append(r.trackIDs, p)
		idx = int32(len(r.trackIDs))
		r.tracks[p] = idx
	}
	if !r.ring.push(tick, idx, r.pauseLocked(), pcm) {
		r.overrunLocked(tick)
	}
	r.mu.Unlock()
	r.signal()
}

func (r *Recorder) refuseLocked(why string) {
	r.refused++
	r.cfg.Metrics.TrackRefuse.Add(1)
	if !r.refusedLogged {
		r.refusedLogged = true
		r.log.Warn("track frames refused", "reason", why)
	}
}

// overrunLocked fails the recording because the ring is full.
func (r *Recorder) overrunLocked(tick uint64) {
	r.ended = true
	r.failErr = fmt.Errorf("%w at tick %d (%d frames queued)", ErrOverrun, tick, len(r.ring.slots))
	r.cfg.Metrics.Overruns.Add(1)
}

func (r *Recorder) pauseLocked() uint8 {
	var p uint8
	if r.apiPaused {
		p |= pauseAPI
	}
	if r.pins > 0 {
		p |= pausePIN
	}
	return p
}

// signal wakes the writer without blocking.
func (r *Recorder) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Pause writes silence from the next tick on until Resume, and lists the
// range in the manifest (reason "api").
func (r *Recorder) Pause() error { return r.setPaused(true) }

// Resume ends a Pause from the next tick on.
func (r *Recorder) Resume() error { return r.setPaused(false) }

func (r *Recorder) setPaused(p bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.state == StatePending:
		return ErrNotStarted
	case r.ended:
		return ErrEnded
	}
	r.apiPaused = p
	return nil
}

// PINEntry pauses the recording while anyone in the room enters a PIN:
// PINEntry(true) when a PIN prompt starts, PINEntry(false) once after each
// true when it ends. Entries are counted, so overlapping ones keep the
// recording paused until the last ends. The pause covers the ticks from
// the next one on (reason "pin"). It has the signature of
// ivr.Handler.PINEntry and may be called before Start.
func (r *Recorder) PINEntry(active bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if active {
		r.pins++
	} else if r.pins > 0 {
		r.pins--
	}
}

// Paused reports whether ticks are being written as silence now.
func (r *Recorder) Paused() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pauseLocked() != 0
}

// Event adds an event to the talker timeline. A tick of 0 means the next
// tick. Events before the start tick are kept at the start tick (the
// participant was there when recording began); events from the stop tick
// on are left out.
func (r *Recorder) Event(tick uint64, kind EventKind, p ParticipantID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.eventLocked(tick, kind, p)
}

func (r *Recorder) eventLocked(tick uint64, kind EventKind, p ParticipantID) {
	if r.ended {
		return
	}
	if tick == 0 {
		tick = 1
		if r.seen {
			tick = r.lastTick + 1
		}
	}
	if len(r.events) >= maxEvents {
		r.droppedEvents++
		return
	}
	r.events = append(r.events, Event{Tick: tick, Kind: kind, Participant: p})
}

// Talkers takes the mixer's selected talkers of tick (mixerengine's
// OnTalkers, converted) and adds talk_start and talk_stop events for the
// changes.
func (r *Recorder) Talkers(tick uint64, talkers []ParticipantID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for p := range r.talkers {
		found := false
		for _, q := range talkers {
			if q == p {
				found = true
				break
			}
		}
		if !found {
			delete(r.talkers, p)
			r.eventLocked(tick, EventTalkStop, p)
		}
	}
	for _, q := range talkers {
		if !r.talkers[q] {
			r.talkers[q] = true
			r.eventLocked(tick, EventTalkStart, q)
		}
	}
}

// Status returns a snapshot of the recording.
func (r *Recorder) Status() Status {
	r.mu.Lock()
	s := Status{ID: r.cfg.ID, Room: r.cfg.Room, Dir: r.dir, StopTick: r.stopTick,
		Paused: r.pauseLocked() != 0}
	if r.startTick != 0 {
		s.StartTick = r.startTick
	}
	failErr := r.failErr
	r.mu.Unlock()
	r.stmu.Lock()
	defer r.stmu.Unlock()
	s.State, s.Err = r.st.state, r.st.err
	if failErr != nil && s.State == StateRecording {
		// The writer has not sealed it yet, but it has failed.
		s.State, s.Err = StateFailed, failErr
	}
	s.Frames, s.Segments, s.Bytes = r.st.frames, r.st.segments, r.st.bytes
	if r.st.stop != 0 || s.State == StateFailed || s.State == StateStopped {
		s.StopTick = r.st.stop
	}
	return s
}

// Wait waits until the recording has ended (stopped or failed) and
// returns its final status, and Status.Err for a failed one.
func (r *Recorder) Wait(ctx context.Context) (Status, error) {
	select {
	case <-r.done:
		s := r.Status()
		return s, s.Err
	case <-ctx.Done():
		return r.Status(), ctx.Err()
	}
}

// Done is closed when the recording has ended.
func (r *Recorder) Done() <-chan struct{} { return r.done }

// Close stops the recording at the next tick if it is still running and
// waits for it to end. A Recorder never started needs no Close.
func (r *Recorder) Close() error {
	r.mu.Lock()
	pending := r.state == StatePending
	r.mu.Unlock()
	if pending {
		return nil
	}
	if err := r.Stop(0); err != nil && !errors.Is(err, ErrEnded) {
		return err
	}
	_, err := r.Wait(context.Background())
	return err
}

func (r *Recorder) setProgress(f func(*progress)) {
	r.stmu.Lock()
	f(&r.st)
	r.stmu.Unlock()
}

// failed records a failure: status, metric, log line and OnFailure.
func (r *Recorder) failed(err error, stop uint64) {
	r.setProgress(func(p *progress) {
		p.state, p.err, p.stop = StateFailed, err, stop
	})
	r.cfg.Metrics.Failed.Add(1)
	r.log.Error("recording failed", "err", err, "dir", r.dir)
	if r.cfg.OnFailure != nil {
		r.cfg.OnFailure(r.cfg.ID, err)
	}
}

// snapshot is the state of the control side the writer needs for a
// manifest.
type snapshot struct {
	startTick     uint64
	startedAt     time.Time
	stopTick      uint64
	stopReason    string
	ended         bool
	failErr       error
	events        []Event
	droppedEvents int
	trackIDs      []ParticipantID
	refused       int
}

func (r *Recorder) snapshot(withEvents bool) snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := snapshot{startTick: r.startTick, startedAt: r.startedAt, stopTick: r.stopTick,
		stopReason: r.stopReason, ended: r.ended && r.ring.empty(), failErr: r.failErr,
		droppedEvents: r.droppedEvents, refused: r.refused}
	if withEvents {
		// Both slices are append-only: a capped prefix shares the backing
		// array safely (later appends write past it or reallocate), so the
		// tick is not held up by a copy of a long timeline.
		s.events = r.events[:len(r.events):len(r.events)]
		s.trackIDs = r.trackIDs[:len(r.trackIDs):len(r.trackIDs)]
	}
	return s
}

// crash simulates a SIGKILL for tests: the writer stops at once, closing
// its files as the kernel would (no flush of buffered frames, no header
// patch, no fsync, no manifest).
func (r *Recorder) crash() {
	close(r.kill)
	<-r.done
}

// dirExists reports whether path exists.
func dirExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
