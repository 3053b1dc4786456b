package mixerengine

import (
	"math"
	"time"

	"github.com/setbridge/setbridge/media"
)

// Limiter settings. The limiter keeps every output sample within
// limitCeiling (-1 dBFS, leaving codecs headroom for their own overshoot),
// reaches a lower gain within one block (1 ms, a linear fade, so no step
// and no click), and recovers with a 100 ms time constant.
const (
	limitCeiling = 29204 // 32768 × 10^(-1/20)
	limitBlock   = time.Millisecond
	limitRelease = 100 * time.Millisecond
)

// limiter is a look-ahead gain limiter for one output stream.
//
// It works on blocks of 1 ms and delays its output by one block, which is
// its look-ahead. For the block being output it knows its own peak and that
// of the next block, so it can fade the gain down across the block, linearly
// from the gain it started with to a gain that satisfies both: every sample
// it writes is then within the ceiling (both ends of the fade are, so every
// point between them is), the gain never jumps, and a sum that overflows
// int16 is scaled instead of wrapped or clipped. When no block needs less
// gain the gain rises back towards 1 by a fixed fraction per block (the
// release). While the gain is 1 and the peaks stay under the ceiling it is
// a delayed copy.
//
// The state is small, so a talker's N-1 stream starts from a copy of the
// common stream's state when the talker is selected: what the talker hears
// continues without a jump in gain or in the one-block delay line.
type limiter struct {
	blk      int     // samples per block
	rel      float32 // fraction of the gain's deficit kept per block
	gain     float32 // gain at the end of the last block written
	pend     []int32 // the last block of input, not yet written
	pendNeed float32 // the largest gain pend can take
}

func newLimiter(frame int) limiter {
	blk := blockSamples(frame)
	blockDur := float64(media.FrameDuration) * float64(blk) / float64(frame)
	return limiter{blk: blk, rel: float32(math.Exp(-blockDur / float64(limitRelease))), gain: 1,
		pend: make([]int32, blk), pendNeed: 1}
}

// blockSamples picks the block length: 1 ms (a twentieth of a frame), or
// the largest divisor of frame below that for rates that are not a multiple
// of 1 kHz.
func blockSamples(frame int) int {
	b := max(frame/int(media.FrameDuration/limitBlock), 1)
	for frame%b != 0 {
		b--
	}
	return b
}

// copyFrom makes l continue from o's state.
func (l *limiter) copyFrom(o *limiter) {
	l.gain, l.pendNeed = o.gain, o.pendNeed
	copy(l.pend, o.pend)
}

// needGain returns the largest gain that keeps every sample of x within the
// ceiling.
func needGain(x []int32) float32 {
	var peak int32
	for _, v := range x {
		if v < 0 {
			v = -v
		}
		peak = max(peak, v)
	}
	if peak <= limitCeiling {
		return 1
	}
	return limitCeiling / float32(peak)
}

// process writes len(in) samples to out: the block held back from the
// previous call and all of in but its last block, which it holds back.
// len(in) and len(out) must be equal multiples of the block length.
func (l *limiter) process(out []int16, in []int32) {
	blk := l.blk
	prev, prevNeed := l.pend, l.pendNeed
	for b := 0; b+blk <= len(in); b += blk {
		cur := in[b : b+blk]
		curNeed := needGain(cur)
		g0 := l.gain
		g1 := min(1-(1-g0)*l.rel, prevNeed, curNeed)
		if g1 >= 0.9999 && prevNeed == 1 && curNeed == 1 {
			g1 = 1
		}
		o := out[b : b+blk]
		if g0 == 1 && g1 == 1 {
			for i, v := range prev {
				o[i] = int16(v) // within the ceiling: prevNeed is 1
			}
		} else {
			step := (g1 - g0) / float32(blk)
			g := g0
			for i, v := range prev {
				g += step
				o[i] = roundInt16(float32(v) * min(g, prevNeed))
			}
		}
		l.gain = g1
		prev, prevNeed = cur, curNeed
	}
	copy(l.pend, prev)
	l.pendNeed = prevNeed
}

// roundInt16 rounds to nearest and saturates; the limiter's gains keep v
// within the ceiling, so saturation is only a guard against float rounding.
func roundInt16(v float32) int16 {
	if v >= 0 {
		v += 0.5
	} else {
		v -= 0.5
	}
	switch {
	case v >= math.MaxInt16:
		return math.MaxInt16
	case v <= math.MinInt16:
		return math.MinInt16
	}
	return int16(v)
}
