package livestream

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hraban/opus"

	"github.com/setbridge/setbridge/media"
)

// maxOpusPacket is the largest Opus packet (RFC 6716 §3.2.1), and the size
// of an Opus ring slot.
const maxOpusPacket = 1275

// fillAfter is how long a room's tap may stay silent before the feed sends
// silence itself: a room with no members does not tick, but servers drop a
// source that sends nothing (Icecast's source-timeout), so live streams
// carry silence until the room ticks again.
const fillAfter = 100 * time.Millisecond

// sinkSet is the set of stream rings of one room, replaced as a whole
// (copy on write) so that the tick reads it without a lock.
type sinkSet struct {
	opus []*frameRing // streams taking the shared Opus encoding
	pcm  []*frameRing // streams taking s16le PCM (RTMP, for ffmpeg)
}

// roomFeed taps one room once, encodes each format once per tick and hands
// the result to every stream of the room.
type roomFeed struct {
	room    string
	rate    int
	log     *slog.Logger
	clock   media.Clock
	stopTap func()
	quit    chan struct{} // closed to stop the filler goroutine

	sinks atomic.Pointer[sinkSet]
	// lastTap is the clock time (UnixNano) of the last frame from the tap.
	lastTap atomic.Int64

	// frameMu serialises frame calls (the tap and the silence filler) and
	// guards the encoder state below.
	frameMu  sync.Mutex
	enc      *opus.Encoder // guarded by frameMu
	pkt      []byte        // guarded by frameMu
	pcmBytes []byte        // guarded by frameMu
	silence  []int16       // guarded by frameMu
	encFails int           // guarded by frameMu

	stats *counters
}

// counters are the Manager's work counters, shared by its feeds.
type counters struct {
	ticks       atomic.Uint64
	opusEncodes atomic.Uint64
	pcmFrames   atomic.Uint64
	filled      atomic.Uint64
}

func newRoomFeed(room string, cfg *Config, stats *counters) (*roomFeed, error) {
	enc, err := opus.NewEncoder(cfg.Rate, 1, opus.AppAudio)
	if err != nil {
		return nil, fmt.Errorf("opus encoder: %w", err)
	}
	if err := enc.SetBitrate(cfg.OpusBitrate); err != nil {
		return nil, fmt.Errorf("opus encoder: %w", err)
	}
	f := &roomFeed{
		room:    room,
		rate:    cfg.Rate,
		log:     cfg.Logger.With("room", room),
		clock:   cfg.Clock,
		quit:    make(chan struct{}),
		enc:     enc,
		pkt:     make([]byte, maxOpusPacket),
		silence: make([]int16, media.FrameSamples(cfg.Rate)),
		stats:   stats,
	}
	f.sinks.Store(&sinkSet{})
	return f, nil
}

// tap is the TapFunc: called on the room's tick goroutine, it must not
// block.
func (f *roomFeed) tap(tick uint64, pcm []int16) {
	f.lastTap.Store(f.clock.Now().UnixNano())
	f.frame(pcm)
}

// frame encodes pcm once per format the room's streams need and pushes
// the result to each stream's ring.
func (f *roomFeed) frame(pcm []int16) {
	s := f.sinks.Load()
	if len(s.opus) == 0 && len(s.pcm) == 0 {
		return
	}
	f.frameMu.Lock()
	defer f.frameMu.Unlock()
	f.stats.ticks.Add(1)
	if len(s.opus) > 0 {
		n, err := f.enc.Encode(pcm, f.pkt)
		if err != nil {
			f.encFails++
			if f.encFails == 1 || f.encFails%500 == 0 {
				f.log.Warn("opus encode failed", "err", err, "failures", f.encFails)
			}
		} else {
			f.stats.opusEncodes.Add(1)
			for _, r := range s.opus {
				r.push(f.pkt[:n])
			}
		}
	}
	if len(s.pcm) > 0 {
		f.pcmBytes = f.pcmBytes[:0]
		for _, v := range pcm {
			f.pcmBytes = binary.LittleEndian.AppendUint16(f.pcmBytes, uint16(v))
		}
		f.stats.pcmFrames.Add(1)
		for _, r := range s.pcm {
			r.push(f.pcmBytes)
		}
	}
}

// fill runs until quit is closed, sending a frame of silence every frame
// period while the tap has been quiet for fillAfter.
func (f *roomFeed) fill() {
	tk := f.clock.NewTicker(media.FrameDuration)
	defer tk.Stop()
	for {
		select {
		case <-f.quit:
			return
		case now := <-tk.C():
			if now.UnixNano()-f.lastTap.Load() < int64(fillAfter) {
				continue
			}
			f.frameMu.Lock()
			silence := f.silence
			f.frameMu.Unlock()
			f.stats.filled.Add(1)
			f.frame(silence)
		}
	}
}

// withSink returns a copy of the sink set with r added to (add) or
// removed from the set of its format.
func (s *sinkSet) with(r *frameRing, pcm, add bool) *sinkSet {
	n := &sinkSet{opus: s.opus, pcm: s.pcm}
	list := &n.opus
	if pcm {
		list = &n.pcm
	}
	var out []*frameRing
	for _, x := range *list {
		if x != r {
			out = append(out, x)
		}
	}
	if add {
		out = append(out, r)
	}
	*list = out
	return n
}

// empty reports whether no stream takes frames.
func (s *sinkSet) empty() bool { return len(s.opus) == 0 && len(s.pcm) == 0 }
