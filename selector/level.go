package selector

import "math"

// Level returns the audio level of pcm on the RFC 6464 scale, in -dBov:
// 10·log10 of the mean square relative to full scale (32768²), negated,
// rounded to the nearest dB and clamped to 0..127. A full-scale square wave
// reads 0, a full-scale sine 3, a sine of peak 3277 (-20 dBFS) 23, and
// digital silence (or an empty frame) 127.
//
// It does not allocate and looks at every sample.
func Level(pcm []int16) uint8 {
	if len(pcm) == 0 {
		return Silence
	}
	e := sumSquares(pcm)
	if e == 0 {
		return Silence
	}
	return levelOf(float64(e) / (float64(len(pcm)) * 32768 * 32768))
}

// levelBounds[l] is the mean square, relative to full scale, at which the
// rounded level changes from l to l+1: 10^(-(l+0.5)/10).
var levelBounds = func() (b [Silence]float64) {
	for l := range b {
		b[l] = math.Pow(10, -(float64(l)+0.5)/10)
	}
	return b
}()

// levelOf rounds -10·log10(ms) to a level, by binary search of
// levelBounds rather than a logarithm (a tenth of the cost).
func levelOf(ms float64) uint8 {
	// The level is the first l whose bound ms exceeds.
	lo, hi := 0, len(levelBounds)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if ms > levelBounds[mid] {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return uint8(lo)
}

// sumSquaresGeneric returns Σ pcm[i]². Each square fits in 31 bits and
// the sum of two in 32 bits unsigned, so pairs are added in uint32 and only
// the pair sums in uint64: exact, and about twice as fast as a plain loop.
// sumSquares is this, or an assembly version of it (sumsq_amd64.s).
func sumSquaresGeneric(pcm []int16) uint64 {
	var a0, a1 uint64
	for len(pcm) >= 8 {
		_ = pcm[7]
		v0, v1, v2, v3 := int32(pcm[0]), int32(pcm[1]), int32(pcm[2]), int32(pcm[3])
		v4, v5, v6, v7 := int32(pcm[4]), int32(pcm[5]), int32(pcm[6]), int32(pcm[7])
		a0 += uint64(uint32(v0*v0)+uint32(v1*v1)) + uint64(uint32(v2*v2)+uint32(v3*v3))
		a1 += uint64(uint32(v4*v4)+uint32(v5*v5)) + uint64(uint32(v6*v6)+uint32(v7*v7))
		pcm = pcm[8:]
	}
	for _, s := range pcm {
		v := int32(s)
		a0 += uint64(uint32(v * v))
	}
	return a0 + a1
}
