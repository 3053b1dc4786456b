package ivr

import (
	"fmt"
	"sync"

	"github.com/setbridge/setbridge/media"
)

// Frame describes one frame a Player (or a Session) produced.
type Frame struct {
	// Audio reports that the frame holds prompt audio. When false the
	// frame was zeroed: nothing is playing.
	Audio bool
	// Marker reports that the frame starts a talk-spurt: it holds audio and
	// the previous frame did not. The leg sets the RTP marker bit on the
	// packet that carries the frame's first sample.
	Marker bool
	// Started is the name of the first prompt whose first sample is in this
	// frame, or "".
	Started string
	// Drained reports that the frame holds the last queued sample: unless
	// more is queued, the next frame will be silent. The tail of the frame
	// after that sample is zeros.
	Drained bool
}

// Player plays queued prompts as a stream of 20 ms frames at one rate, one
// frame per Read. Consecutive prompts play back to back, sharing a frame at
// their boundary, so a queue plays with no gap and no overlap; the first
// frame after an idle period starts with the first sample of the first
// queued prompt (the prompts carry their own short lead-in), so nothing is
// clipped.
//
// A Player is safe for concurrent use: Stop may come from any goroutine
// while another calls Read. Read does not allocate.
type Player struct {
	rate  int
	frame int // samples per frame

	mu      sync.Mutex
	queue   []*Prompt // guarded by mu; queue[head:] waits to be played
	head    int       // guarded by mu
	pos     int       // guarded by mu; next sample of queue[head]
	playing bool      // guarded by mu; the last frame read held audio
}

// NewPlayer returns an idle Player producing frames of
// media.FrameSamples(rate) samples. rate is 8000, 16000 or 48000; prompts
// must be at the same rate (see PromptConfig.Rate).
func NewPlayer(rate int) (*Player, error) {
	if !fixedRate(rate) {
		return nil, fmt.Errorf("%w: %d Hz", ErrUnsupportedRate, rate)
	}
	return &Player{rate: rate, frame: media.FrameSamples(rate), queue: make([]*Prompt, 0, 8)}, nil
}

// Rate returns the player's sample rate.
func (p *Player) Rate() int { return p.rate }

// FrameSamples returns the number of samples Read writes.
func (p *Player) FrameSamples() int { return p.frame }

// Enqueue appends prompts to the queue; they play after what is queued.
// It refuses, and queues none of them, if one is nil or at another rate.
func (p *Player) Enqueue(prompts ...*Prompt) error {
	for _, pr := range prompts {
		if pr == nil {
			return fmt.Errorf("%w: nil prompt", ErrRateMismatch)
		}
		if pr.rate != p.rate {
			return fmt.Errorf("%w: %s is %d Hz, player %d Hz", ErrRateMismatch, pr.name, pr.rate, p.rate)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.head == len(p.queue) {
		p.queue, p.head, p.pos = p.queue[:0], 0, 0
	}
	p.queue = append(p.queue, prompts...)
	return nil
}

// Stop empties the queue (barge-in). It takes effect at the next Read,
// which returns a silent frame unless something was queued after Stop; the
// frame already returned is the last one of the stopped prompt.
func (p *Player) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopLocked()
}

func (p *Player) stopLocked() {
	clear(p.queue)
	p.queue, p.head, p.pos = p.queue[:0], 0, 0
}

// Busy reports whether anything is queued.
func (p *Player) Busy() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.head < len(p.queue)
}

// Read writes the next frame into dst[:FrameSamples()] and describes it.
// A dst shorter than a frame gets nothing, and the queue does not move.
func (p *Player) Read(dst []int16) Frame {
	if len(dst) < p.frame {
		return Frame{}
	}
	dst = dst[:p.frame]
	p.mu.Lock()
	defer p.mu.Unlock()
	var f Frame
	n := 0
	for n < len(dst) && p.head < len(p.queue) {
		pr := p.queue[p.head]
		if p.pos == 0 && f.Started == "" {
			f.Started = pr.name
		}
		c := copy(dst[n:], pr.samples[p.pos:])
		n += c
		p.pos += c
		if p.pos >= len(pr.samples) {
			p.queue[p.head] = nil
			p.head++
			p.pos = 0
		}
	}
	clear(dst[n:])
	f.Audio = n > 0
	f.Marker = f.Audio && !p.playing
	if p.head == len(p.queue) {
		f.Drained = f.Audio
		p.queue, p.head = p.queue[:0], 0
	}
	p.playing = f.Audio
	return f
}

// ReadFrame reads the next frame like Read and reports whether it holds
// audio, in the shape of media.Uplink.
func (p *Player) ReadFrame(dst []int16) bool { return p.Read(dst).Audio }

// ReadFrameMarker reads the next frame like Read and reports Frame.Audio
// and Frame.Marker, so that a consumer can declare the interface it needs
// without importing this package.
func (p *Player) ReadFrameMarker(dst []int16) (audio, marker bool) {
	f := p.Read(dst)
	return f.Audio, f.Marker
}
