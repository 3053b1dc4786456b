package g722

// Quadrature mirror filters of ITU-T G.722 (transmit and receive QMF).
//
// The 24-tap low-pass h (qmfCoeffs) and its mirror (-1)^i h_i split the
// 16 kHz signal into two bands, each decimated to 8 kHz. Written in
// polyphase form, with j counting 8 kHz periods and xin(2j) the newer of the
// two input samples of period j:
//
//	XA = sum_{i=0..11} h_{2i}   * xin(2j - 2i)
//	XB = sum_{i=0..11} h_{2i+1} * xin(2j - 2i - 1)
//	xL(j) = XA + XB,  xH(j) = XA - XB
//
// The receive QMF interpolates the two reconstructed bands back to 16 kHz
// with aliasing cancellation; with xd = rL - rH and xs = rL + rH:
//
//	XOUT1 = sum_{i=0..11} h_{2i}   * xd(j - i)     first output sample of period j
//	XOUT2 = sum_{i=0..11} h_{2i+1} * xs(j - i)     second output sample of period j
//
// (both times 2, the interpolation gain). The coefficients carry a 2^13
// scale; with 16-bit PCM (see the package comment) the transmit side shifts
// by 14 and the receive side by 11 (13 - 1 for the gain of 2, - 1 more to
// turn the 15-bit sub-band range back into 16-bit PCM).

const (
	qmfTaps  = 12 // taps per polyphase branch
	txQMFShr = 14
	rxQMFShr = 11
)

// history is a delay line of the last qmfTaps values of one polyphase
// branch. Each value is stored twice, qmfTaps apart, so that the window of
// the most recent values is always the contiguous slice v[pos:pos+qmfTaps],
// newest first, without shifting memory on every push.
type history struct {
	v   [2 * qmfTaps]int32
	pos int
}

// push makes x the newest value and returns the window, newest first:
// w[i] is the value pushed i periods ago.
func (h *history) push(x int32) *[qmfTaps]int32 {
	h.pos--
	if h.pos < 0 {
		h.pos = qmfTaps - 1
	}
	h.v[h.pos] = x
	h.v[h.pos+qmfTaps] = x
	return (*[qmfTaps]int32)(h.v[h.pos : h.pos+qmfTaps])
}

// Polyphase branches of the QMF: evenCoeffs[i] = h_{2i}, oddCoeffs[i] = h_{2i+1}.
var evenCoeffs, oddCoeffs = func() (e, o [qmfTaps]int32) {
	for i := range qmfTaps {
		e[i] = qmfCoeffs[2*i]
		o[i] = qmfCoeffs[2*i+1]
	}
	return e, o
}()

func dot(c, w *[qmfTaps]int32) int32 {
	var s int32
	for i := range qmfTaps {
		s += c[i] * w[i]
	}
	return s
}

// txQMF is the transmit (analysis) QMF.
type txQMF struct{ older, newer history }

// split takes two consecutive input samples, x0 before x1, and returns the
// lower and higher sub-band samples xL and xH for the period.
func (q *txQMF) split(x0, x1 int16) (xl, xh int32) {
	xb := dot(&oddCoeffs, q.older.push(int32(x0)))
	xa := dot(&evenCoeffs, q.newer.push(int32(x1)))
	return (xa + xb) >> txQMFShr, (xa - xb) >> txQMFShr
}

// rxQMF is the receive (synthesis) QMF.
type rxQMF struct{ diff, sum history }

// merge takes the reconstructed lower and higher sub-band samples rL and rH
// of one period and returns the two output samples, y0 before y1,
// saturated to 16 bits.
func (q *rxQMF) merge(rl, rh int32) (y0, y1 int16) {
	x0, x1 := q.mergeWide(rl, rh)
	return int16(sat16(x0)), int16(sat16(x1))
}

// mergeWide is merge before the output saturation: the filter outputs
// scaled to 16-bit PCM. Near full scale these exceed the 16-bit range when
// the filter overshoot and the coding noise add to the signal (the bound is
// 6482 * 32767 >> 11, about 3.2 times full scale).
func (q *rxQMF) mergeWide(rl, rh int32) (x0, x1 int32) {
	xout1 := dot(&evenCoeffs, q.diff.push(rl-rh))
	xout2 := dot(&oddCoeffs, q.sum.push(rl+rh))
	return xout1 >> rxQMFShr, xout2 >> rxQMFShr
}
