// Package livestream pushes a room's common mix live to streaming servers:
// Icecast (Ogg/Opus over HTTP PUT), RTMP/RTMPS (AAC in FLV through a child
// ffmpeg) and WHIP (RFC 9725: an Opus track over WebRTC, see whip.go).
//
// A Manager taps each room that has streams once. Per tick it encodes the
// mix once per format (one Opus encode shared by every Icecast and WHIP
// stream of the room, one s16le conversion shared by every RTMP stream) and
// hands the result to each stream's goroutine through a bounded ring that
// drops, counting, when a server is slow: the tap never blocks. Each stream
// connects, streams, and when the server goes away reconnects with
// exponential back-off; after Config.MaxAttempts consecutive failed
// connects it gives up in state "failed", logging at ERROR and calling
// Config.OnState.
package livestream

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/setbridge/setbridge/media"
)

// Tap subscribes fn to a room's common mix: fn is called once per tick on
// the room's tick goroutine with one frame of mono PCM at Config.Rate, and
// must not block. cmd/setbridge wires mixerengine's Engine.Tap.
type Tap func(room string, fn func(tick uint64, pcm []int16)) (stop func())

// Defaults of Config.
const (
	DefaultRate           = 48000
	DefaultMaxAttempts    = 10
	DefaultBackoffMin     = 500 * time.Millisecond
	DefaultBackoffMax     = 30 * time.Second
	DefaultFFmpeg         = "ffmpeg"
	DefaultConnectTimeout = 10 * time.Second
	DefaultOpusBitrate    = 64000
	DefaultAACBitrate     = "96k"
	DefaultBufferFrames   = 50
)

// Config configures a Manager. Zero fields take the defaults above.
type Config struct {
	// Rate is the rate of the mix the Tap delivers; Opus takes 8000,
	// 12000, 16000, 24000 or 48000 (default).
	Rate int
	// Tap is the source of the rooms' common mixes. Required.
	Tap Tap
	// Logger gets component=livestream; default slog.Default().
	Logger *slog.Logger
	// Clock times back-off, connect timeouts and the silence filler;
	// default media.SystemClock. (Socket deadlines use the wall clock.)
	Clock media.Clock
	// MaxAttempts is the number of consecutive failed connects after
	// which a stream fails (default 10).
	MaxAttempts int
	// BackoffMin and BackoffMax bound the wait between connects: it
	// doubles from BackoffMin after each failure up to BackoffMax
	// (defaults 500 ms and 30 s).
	BackoffMin, BackoffMax time.Duration
	// ConnectTimeout bounds how long a connect may take to go live
	// (default 10 s).
	ConnectTimeout time.Duration
	// FFmpeg is the ffmpeg binary RTMP streams run (default "ffmpeg" on
	// PATH).
	FFmpeg string
	// OpusBitrate is the bitrate of the shared Opus encoding (default
	// 64 kb/s); AACBitrate ffmpeg's -b:a for RTMP (default "96k").
	OpusBitrate int
	AACBitrate  string
	// BufferFrames is the length of each stream's ring in 20 ms frames
	// (default 50: one second).
	BufferFrames int
	// OnState, if set, is called on every state change of a stream, from
	// the stream's goroutine (or Stop's caller for "stopped"); it must not
	// call back into the Manager synchronously. cmd/setbridge turns
	// "failed" into a metric and an event.
	OnState func(Info)
}

// Request asks for a new live stream.
type Request struct {
	// Target is where to push:
	//   icecast: http(s)://source:password@host:port/mount (or icecast(s)://…)
	//   rtmp:    rtmp(s)://host[:port]/app/stream_key
	//   whip:    whip+http(s)://[:token@]host[:port]/path, or http(s) with
	//            Kind "whip"; token, if any, is sent as a bearer token
	Target string `json:"target"`
	// Kind is "icecast", "rtmp" or "whip"; needed only when the scheme is
	// ambiguous (http(s) means icecast unless Kind is "whip").
	Kind string `json:"kind,omitempty"`
	// Name is a label for operators (and the Ogg TITLE comment).
	Name string `json:"name,omitempty"`
}

// State is where a stream is in its life.
type State string

// The states of a stream.
const (
	// StateConnecting: connecting for the first time (or retrying before
	// ever going live).
	StateConnecting State = "connecting"
	// StateLive: the server accepted the stream and audio flows.
	StateLive State = "live"
	// StateReconnecting: the stream was live, lost its server and is
	// trying again.
	StateReconnecting State = "reconnecting"
	// StateFailed: MaxAttempts consecutive connects failed; the stream
	// stays listed, inert, until stopped.
	StateFailed State = "failed"
	// StateStopped: stopped by Stop or Close.
	StateStopped State = "stopped"
)

// Info describes a stream.
type Info struct {
	ID   string `json:"id"`
	Room string `json:"room"`
	Name string `json:"name,omitempty"`
	Kind Kind   `json:"kind"`
	// Target is the request's target with any password replaced by xxxxx.
	Target string `json:"target"`
	State  State  `json:"state"`
	// Attempts is the count of consecutive failed connects.
	Attempts  int    `json:"attempts"`
	LastError string `json:"last_error,omitempty"`
	// BytesSent counts bytes written to servers (or to ffmpeg for RTMP)
	// over all connections.
	BytesSent uint64 `json:"bytes_sent"`
	// DroppedFrames counts frames dropped because the stream fell behind.
	DroppedFrames uint64    `json:"dropped_frames"`
	StartedAt     time.Time `json:"started_at"`
	// LiveSince is when the present connection went live; zero when not
	// live.
	LiveSince time.Time `json:"live_since,omitzero"`
}

// Stats are counters of the Manager's work.
type Stats struct {
	// Ticks counts frames processed for rooms with streams.
	Ticks uint64
	// OpusEncodes counts Opus encodes: one per tick per room with Opus
	// streams, whatever their number.
	OpusEncodes uint64
	// PCMFrames counts s16le conversions for RTMP streams, one per tick
	// per room with RTMP streams.
	PCMFrames uint64
	// FilledFrames counts silent frames sent while a room did not tick.
	FilledFrames uint64
}

// Manager runs the live streams of every room.
type Manager struct {
	cfg   Config
	log   *slog.Logger
	stats counters

	mu      sync.Mutex
	closed  bool                 // guarded by mu
	streams map[string]*stream   // guarded by mu
	feeds   map[string]*roomFeed // guarded by mu
	wg      sync.WaitGroup       // stream and feed goroutines

	// pusherHook, set by tests before Start, replaces the real pushers.
	pusherHook func(target, Request) pusher
}

// New returns a Manager with cfg's defaults filled in.
func New(cfg Config) *Manager {
	if cfg.Rate == 0 {
		cfg.Rate = DefaultRate
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Logger = cfg.Logger.With("component", "livestream")
	if cfg.Clock == nil {
		cfg.Clock = media.SystemClock{}
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.BackoffMin <= 0 {
		cfg.BackoffMin = DefaultBackoffMin
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = DefaultBackoffMax
	}
	cfg.BackoffMax = max(cfg.BackoffMax, cfg.BackoffMin)
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.FFmpeg == "" {
		cfg.FFmpeg = DefaultFFmpeg
	}
	if cfg.OpusBitrate <= 0 {
		cfg.OpusBitrate = DefaultOpusBitrate
	}
	if cfg.AACBitrate == "" {
		cfg.AACBitrate = DefaultAACBitrate
	}
	if cfg.BufferFrames <= 0 {
		cfg.BufferFrames = DefaultBufferFrames
	}
	return &Manager{
		cfg:     cfg,
		log:     cfg.Logger,
		streams: make(map[string]*stream),
		feeds:   make(map[string]*roomFeed),
	}
}

// Start validates req and starts pushing room's common mix to its target.
// The stream connects in the background; the returned Info is in state
// "connecting".
func (m *Manager) Start(room string, req Request) (Info, error) {
	switch m.cfg.Rate {
	case 8000, 12000, 16000, 24000, 48000:
	default:
		return Info{}, fmt.Errorf("%w: %d", ErrBadRate, m.cfg.Rate)
	}
	if room == "" {
		return Info{}, fmt.Errorf("%w: empty room", ErrBadTarget)
	}
	t, err := parseTarget(req.Target, req.Kind)
	if err != nil {
		return Info{}, err
	}
	p, err := m.newPusher(t, req)
	if err != nil {
		return Info{}, err
	}
	s := &stream{
		m:      m,
		pusher: p,
		ring:   newFrameRing(m.cfg.BufferFrames, p.slotSize()),
		pcm:    p.wantsPCM(),
		done:   make(chan struct{}),
		info: Info{
			ID:        newID(),
			Room:      room,
			Name:      req.Name,
			Kind:      t.kind,
			Target:    t.redacted(),
			State:     StateConnecting,
			StartedAt: m.cfg.Clock.Now(),
		},
	}
	s.log = m.log.With("room", room, "stream", s.info.ID, "kind", string(t.kind), "target", s.info.Target)
	var ctx context.Context
	ctx, s.cancel = context.WithCancel(context.Background())

	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		s.cancel()
		return Info{}, ErrClosed
	}
	if err := m.attachLocked(s); err != nil {
		s.cancel()
		return Info{}, err
	}
	m.streams[s.info.ID] = s
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		s.run(ctx)
	}()
	s.log.Info("live stream started")
	return s.snapshot(), nil
}

// attachLocked adds s's ring to its room's feed, tapping the room if it is
// the room's first stream.
func (m *Manager) attachLocked(s *stream) error {
	f := m.feeds[s.info.Room]
	if f == nil {
		var err error
		f, err = newRoomFeed(s.info.Room, &m.cfg, &m.stats)
		if err != nil {
			return err
		}
		f.stopTap = m.cfg.Tap(s.info.Room, f.tap)
		m.feeds[s.info.Room] = f
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			f.fill()
		}()
	}
	f.sinks.Store(f.sinks.Load().with(s.ring, s.pcm, true))
	return nil
}

// detach removes s's ring from its room's feed, stopping the tap when no
// stream of the room takes frames any more.
func (m *Manager) detach(s *stream) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.feeds[s.info.Room]
	if f == nil {
		return
	}
	set := f.sinks.Load().with(s.ring, s.pcm, false)
	f.sinks.Store(set)
	if set.empty() {
		delete(m.feeds, s.info.Room)
		f.stopTap()
		close(f.quit)
	}
}

// List returns the streams of room, or of every room when room is empty,
// oldest first.
func (m *Manager) List(room string) []Info {
	m.mu.Lock()
	var ss []*stream
	for _, s := range m.streams {
		if room == "" || s.info.Room == room {
			ss = append(ss, s)
		}
	}
	m.mu.Unlock()
	out := make([]Info, 0, len(ss))
	for _, s := range ss {
		out = append(out, s.snapshot())
	}
	slices.SortFunc(out, func(a, b Info) int {
		if c := a.StartedAt.Compare(b.StartedAt); c != 0 {
			return c
		}
		return compareStrings(a.ID, b.ID)
	})
	return out
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Get returns the stream with id.
func (m *Manager) Get(id string) (Info, bool) {
	m.mu.Lock()
	s := m.streams[id]
	m.mu.Unlock()
	if s == nil {
		return Info{}, false
	}
	return s.snapshot(), true
}

// Stop stops the stream with id (live, reconnecting or failed), closes its
// connection or ffmpeg and waits for it; the stream is then no longer
// listed.
func (m *Manager) Stop(id string) error {
	m.mu.Lock()
	s := m.streams[id]
	delete(m.streams, id)
	m.mu.Unlock()
	if s == nil {
		return fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	s.stop()
	return nil
}

// Close stops every stream and waits for every goroutine the Manager
// started. Start fails with ErrClosed afterwards.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	ss := make([]*stream, 0, len(m.streams))
	for id, s := range m.streams {
		ss = append(ss, s)
		delete(m.streams, id)
	}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range ss {
		wg.Go(s.stop)
	}
	wg.Wait()
	m.wg.Wait()
}

// Stats returns the Manager's work counters.
func (m *Manager) Stats() Stats {
	return Stats{
		Ticks:        m.stats.ticks.Load(),
		OpusEncodes:  m.stats.opusEncodes.Load(),
		PCMFrames:    m.stats.pcmFrames.Load(),
		FilledFrames: m.stats.filled.Load(),
	}
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "ls_" + hex.EncodeToString(b[:])
}
