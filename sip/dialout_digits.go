package sip

import (
	"math"
	"sync"

	"github.com/setbridge/setbridge/media"
)

// digitPlayer is a dial-out call's participant: its rtpLeg, plus the
// digits to send after the answer, played on the room's tick so that
// pauses and tones keep the tick's time. RFC 4733 digits go through the
// leg's sender one at a time; in-band digits replace the room's audio
// with DTMF tones while they play.
type digitPlayer struct {
	*rtpLeg
	rate int

	mu     sync.Mutex
	steps  []rune // digits and 'w' still to play; guarded by mu
	inband bool   // guarded by mu
	// The in-band segment playing: n samples left of a tone (lo, hi in
	// Hz; 0 for silence) at sample index pos.
	lo, hi float64
	left   int
	pos    int
	wait   int // ticks left of a pause (RFC 4733)
	buf    []int16
}

// In-band tone shape: long enough for any detector, with a gap so that a
// repeated digit is heard twice.
const (
	inbandTone = 150 // ms
	inbandGap  = 100 // ms
	// inbandAmp is each of the two tones' amplitude (about -13 dBFS).
	inbandAmp = 7000
)

var dtmfRows = [4]float64{697, 770, 852, 941}
var dtmfCols = [4]float64{1209, 1336, 1477, 1633}

// dtmfPair returns the two frequencies of a digit.
func dtmfPair(r rune) (lo, hi float64, ok bool) {
	const keys = "123A456B789C*0#D"
	for i, k := range keys {
		if k == r {
			return dtmfRows[i/4], dtmfCols[i%4], true
		}
	}
	return 0, 0, false
}

func newDigitPlayer(l *rtpLeg, rate int) *digitPlayer {
	return &digitPlayer{rtpLeg: l, rate: rate, buf: make([]int16, media.FrameSamples(rate))}
}

// queue adds digits ('w' a pause) to play, as tones if inband.
func (p *digitPlayer) queue(digits string, inband bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inband = inband
	for _, r := range digits {
		if r == 'W' {
			r = 'w'
		}
		p.steps = append(p.steps, r)
	}
}

// activeLocked reports whether digits remain to play.
func (p *digitPlayer) activeLocked() bool {
	return len(p.steps) > 0 || p.left > 0 || p.wait > 0
}

// DownlinkFormat takes PCM while digits play, so WriteFrame runs on
// every tick.
func (p *digitPlayer) DownlinkFormat() media.FormatKey {
	p.mu.Lock()
	active := p.activeLocked()
	p.mu.Unlock()
	if active {
		return media.FormatKey{}
	}
	return p.rtpLeg.DownlinkFormat()
}

// WriteFrame plays the next part of the digits and sends the frame.
func (p *digitPlayer) WriteFrame(pcm []int16) {
	p.mu.Lock()
	if p.activeLocked() && p.sending.Load() {
		if p.inband {
			p.toneLocked()
			pcm = p.buf
		} else {
			p.stepRFC4733Locked()
		}
	}
	p.mu.Unlock()
	p.rtpLeg.WriteFrame(pcm)
}

// stepRFC4733Locked hands the next digit to the leg's sender once the
// previous one is out, counting pauses in ticks.
func (p *digitPlayer) stepRFC4733Locked() {
	if p.wait > 0 {
		p.wait--
		return
	}
	if p.digitsPending() || (p.sender != nil && p.sender.Active()) {
		return
	}
	if len(p.steps) == 0 {
		return
	}
	r := p.steps[0]
	p.steps = p.steps[1:]
	if r == 'w' {
		p.wait = int(pauseDuration/media.FrameDuration) - 1
		return
	}
	p.SendDigits(string(r))
}

// toneLocked fills p.buf with the next frame of tones and gaps.
func (p *digitPlayer) toneLocked() {
	for i := range p.buf {
		if p.left == 0 {
			p.nextSegmentLocked()
		}
		if p.left == 0 {
			clear(p.buf[i:])
			return
		}
		v := 0.0
		if p.lo > 0 {
			t := float64(p.pos) / float64(p.rate)
			v = inbandAmp * (math.Sin(2*math.Pi*p.lo*t) + math.Sin(2*math.Pi*p.hi*t))
		}
		p.buf[i] = int16(v)
		p.pos++
		p.left--
	}
}

// nextSegmentLocked starts the next tone, gap or pause.
func (p *digitPlayer) nextSegmentLocked() {
	ms := func(n int) int { return n * p.rate / 1000 }
	if p.lo > 0 {
		// A tone just ended: its gap follows.
		p.lo, p.hi, p.left, p.pos = 0, 0, ms(inbandGap), 0
		return
	}
	for len(p.steps) > 0 {
		r := p.steps[0]
		p.steps = p.steps[1:]
		if r == 'w' {
			p.left, p.pos = ms(int(pauseDuration.Milliseconds())), 0
			return
		}
		if lo, hi, ok := dtmfPair(r); ok {
			p.lo, p.hi, p.left, p.pos = lo, hi, ms(inbandTone), 0
			return
		}
	}
}
