package resample

// Block kernels: Process hands each chunk to interpolate or decimate
// (kernels_amd64.go, kernels_other.go), which run the AVX2+FMA assembly
// when the CPU has it and otherwise these pure-Go loops over interp2,
// interp3, interp6 and dotSym. The pure-Go loops are also the reference the
// assembly is tested against (kernels_test.go).

// maxTaps is the most input samples one interpolated output looks at
// (bank.taps when up > 1).
const maxTaps = 2*halfLen + 1

// interpGeneric writes the up outputs of each of the count input windows
// b[k:k+taps], k < count, to dst[k·up:(k+1)·up].
func interpGeneric(dst []int16, coef, b []float32, count, up, taps int) {
	for k := 0; k < count; k++ {
		w := b[k : k+taps]
		d := dst[k*up : k*up+up]
		switch up {
		case 2:
			interp2(d, coef, w)
		case 3:
			interp3(d, coef, w)
		default:
			interp6(d, coef, w)
		}
	}
}

// decimGeneric writes to dst[o], o < count, the output of the symmetric
// filter h (first half and centre tap, see dotSym) over the window of
// 2·len(h)-1 samples of b starting at pos + o·down.
func decimGeneric(dst []int16, h, b []float32, pos, count, down int) {
	taps := 2*len(h) - 1
	for o := 0; o < count; o++ {
		dst[o] = toInt16(dotSym(h, b[pos:pos+taps]))
		pos += down
	}
}
