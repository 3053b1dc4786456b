//go:build !amd64 || purego

package selector

func sumSquares(pcm []int16) uint64 { return sumSquaresGeneric(pcm) }
