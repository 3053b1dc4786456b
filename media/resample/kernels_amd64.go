//go:build amd64 && !purego

package resample

// useAVX2 reports whether the CPU and OS support AVX2 and FMA, which the
// assembly kernels (kernels_amd64.s) need.
var useAVX2 = hasAVX2FMA()

func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
func xgetbv() (eax, edx uint32)

func hasAVX2FMA() bool {
	maxLeaf, _, _, _ := cpuid(0, 0)
	if maxLeaf < 7 {
		return false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const fma, osxsave, avx = 1 << 12, 1 << 27, 1 << 28
	if ecx1&(fma|osxsave|avx) != fma|osxsave|avx {
		return false
	}
	if xcr0, _ := xgetbv(); xcr0&6 != 6 { // OS saves XMM and YMM state
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	return ebx7&(1<<5) != 0 // AVX2
}

// The interpolation kernels compute blocks of bs consecutive input
// positions at once (bs = 32, 24, 16 for up = 2, 3, 6): for each phase p
// they broadcast the coefficient c[i·up+p] and multiply-add it into
// vectors of bs/8 × 8 consecutive windows' accumulators, so every
// output is a chain of fused multiply-adds over i = 0 … taps-1 in order,
// whichever lane or block computes it. They write blocks·bs·up samples to
// dst and read w[0 : blocks·bs-1+taps].

//go:noescape
func interp2AVX2(dst *int16, c, w *float32, blocks, taps int)

//go:noescape
func interp3AVX2(dst *int16, c, w *float32, blocks, taps int)

//go:noescape
func interp6AVX2(dst *int16, c, w *float32, blocks, taps int)

// dotSymAVX2 writes to dst[o], o < n, toInt16(dotSym(h[:c+1], window))
// for the window of 2c+1 samples at w[o·step], up to float rounding; c
// must be a positive multiple of 8.
//
//go:noescape
func dotSymAVX2(dst *int16, h *float32, c int, w *float32, n, step int)

const maxBlock = 32 // largest interpolation block

// interpolate writes the up outputs of each of the count input windows
// b[k:k+taps], k < count, to dst[k·up:(k+1)·up].
func interpolate(dst []int16, coef, b []float32, count, up, taps int) {
	var bs int
	switch up {
	case 2:
		bs = 32
	case 3:
		bs = 24
	case 6:
		bs = 16
	}
	if !useAVX2 || bs == 0 || count <= 0 || taps <= 0 || taps > maxTaps || len(coef) < up*taps {
		interpGeneric(dst, coef, b, count, up, taps)
		return
	}
	dst = dst[:count*up]
	_ = b[count-1+taps-1] // every window is inside b
	full := count / bs
	if full > 0 {
		interpBlocks(&dst[0], &coef[0], &b[0], full, taps, up)
	}
	if rem := count - full*bs; rem > 0 {
		// The last, partial block: the kernel reads bs windows, so give it
		// a copy of the rem windows padded with zeros.
		var win [maxBlock - 1 + maxTaps]float32
		var out [maxBlock * 6]int16
		k0 := full * bs
		copy(win[:], b[k0:k0+rem-1+taps])
		interpBlocks(&out[0], &coef[0], &win[0], 1, taps, up)
		copy(dst[k0*up:], out[:rem*up])
	}
}

func interpBlocks(dst *int16, c, w *float32, blocks, taps, up int) {
	switch up {
	case 2:
		interp2AVX2(dst, c, w, blocks, taps)
	case 3:
		interp3AVX2(dst, c, w, blocks, taps)
	default:
		interp6AVX2(dst, c, w, blocks, taps)
	}
}

// decimate writes to dst[o], o < count, the output of the symmetric filter
// h (first half and centre tap, see dotSym) over the window of
// 2·len(h)-1 samples of b starting at pos + o·down.
func decimate(dst []int16, h, b []float32, pos, count, down int) {
	c := len(h) - 1
	if !useAVX2 || count <= 0 || c < 8 || c%8 != 0 {
		decimGeneric(dst, h, b, pos, count, down)
		return
	}
	dst = dst[:count]
	_ = b[pos+(count-1)*down+2*c] // the last window is inside b
	dotSymAVX2(&dst[0], &h[0], c, &b[pos], count, down)
}
