package mixerengine

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/setbridge/setbridge/media"
	"github.com/setbridge/setbridge/selector"
)

// Room mixes one conference.
type Room struct {
	// The listener write phase; tick-owned but for the helpers' ranges.
	listeners []*Member
	writers   []chan []*Member
	written   sync.WaitGroup

	// Cues (join and leave tones) mixed into every output; tick-owned.
	cues   [][]int16
	cue    []int16
	cuePos int

	id    RoomID
	cfg   Config
	log   *slog.Logger
	frame int // samples per frame at cfg.Rate
	done  chan struct{}
	once  sync.Once
	total *counters // the engine's
	stats counters
	taps  atomic.Pointer[[]TapFunc]
	track atomic.Pointer[[]TrackFunc]

	mu  sync.Mutex
	ids map[ParticipantID]*Member // guarded by mu: members joined and not left
	ops []op                      // guarded by mu: changes for the tick to apply

	pubMu sync.Mutex
	pub   []ParticipantID // guarded by pubMu: the talkers as of the last tick

	// Owned by the tick goroutine.
	t        uint64
	spareOps []op
	shards   []*shard
	uplinks  int    // members in the shards
	joined   uint64 // joins so far
	members  []*Member
	byID     map[ParticipantID]*Member
	notice   selector.SelectionNotice
	fwd      []selector.ForwardedFrame
	rank     ranker
	slots    [MaxTopK]talkerSlot
	sum, tmp []int32
	mix      []int16
	silence  []int16 // a frame of zeros, for tracks with no frame
	cacheAll bool    // the selectors keep every frame, for the TrackTaps
	trackFwd []selector.ForwardedFrame
	common   limiter
	encs     map[FormatKey]*sharedEncoder
	now      func() time.Time // wall clock, for overrun measurement only
	lastWarn time.Time
	tickCnt  tickCounts
	reported sync.WaitGroup // helpers' reports of the tick
	helpers  sync.WaitGroup // helper goroutines
}

// MinParallel is the number of uplinks from which a room's selectors
// report in parallel.
const MinParallel = 256

// shard is one of a room's selectors with its report of the tick.
type shard struct {
	sel   Selector
	rep   selector.EnergyReport
	byPos []*Member // byPos[i] is likely the member of report entry i
	n     int       // uplinks
	start chan uint64
}

// talkerSlot holds one selected talker's N-1 output.
type talkerSlot struct {
	used bool
	out  []int16
	lim  limiter
}

// tickCounts are the counters of one tick, added to the atomics once.
type tickCounts struct{ sharedEncodes, sharedWrites, pcmWrites, encodeErrors uint64 }

type opKind uint8

const (
	opJoin opKind = iota
	opLeave
	opMute
	opTopK
	opCue
)

// op is a change queued for the tick goroutine.
type op struct {
	kind  opKind
	m     *Member
	muted bool
	k     int
	clip  []int16
}

func newRoom(id RoomID, e *Engine) (*Room, error) {
	cfg := e.cfg
	n := media.FrameSamples(cfg.Rate)
	var shards []*shard
	for range cfg.Selectors {
		sel, err := cfg.NewSelector(id, n)
		if err != nil {
			return nil, err
		}
		shards = append(shards, &shard{sel: sel})
	}
	r := &Room{id: id, cfg: cfg, log: cfg.Logger.With("component", "mixer", "room", string(id)), frame: n,
		done: make(chan struct{}), total: &e.total, ids: make(map[ParticipantID]*Member),
		shards: shards, byID: make(map[ParticipantID]*Member),
		notice: selector.SelectionNotice{Selected: make([]ParticipantID, 0, MaxTopK)},
		fwd:    make([]selector.ForwardedFrame, 0, MaxTopK),
		pub:    make([]ParticipantID, 0, MaxTopK),
		sum:    make([]int32, n), tmp: make([]int32, n), mix: make([]int16, n),
		silence: make([]int16, n), common: newLimiter(n), encs: make(map[FormatKey]*sharedEncoder), now: time.Now}
	for i := range r.slots {
		r.slots[i] = talkerSlot{out: make([]int16, n), lim: newLimiter(n)}
	}
	r.rank = newRanker(cfg)
	return r, nil
}

func (r *Room) enqueue(o op) {
	r.mu.Lock()
	r.ops = append(r.ops, o)
	r.mu.Unlock()
}

func (r *Room) add(m *Member) error {
	r.mu.Lock()
	if _, ok := r.ids[m.id]; ok {
		r.mu.Unlock()
		return ErrDuplicateID
	}
	r.ids[m.id] = m
	r.ops = append(r.ops, op{kind: opJoin, m: m})
	n := len(r.ids)
	r.mu.Unlock()
	r.log.Info("participant joined", "participant", string(m.id), "participants", n)
	return nil
}

// remove drops m and returns how many members are left.
func (r *Room) remove(m *Member) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ids[m.id] == m {
		delete(r.ids, m.id)
		r.ops = append(r.ops, op{kind: opLeave, m: m})
	}
	r.log.Info("participant left", "participant", string(m.id), "participants", len(r.ids))
	return len(r.ids)
}

func (r *Room) size() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ids)
}

func (r *Room) setTaps(fns []TapFunc, tracks []TrackFunc) {
	r.taps.Store(&fns)
	r.track.Store(&tracks)
}

func (r *Room) talkers() []ParticipantID {
	r.pubMu.Lock()
	defer r.pubMu.Unlock()
	if len(r.pub) == 0 {
		return []ParticipantID{}
	}
	return append([]ParticipantID(nil), r.pub...)
}

func (r *Room) stop() { r.once.Do(func() { close(r.done) }) }

// run ticks the room on t until stopped. Each tick of t is one tick of the
// room: a tick that overruns is counted, and the room neither skips ticks
// nor bursts to catch up (a Go ticker holds at most one pending tick).
func (r *Room) run(t media.Ticker) {
	defer r.helpers.Wait()
	defer t.Stop()
	r.log.Info("room started", "rate", r.cfg.Rate, "top_k", r.rank.topK)
	defer r.log.Info("room stopped")
	for {
		select {
		case <-r.done:
			return
		case <-t.C():
			start := r.now()
			r.tick()
			d := r.now().Sub(start)
			if r.cfg.OnTickDuration != nil {
				r.cfg.OnTickDuration(d)
			}
			if d > media.FrameDuration {
				r.stats.overruns.Add(1)
				r.total.overruns.Add(1)
				if start.Sub(r.lastWarn) >= time.Second {
					r.lastWarn = start
					r.log.Debug("tick overran its frame", "took", d, "overruns", r.stats.overruns.Load())
				}
			}
		}
	}
}

// applyOps applies the changes queued since the last tick.
func (r *Room) applyOps() {
	r.mu.Lock()
	ops := r.ops
	r.ops = r.spareOps[:0]
	r.mu.Unlock()
	if len(ops) == 0 {
		r.spareOps = ops
		return
	}
	membership := false
	for _, o := range ops {
		switch o.kind {
		case opCue:
			if len(r.cues) < maxCues {
				r.cues = append(r.cues, o.clip)
			}
			continue
		case opJoin:
			m := o.m
			r.joined++
			m.seq = r.joined
			m.pos = len(r.members)
			r.members = append(r.members, m)
			r.byID[m.id] = m
			sh := r.shards[0]
			for _, x := range r.shards[1:] {
				if x.n < sh.n {
					sh = x
				}
			}
			if err := sh.sel.Add(m.id, m.p); err != nil {
				r.log.Warn("selector refused participant; it will only listen", "participant", string(m.id), "error", err)
			} else {
				m.shard = sh
				sh.n++
				r.uplinks++
			}
			membership = true
		case opLeave:
			m := o.m
			if r.byID[m.id] != m {
				continue
			}
			if m.selected {
				r.rank.unselect(r, m)
			}
			last := len(r.members) - 1
			r.members[m.pos] = r.members[last]
			r.members[m.pos].pos = m.pos
			r.members[last] = nil
			r.members = r.members[:last]
			delete(r.byID, m.id)
			if m.shard != nil {
				m.shard.sel.Remove(m.id)
				m.shard.n--
				r.uplinks--
			}
			r.unbindFormat(m)
			membership = true
		case opMute:
			m := o.m
			if r.byID[m.id] != m {
				continue
			}
			m.tickMuted = o.muted
			if m.shard != nil {
				m.shard.sel.SetMuted(m.id, o.muted)
			}
			if o.muted && m.selected {
				r.rank.unselect(r, m)
			}
		case opTopK:
			r.rank.setTopK(r, o.k)
		}
	}
	if membership {
		// Report positions change with membership; forget the hints.
		for _, sh := range r.shards {
			clear(sh.byPos)
		}
	}
	clear(ops)
	r.spareOps = ops[:0]
}

// lookup finds the member of entry i of sh's report; sh.byPos is as long
// as the report.
func (r *Room) lookup(sh *shard, i int, id ParticipantID) *Member {
	if m := sh.byPos[i]; m != nil && m.id == id {
		return m
	}
	m := r.byID[id]
	sh.byPos[i] = m
	return m
}

// report has every selector report tick t: in parallel on the room's
// helper goroutines when the room is big, else one after the other.
func (r *Room) report(t uint64) {
	if len(r.shards) == 1 || r.uplinks < MinParallel {
		for _, sh := range r.shards {
			sh.sel.Report(t, &sh.rep)
		}
		return
	}
	for _, sh := range r.shards[1:] {
		if sh.start == nil {
			r.startHelper(sh)
		}
		r.reported.Add(1)
		select {
		case sh.start <- t:
		case <-r.done: // stopping: the helper may be gone
			r.reported.Done()
			sh.sel.Report(t, &sh.rep)
		}
	}
	r.shards[0].sel.Report(t, &r.shards[0].rep)
	r.reported.Wait()
}

// writeListeners hands every listener its frame: the shared encoded frame
// bound in the tick, or the common mix as PCM. In rooms of MinParallel
// listeners or more, len(r.shards)-1 helpers take equal parts while the
// tick goroutine takes the first; each leg is written by one goroutine.
func (r *Room) writeListeners() {
	parts := len(r.shards)
	if parts == 1 || len(r.listeners) < MinParallel {
		writeRange(r.listeners, r.mix)
		return
	}
	if r.writers == nil {
		r.writers = make([]chan []*Member, parts-1)
		for i := range r.writers {
			r.writers[i] = make(chan []*Member)
			r.helpers.Add(1)
			go func(c chan []*Member) {
				defer r.helpers.Done()
				for {
					select {
					case ms := <-c:
						writeRange(ms, r.mix)
						r.written.Done()
					case <-r.done:
						return
					}
				}
			}(r.writers[i])
		}
	}
	n := len(r.listeners)
	step := (n + parts - 1) / parts
	for i, c := range r.writers {
		lo := min(n, (i+1)*step)
		hi := min(n, (i+2)*step)
		r.written.Add(1)
		select {
		case c <- r.listeners[lo:hi]:
		case <-r.done:
			r.written.Done()
			writeRange(r.listeners[lo:hi], r.mix)
		}
	}
	writeRange(r.listeners[:min(n, step)], r.mix)
	r.written.Wait()
}

func writeRange(ms []*Member, mix []int16) {
	for _, m := range ms {
		if m.out != nil {
			m.sd.WriteShared(m.out)
		} else {
			m.p.WriteFrame(mix)
		}
	}
}

// startHelper starts the goroutine that runs sh's reports; it stops with
// the room, and run waits for it.
func (r *Room) startHelper(sh *shard) {
	sh.start = make(chan uint64)
	r.helpers.Add(1)
	go func() {
		defer r.helpers.Done()
		for {
			select {
			case t := <-sh.start:
				sh.sel.Report(t, &sh.rep)
				r.reported.Done()
			case <-r.done:
				return
			}
		}
	}()
}

// tick mixes one frame.
func (r *Room) tick() {
	r.t++
	t := r.t
	r.tickCnt = tickCounts{}
	r.rank.changed = false
	r.applyOps()
	tracks := r.track.Load()
	if on := tracks != nil && len(*tracks) > 0; on != r.cacheAll {
		r.setCacheAll(on)
	}

	// Energies in, selection out, selected frames back.
	r.report(t)
	r.rank.update(r, t)
	for _, m := range r.rank.sel {
		m.frame = nil
	}
	r.notice.Tick = 0 // the first MixDelay ticks mix nothing
	if d := uint64(r.cfg.MixDelay); t > d {
		r.notice.Tick = t - d
	}
	r.notice.Selected = r.notice.Selected[:0]
	for _, m := range r.rank.sel {
		r.notice.Selected = append(r.notice.Selected, m.id)
	}
	r.fwd = r.fwd[:0]
	for _, sh := range r.shards {
		r.fwd = sh.sel.Forward(&r.notice, r.fwd)
	}
	for i := range r.fwd {
		f := &r.fwd[i]
		for _, m := range r.rank.sel {
			if m.id == f.ParticipantID && len(f.PCM) == r.frame {
				m.frame = f.PCM
				break
			}
		}
	}

	// The sum of the selected frames, and the common mix.
	clear(r.sum)
	for _, m := range r.rank.sel {
		if m.frame != nil {
			addInto(r.sum, m.frame)
		}
	}
	r.addCue()
	r.common.process(r.mix, r.sum)

	// Each talker hears the others.
	for _, m := range r.rank.sel {
		s := &r.slots[m.slot]
		in := r.sum
		if m.frame != nil {
			subInto(r.tmp, r.sum, m.frame)
			in = r.tmp
		}
		s.lim.process(s.out, in)
		m.p.WriteFrame(s.out)
		r.tickCnt.pcmWrites++
	}
	// Everyone else hears the common mix: formats are bound and encoded
	// once here, then the writes (a socket send per leg) are spread over
	// the write helpers in a large room.
	r.listeners = r.listeners[:0]
	for _, m := range r.members {
		if m.selected {
			continue
		}
		m.out = nil
		if m.sd != nil {
			if enc := r.bindFormat(m); enc != nil {
				m.out = enc.encode(t, r.mix, &r.tickCnt)
				r.tickCnt.sharedWrites++
				r.listeners = append(r.listeners, m)
				continue
			}
		}
		r.tickCnt.pcmWrites++
		r.listeners = append(r.listeners, m)
	}
	r.writeListeners()

	// Talkers and counters first, so that whoever a tap wakes sees this
	// tick's state.
	if r.rank.changed {
		r.publish(t)
	}
	r.count()
	if fns := r.taps.Load(); fns != nil {
		for _, fn := range *fns {
			fn(t, r.mix)
		}
	}
	if r.cacheAll {
		r.feedTracks(t, *tracks)
	}
}

// setCacheAll has every selector that can keep every frame, or stop.
func (r *Room) setCacheAll(on bool) {
	r.cacheAll = on
	for _, sh := range r.shards {
		if fs, ok := sh.sel.(FrameSource); ok {
			fs.SetCacheAll(on)
		}
	}
}

// feedTracks hands every member's frame of the mixed tick to the
// TrackFuncs: the frames the mix was made from, silence for the others.
func (r *Room) feedTracks(t uint64, fns []TrackFunc) {
	r.trackFwd = r.trackFwd[:0]
	for _, sh := range r.shards {
		if fs, ok := sh.sel.(FrameSource); ok {
			r.trackFwd = fs.Frames(r.notice.Tick, r.trackFwd)
		}
	}
	for i := range r.trackFwd {
		f := &r.trackFwd[i]
		if m := r.byID[f.ParticipantID]; m != nil && len(f.PCM) == r.frame {
			m.track = f.PCM
		}
	}
	for _, m := range r.members {
		pcm := m.track
		if pcm == nil {
			pcm = r.silence
		}
		for _, fn := range fns {
			fn(t, m.id, pcm)
		}
		m.track = nil
	}
}

// addCue mixes the playing cue (a join or leave tone) into the sum, so
// every output of the tick carries it, and moves on to the next cue.
// maxCues bounds the cues waiting to play: a join storm plays a few tones,
// not one per caller.
const maxCues = 3

func (r *Room) addCue() {
	for i := range r.sum {
		for r.cuePos >= len(r.cue) {
			if len(r.cues) == 0 {
				r.cue, r.cuePos = nil, 0
				return
			}
			r.cue, r.cues, r.cuePos = r.cues[0], r.cues[1:], 0
		}
		r.sum[i] += int32(r.cue[r.cuePos])
		r.cuePos++
	}
}

func (r *Room) publish(t uint64) {
	r.pubMu.Lock()
	r.pub = r.pub[:0]
	for _, m := range r.rank.sel {
		r.pub = append(r.pub, m.id)
	}
	r.pubMu.Unlock()
	if r.cfg.OnTalkers != nil {
		r.notice.Selected = r.notice.Selected[:0]
		for _, m := range r.rank.sel {
			r.notice.Selected = append(r.notice.Selected, m.id)
		}
		r.cfg.OnTalkers(r.id, t, r.notice.Selected)
	}
}

func (r *Room) count() {
	c := &r.tickCnt
	for _, s := range [2]*counters{&r.stats, r.total} {
		s.ticks.Add(1)
		s.pcmWrites.Add(c.pcmWrites)
		if c.sharedWrites != 0 {
			s.sharedWrites.Add(c.sharedWrites)
			s.sharedEncodes.Add(c.sharedEncodes)
			s.encodeErrors.Add(c.encodeErrors)
		}
	}
}

// bindFormat returns the shared encoder for m's current downlink format,
// building it on first use, or nil when m is to get PCM.
func (r *Room) bindFormat(m *Member) *sharedEncoder {
	k := m.sd.DownlinkFormat()
	if m.enc != nil && k == m.format {
		return m.enc
	}
	if k == (FormatKey{}) || k == m.badFormat {
		r.unbindFormat(m)
		return nil
	}
	r.unbindFormat(m)
	enc := r.encs[k]
	if enc == nil {
		var err error
		if enc, err = newSharedEncoder(k, r.cfg.Rate, r.cfg.NewEncoder); err != nil {
			m.badFormat = k
			r.log.Warn("no shared encoding; sending PCM", "participant", string(m.id), "error", err)
			return nil
		}
		r.encs[k] = enc
	}
	enc.users++
	m.enc, m.format = enc, k
	return enc
}

func (r *Room) unbindFormat(m *Member) {
	if m.enc == nil {
		return
	}
	if m.enc.users--; m.enc.users == 0 {
		delete(r.encs, m.format)
	}
	m.enc, m.format = nil, FormatKey{}
}

func addInto(sum []int32, pcm []int16) {
	pcm = pcm[:len(sum)]
	for i, s := range pcm {
		sum[i] += int32(s)
	}
}

func subInto(dst, sum []int32, pcm []int16) {
	pcm = pcm[:len(dst)]
	sum = sum[:len(dst)]
	for i, s := range pcm {
		dst[i] = sum[i] - int32(s)
	}
}
