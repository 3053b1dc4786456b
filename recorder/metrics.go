package recorder

import (
	"crypto/rand"
	"sync/atomic"
)

// Metrics counts what recorders do. Share one *Metrics between recorders
// (Config.Metrics) and export the totals (for example as Prometheus
// CounterFuncs, without per-room labels).
type Metrics struct {
	Started     atomic.Uint64 // recordings started
	Stopped     atomic.Uint64 // recordings sealed as stopped
	Failed      atomic.Uint64 // recordings sealed as failed
	Overruns    atomic.Uint64 // failures because the frame ring overflowed
	Recovered   atomic.Uint64 // recordings sealed as interrupted by Recover
	Frames      atomic.Uint64 // frames written (mix and tracks)
	Bytes       atomic.Uint64 // bytes written to segments (headers included)
	Segments    atomic.Uint64 // segments closed
	Manifests   atomic.Uint64 // manifest rewrites
	TrackRefuse atomic.Uint64 // track frames refused (MaxTracks reached)
}

// cryptoReader reads crypto/rand; rand.Read never fails since Go 1.24.
type cryptoReader struct{}

func (cryptoReader) Read(p []byte) (int, error) { return rand.Read(p) }
