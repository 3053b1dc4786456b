//go:build amd64 && !purego

package selector

// sumSquares16 returns Σ x² over blocks×16 samples from p (sumsq_amd64.s).
//
//go:noescape
func sumSquares16(p *int16, blocks int) uint64

// sumSquares returns Σ pcm[i]², the bulk in SSE2 (which every amd64 CPU
// has) and the last few samples in Go.
func sumSquares(pcm []int16) uint64 {
	n := len(pcm) / 16
	var s uint64
	if n > 0 {
		s = sumSquares16(&pcm[0], n)
	}
	return s + sumSquaresGeneric(pcm[n*16:])
}
