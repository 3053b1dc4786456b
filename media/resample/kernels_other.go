//go:build !amd64 || purego

package resample

// useAVX2 is false: there are no assembly kernels on this platform.
const useAVX2 = false

func interpolate(dst []int16, coef, b []float32, count, up, taps int) {
	interpGeneric(dst, coef, b, count, up, taps)
}

func decimate(dst []int16, h, b []float32, pos, count, down int) {
	decimGeneric(dst, h, b, pos, count, down)
}
