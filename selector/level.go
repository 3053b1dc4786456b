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
	ms := float64(e) / float64(len(pcm))
	l := -10*math.Log10(ms/(32768*32768)) + 0.5
	if l >= float64(Silence) {
		return Silence
	}
	if l < 0 {
		return 0
	}
	return uint8(l)
}

// sumSquares returns Σ pcm[i]². Each square fits in 31 bits and the sum of
// two in 32 bits unsigned, so pairs are added in uint32 and only the pair
// sums in uint64: about twice as fast as a plain loop, and exact.
func sumSquares(pcm []int16) uint64 {
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
