package media

// SampleFIFO is a fixed-capacity ring of mono samples, used to re-chunk
// audio between packet times (20 ms frames in, 30 ms packets out, and the
// reverse). It does not allocate after construction and is not safe for
// concurrent use.
type SampleFIFO struct {
	buf  []int16
	head int // index of the oldest sample
	n    int // samples held
}

// NewSampleFIFO returns a FIFO that holds up to capacity samples.
func NewSampleFIFO(capacity int) *SampleFIFO { return &SampleFIFO{buf: make([]int16, capacity)} }

// Len returns the number of samples held.
func (f *SampleFIFO) Len() int { return f.n }

// Free returns the room left.
func (f *SampleFIFO) Free() int { return len(f.buf) - f.n }

// Write appends samples; when the FIFO is full the oldest samples are
// dropped to make room, and their count is returned.
func (f *SampleFIFO) Write(samples []int16) (dropped int) {
	if len(samples) > len(f.buf) {
		dropped = len(samples) - len(f.buf)
		samples = samples[dropped:]
	}
	if over := len(samples) - f.Free(); over > 0 {
		f.Discard(over)
		dropped += over
	}
	tail := (f.head + f.n) % len(f.buf)
	c := copy(f.buf[tail:], samples)
	copy(f.buf, samples[c:])
	f.n += len(samples)
	return dropped
}

// WriteSilence appends n zero samples.
func (f *SampleFIFO) WriteSilence(n int) (dropped int) {
	if n > len(f.buf) {
		dropped = n - len(f.buf)
		n = len(f.buf)
	}
	if over := n - f.Free(); over > 0 {
		f.Discard(over)
		dropped += over
	}
	for i := 0; i < n; i++ {
		f.buf[(f.head+f.n+i)%len(f.buf)] = 0
	}
	f.n += n
	return dropped
}

// Read fills dst entirely and reports true, or leaves the FIFO untouched
// and reports false when it holds fewer than len(dst) samples.
func (f *SampleFIFO) Read(dst []int16) bool {
	if len(dst) > f.n {
		return false
	}
	c := copy(dst, f.buf[f.head:min(f.head+len(dst), len(f.buf))])
	copy(dst[c:], f.buf)
	f.Discard(len(dst))
	return true
}

// Discard drops up to n of the oldest samples.
func (f *SampleFIFO) Discard(n int) {
	n = min(n, f.n)
	f.head = (f.head + n) % len(f.buf)
	f.n -= n
}

// Reset empties the FIFO.
func (f *SampleFIFO) Reset() { f.head, f.n = 0, 0 }
