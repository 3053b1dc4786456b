package recorder

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/setbridge/setbridge/media"
)

// stream is the mix or one track, as the writer sees it.
type stream struct {
	label     string // chain genesis label: "mix" or the track prefix
	prefix    string // file name prefix: "" for the mix
	pid       ParticipantID
	firstTick uint64
	next      uint64 // next tick to write
	segs      []Segment
	chain     [32]byte
	closed    uint64   // frames in closed segments
	cur       *segFile // open segment, or nil
	buf       []byte   // encoded bytes not yet written to cur
	n         int      // bytes used in buf
}

// writer turns the ring's frames into segments. It is owned by the
// writer goroutine (and by Start before the goroutine runs).
type writer struct {
	r          *Recorder
	dir        string
	rate       int
	frameBytes int
	segFrames  uint64

	started   bool // the start tick is known and the mix stream begun
	start     uint64
	startedAt time.Time
	streams   []*stream // index = stream number; 0 is the mix
	pauses    []PauseRange
	pauseBits []uint8 // reasons of pauses[i]
	pauseOpen bool    // the last range has no end yet
	pauseMask uint8   // pause bits of the last mix tick written
	dirty     bool    // a segment closed since the last manifest
	bytes     int64   // bytes written, all streams
	reserve   int64   // size of the reserve file
}

func newWriter(r *Recorder) *writer {
	w := &writer{
		r:          r,
		dir:        r.dir,
		rate:       r.cfg.Rate,
		frameBytes: 2 * r.frameSamples,
		segFrames:  uint64(r.cfg.SegmentDuration / media.FrameDuration),
	}
	w.streams = []*stream{w.newStream("mix", "", "")}
	return w
}

func (w *writer) newStream(label, prefix string, pid ParticipantID) *stream {
	return &stream{
		label:  label,
		prefix: prefix,
		pid:    pid,
		chain:  chainGenesis(w.r.cfg.ID, label),
		buf:    make([]byte, wavHeaderLen+16*w.frameBytes),
	}
}

// create makes the recording's directory and first manifest.
func (w *writer) create(atTick uint64) error {
	if err := os.MkdirAll(w.r.cfg.Dir, 0o750); err != nil {
		return fmt.Errorf("%w: %w", ErrWrite, err)
	}
	if err := os.Mkdir(w.dir, 0o750); err != nil {
		if !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%w: %w", ErrWrite, err)
		}
		if _, err := os.Stat(filepath.Join(w.dir, ManifestName)); err == nil {
			return fmt.Errorf("%w: %s", ErrExists, w.dir)
		}
	}
	m := w.manifest(StateRecording, 0, snapshot{startTick: atTick})
	return w.writeManifest(m)
}

// run is the writer goroutine.
func (w *writer) run() {
	r := w.r
	defer close(r.done)
	for {
		select {
		case <-r.wake:
		case <-r.kill:
			w.abandon()
			return
		}
		if err := w.drain(); err != nil {
			w.fail(err)
			return
		}
		snap := r.snapshot(false)
		if snap.failErr != nil {
			w.fail(snap.failErr)
			return
		}
		if snap.ended {
			if err := w.finish(); err != nil {
				w.fail(err)
			}
			return
		}
	}
}

// drain writes every frame in the ring, then flushes the streams' buffers
// and rewrites the manifest if a segment closed.
func (w *writer) drain() error {
	rg := w.r.ring
	n := uint64(len(rg.slots))
	for {
		t, h := rg.tail.Load(), rg.head.Load()
		if t == h {
			break
		}
		for ; t < h; t++ {
			if hk := w.r.cfg.hooks; hk != nil && hk.beforeSlot != nil {
				hk.beforeSlot()
			}
			err := w.slot(&rg.slots[t%n])
			rg.tail.Store(t + 1)
			if err != nil {
				return err
			}
		}
	}
	// The manifest goes first: a pause it lists before its silence reaches
	// the disk is cut at the stop tick by Recover, while silence on disk
	// that it does not list would be an unexplained gap.
	if w.dirty {
		w.dirty = false
		if err := w.writeManifest(w.manifest(StateRecording, 0, w.r.snapshot(true))); err != nil {
			return err
		}
	}
	for _, st := range w.streams {
		if err := w.flush(st); err != nil {
			return err
		}
	}
	w.report()
	return nil
}

// report publishes the writer's progress to Status.
func (w *writer) report() {
	mix := w.streams[0]
	frames := mix.closed
	if mix.cur != nil && mix.cur.written > wavHeaderLen {
		frames += uint64(mix.cur.written-wavHeaderLen) / uint64(w.frameBytes)
	}
	segs, b := len(mix.segs), w.bytes
	w.r.setProgress(func(p *progress) { p.frames, p.segments, p.bytes = frames, segs, b })
}

// begin fixes the start tick when the first frame arrives.
func (w *writer) begin() error {
	snap := w.r.snapshot(false)
	w.start, w.startedAt, w.started = snap.startTick, snap.startedAt, true
	mix := w.streams[0]
	mix.firstTick, mix.next = w.start, w.start
	return w.writeManifest(w.manifest(StateRecording, 0, w.r.snapshot(true)))
}

// slot writes one frame from the ring, after silence for any ticks of its
// stream that were skipped.
func (w *writer) slot(s *slot) error {
	if !w.started {
		if err := w.begin(); err != nil {
			return err
		}
	}
	if int(s.stream) >= len(w.streams) {
		if err := w.addTrack(s.stream, s.tick); err != nil {
			return err
		}
	}
	st := w.streams[s.stream]
	if s.tick < st.next {
		return nil // a track frame given twice for a tick
	}
	for st.next < s.tick {
		if err := w.writeFrame(st, nil, w.pauseMask); err != nil {
			return err
		}
	}
	pcm := s.pcm
	if s.pause != 0 {
		pcm = nil
	}
	return w.writeFrame(st, pcm, s.pause)
}

// addTrack creates the streams up to idx, the last starting at tick, and
// records them in the manifest before any of their files exists.
func (w *writer) addTrack(idx int32, tick uint64) error {
	snap := w.r.snapshot(true)
	for int(idx) >= len(w.streams) {
		i := len(w.streams)
		p := trackPrefix(i)
		st := w.newStream(p, p, snap.trackIDs[i-1])
		st.firstTick, st.next = tick, tick
		w.streams = append(w.streams, st)
	}
	return w.writeManifest(w.manifest(StateRecording, 0, snap))
}

// writeFrame appends one frame (silence if pcm is nil) to st.
func (w *writer) writeFrame(st *stream, pcm []int16, pause uint8) error {
	tick := st.next
	if st.cur == nil {
		name := segmentName(st.prefix, len(st.segs)+1)
		f, err := openSegment(filepath.Join(w.dir, name), name, tick)
		if err != nil {
			return err
		}
		st.cur = f
		putWAVHeader(st.buf[st.n:], w.rate, uint32(w.segFrames)*uint32(w.frameBytes))
		st.n += wavHeaderLen
	}
	if len(st.buf)-st.n < w.frameBytes {
		if err := w.flush(st); err != nil {
			return err
		}
	}
	b := st.buf[st.n : st.n+w.frameBytes]
	if pcm == nil {
		clear(b)
	} else {
		for i := range w.frameBytes / 2 {
			var v int16
			if i < len(pcm) {
				v = pcm[i]
			}
			binary.LittleEndian.PutUint16(b[2*i:], uint16(v))
		}
	}
	st.n += w.frameBytes
	st.cur.frames++
	st.next = tick + 1
	if st == w.streams[0] {
		w.notePause(tick, pause)
	}
	if st.cur.frames == w.segFrames {
		return w.closeSegment(st)
	}
	return nil
}

// flush writes st's buffered bytes to its segment.
func (w *writer) flush(st *stream) error {
	if st.n == 0 || st.cur == nil {
		return nil
	}
	before := st.cur.written
	err := st.cur.write(st.buf[:st.n])
	w.bytes += st.cur.written - before
	w.r.cfg.Metrics.Bytes.Add(uint64(st.cur.written - before))
	w.r.cfg.Metrics.Frames.Add(uint64(st.n / w.frameBytes))
	st.n = 0
	return err
}

// closeSegment closes st's open segment, fsynced, and adds it to the
// chain. A full segment keeps the hash computed while writing; a short one
// is sealed from the disk.
func (w *writer) closeSegment(st *stream) error {
	seg := st.cur
	if err := w.flush(st); err != nil {
		return err
	}
	path := filepath.Join(w.dir, seg.name)
	var (
		frames uint64
		size   int64
		sum    [32]byte
		err    error
	)
	if seg.frames == w.segFrames {
		frames, size = seg.frames, seg.written
		sum, err = seg.closeFull()
	} else {
		if err = seg.f.Close(); err != nil {
			err = fmt.Errorf("%w: close %s: %w", ErrWrite, seg.name, err)
		} else {
			frames, size, sum, err = sealPartial(path, w.rate, w.frameBytes)
			if errors.Is(err, errNoAudio) {
				st.cur = nil
				return nil
			}
		}
	}
	if err != nil {
		return err // st.cur stays, for fail to seal
	}
	st.cur = nil
	w.addSegment(st, seg.name, seg.firstTick, frames, size, sum)
	return nil
}

func (w *writer) addSegment(st *stream, name string, first, frames uint64, size int64, sum [32]byte) {
	st.chain = chainNext(st.chain, sum, name)
	st.segs = append(st.segs, Segment{Name: name, FirstTick: first, Frames: frames, Bytes: size,
		SHA256: hexSum(sum), Chain: hexSum(st.chain)})
	st.closed += frames
	w.dirty = true
	w.r.cfg.Metrics.Segments.Add(1)
}

// notePause tracks the paused ranges of the mix.
func (w *writer) notePause(tick uint64, mask uint8) {
	switch {
	case mask != 0 && !w.pauseOpen:
		w.pauses = append(w.pauses, PauseRange{From: tick})
		w.pauseBits = append(w.pauseBits, mask)
		w.pauseOpen = true
		w.dirty = true
	case mask != 0:
		if w.pauseBits[len(w.pauseBits)-1]|mask != w.pauseBits[len(w.pauseBits)-1] {
			w.pauseBits[len(w.pauseBits)-1] |= mask
			w.dirty = true
		}
	case w.pauseOpen:
		w.pauses[len(w.pauses)-1].To = tick
		w.pauseOpen = false
		w.dirty = true
	}
	w.pauseMask = mask
}

// finish ends a recording at its stop tick: silence for the ticks up to
// it that never came, every segment closed, the manifest signed.
func (w *writer) finish() error {
	snap := w.r.snapshot(false)
	if !w.started {
		w.start, w.startedAt, w.started = snap.startTick, snap.startedAt, true
		w.streams[0].firstTick, w.streams[0].next = w.start, w.start
	}
	stop := snap.stopTick
	mix := w.streams[0]
	for mix.next < stop {
		if err := w.writeFrame(mix, nil, w.pauseMask); err != nil {
			return err
		}
	}
	for _, st := range w.streams {
		if st.cur != nil {
			if err := w.closeSegment(st); err != nil {
				return err
			}
		}
	}
	w.report()
	if w.pauseOpen {
		w.pauses[len(w.pauses)-1].To = stop
		w.pauseOpen = false
	}
	m := w.manifest(StateStopped, stop, w.r.snapshot(true))
	if err := m.sign(w.r.cfg.Signer); err != nil {
		return err
	}
	if err := w.writeManifest(m); err != nil {
		return err
	}
	w.r.setProgress(func(p *progress) { p.state, p.stop = StateStopped, stop })
	w.r.cfg.Metrics.Stopped.Add(1)
	w.r.log.Info("recording stopped", "start_tick", w.start, "stop_tick", stop,
		"frames", stop-w.start, "segments", len(mix.segs), "stop_reason", snap.stopReason)
	return nil
}

// fail seals the recording as failed with the frames that reached the
// disk, signs it if it can, and reports the failure.
func (w *writer) fail(cause error) {
	errs := []error{cause}
	if !errors.Is(cause, ErrWrite) {
		// The frames queued before an overrun are good: keep them.
		if err := w.drain(); err != nil {
			errs = append(errs, err)
		}
	}
	snap := w.r.snapshot(false)
	if !w.started {
		w.start, w.startedAt, w.started = snap.startTick, snap.startedAt, true
		w.streams[0].firstTick, w.streams[0].next = w.start, w.start
	}
	for _, st := range w.streams {
		if st.cur == nil {
			continue
		}
		seg := st.cur
		st.cur, st.n = nil, 0 // what is not on disk by now is lost
		if err := seg.f.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
			errs = append(errs, fmt.Errorf("%w: close %s: %w", ErrWrite, seg.name, err))
		}
		frames, size, sum, err := sealPartial(filepath.Join(w.dir, seg.name), w.rate, w.frameBytes)
		switch {
		case errors.Is(err, errNoAudio):
		case err != nil:
			errs = append(errs, err)
		default:
			w.addSegment(st, seg.name, seg.firstTick, frames, size, sum)
		}
	}
	stop := w.start + w.streams[0].closed
	if w.pauseOpen {
		w.pauses[len(w.pauses)-1].To = stop
		w.pauseOpen = false
	}
	m := w.manifest(StateFailed, stop, w.r.snapshot(true))
	m.Paused = clampPauses(m.Paused, stop) // pauses whose silence never reached the disk
	m.Error = cause.Error()
	if err := m.sign(w.r.cfg.Signer); err != nil {
		errs = append(errs, err)
	} else if err := w.writeManifest(m); err != nil {
		errs = append(errs, err)
	}
	w.report()
	w.r.failed(errors.Join(errs...), stop)
}

// abandon stops writing as a killed process would: open files are closed
// by the kernel, buffered frames are lost, nothing is patched or synced.
func (w *writer) abandon() {
	for _, st := range w.streams {
		if st.cur != nil {
			_ = st.cur.f.Close()
			st.cur = nil
		}
	}
}

// writeManifest writes m; while recording it keeps the reserve at least
// twice the manifest's size, so that the sealed manifest will fit.
func (w *writer) writeManifest(m *Manifest) error {
	if m.Status != StateRecording {
		releaseReserve(w.dir)
	}
	size, err := writeManifest(w.dir, m)
	if err != nil {
		return err
	}
	w.r.cfg.Metrics.Manifests.Add(1)
	if m.Status == StateRecording && 2*size > w.reserve {
		want := max(minReserve, 4*size)
		if err := growReserve(w.dir, w.reserve, want); err != nil {
			return err
		}
		w.reserve = want
	}
	return nil
}

// manifest builds the manifest of the recording in state, with stop tick
// stop (0 while recording).
func (w *writer) manifest(state State, stop uint64, snap snapshot) *Manifest {
	cfg := &w.r.cfg
	m := &Manifest{
		Version: ManifestVersion, ID: cfg.ID, Room: cfg.Room, Status: state,
		StopReason: snap.stopReason,
		Container:  "wav", Codec: "pcm_s16le", Rate: cfg.Rate, Channels: 1,
		FrameMillis: int(media.FrameDuration / time.Millisecond), FrameSamples: w.frameBytes / 2,
		SegmentFrames: int(w.segFrames),
		StartTick:     snap.startTick, StopTick: stop,
		DroppedEvents: snap.droppedEvents, RefusedTracks: snap.refused,
		Segments: []Segment{}, Paused: []PauseRange{}, Participants: []Participant{}, Timeline: []Event{},
		PublicKey: "",
	}
	if w.started {
		m.StartTick = w.start
	}
	if !snap.startedAt.IsZero() {
		t := snap.startedAt.UTC()
		m.StartedAt = &t
	}
	if state != StateRecording {
		m.Frames = stop - m.StartTick
		t := cfg.Clock.Now().UTC()
		m.StoppedAt = &t
		if m.StartedAt == nil {
			m.StartedAt = &t
		}
	}
	mix := w.streams[0]
	m.Segments = append(m.Segments, mix.segs...)
	m.Chain = hexSum(mix.chain)
	for i, p := range w.pauses {
		p.Reasons = pauseReasons(w.pauseBits[i])
		m.Paused = append(m.Paused, p)
	}
	for _, st := range w.streams[1:] {
		t := Track{Participant: st.pid, Prefix: st.prefix, FirstTick: st.firstTick,
			Frames: st.closed, Segments: append([]Segment{}, st.segs...), Chain: hexSum(st.chain)}
		m.Tracks = append(m.Tracks, t)
	}
	end := stop
	if state == StateRecording {
		end = mix.next
	}
	m.Timeline, m.Participants = timeline(snap.events, m.StartTick, end, state != StateRecording)
	m.PublicKey = publicKeyString(cfg.Signer)
	return m
}

func pauseReasons(bits uint8) []string {
	var out []string
	if bits&pauseAPI != 0 {
		out = append(out, "api")
	}
	if bits&pausePIN != 0 {
		out = append(out, "pin")
	}
	return out
}

// timeline orders the events, keeps those before end (from start on,
// earlier ones moved to start), and summarises them per participant. With
// sealed, events at or after end are left out.
func timeline(events []Event, start, end uint64, sealed bool) ([]Event, []Participant) {
	tl := make([]Event, 0, len(events))
	for _, e := range events {
		if e.Tick < start {
			e.Tick = start
		}
		if sealed && e.Tick >= end {
			continue
		}
		tl = append(tl, e)
	}
	sort.SliceStable(tl, func(i, j int) bool { return tl[i].Tick < tl[j].Tick })
	var (
		parts    []Participant
		idx      = map[ParticipantID]int{}
		present  = map[ParticipantID]bool{}
		talkFrom = map[ParticipantID]uint64{}
	)
	for _, e := range tl {
		i, ok := idx[e.Participant]
		if !ok {
			i = len(parts)
			idx[e.Participant] = i
			parts = append(parts, Participant{ID: e.Participant, FirstTick: e.Tick})
			present[e.Participant] = true
		}
		p := &parts[i]
		switch e.Kind {
		case EventJoin:
			present[e.Participant] = true
		case EventLeave:
			present[e.Participant] = false
			p.LastTick = e.Tick
			if from, ok := talkFrom[e.Participant]; ok {
				p.TalkTicks += e.Tick - from
				delete(talkFrom, e.Participant)
			}
		case EventTalkStart:
			if _, ok := talkFrom[e.Participant]; !ok {
				talkFrom[e.Participant] = e.Tick
			}
		case EventTalkStop:
			if from, ok := talkFrom[e.Participant]; ok {
				p.TalkTicks += e.Tick - from
				delete(talkFrom, e.Participant)
			}
		}
	}
	for i := range parts {
		p := &parts[i]
		if present[p.ID] {
			p.LastTick = end
		}
		if from, ok := talkFrom[p.ID]; ok && end > from {
			p.TalkTicks += end - from
		}
	}
	if parts == nil {
		parts = []Participant{}
	}
	return tl, parts
}
