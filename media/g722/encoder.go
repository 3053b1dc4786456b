package g722

// Encoder encodes 16 kHz 16-bit mono PCM to G.722 at 64 kbit/s: one byte per
// two samples. The zero value is not ready for use; call NewEncoder.
type Encoder struct {
	qmf   txQMF
	lower band
	upper band
}

// NewEncoder returns an encoder in the Recommendation's initial state.
func NewEncoder() *Encoder {
	e := &Encoder{}
	e.Reset()
	return e
}

// Reset returns the encoder to its initial state, as if newly created.
func (e *Encoder) Reset() {
	e.qmf = txQMF{}
	e.lower.reset(detlInit)
	e.upper.reset(dethInit)
}

// Encode encodes pcm into dst, one byte for each pair of samples, and
// returns the number of bytes written: len(pcm)/2, or len(dst) if dst is
// shorter, in which case only the first 2*len(dst) samples are consumed.
// A trailing odd sample is ignored (not buffered): pass an even number of
// samples per call, as every G.722 frame size is. Encode does not allocate.
func (e *Encoder) Encode(dst []byte, pcm []int16) int {
	n := min(len(pcm)/2, len(dst))
	for k := range n {
		xl, xh := e.qmf.split(pcm[2*k], pcm[2*k+1])
		il := e.encodeLower(xl)
		ih := e.encodeUpper(xh)
		dst[k] = byte(ih<<6 | il)
	}
	return n
}

// encodeLower is the lower sub-band ADPCM encoder (blocks 1L
// SUBTRA, 2L QUANTL, 3L INVQAL/LOGSCL/SCALEL, 4L adaptive predictor).
func (e *Encoder) encodeLower(xl int32) int32 {
	st := &e.lower

	// SUBTRA: el = xL - sL
	el := sat16(xl - st.s)

	// QUANTL: find the interval mil (1..30) of the 6-bit quantiser holding
	// |el|, the smallest mil with |el| < (Q6(mil) * DETL) >> 12, or 30 if
	// there is none. The levels increase with mil, so a binary search finds
	// the same interval as the Recommendation's sequential comparison.
	wd := magnitude(el)
	lo, hi := int32(1), int32(30)
	for lo < hi {
		mid := (lo + hi) / 2
		if wd < (q6[mid]*st.det)>>12 {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	var il int32
	if el < 0 {
		il = iln[lo]
	} else {
		il = ilp[lo]
	}

	// INVQAL: the 4-bit quantised difference that drives the adaptation.
	//	RIL = IL >> 2;  DLT = DETL * QM4(RIL) >> 15
	ril := il >> 2
	dlt := (st.det * qm4[ril]) >> 15

	// LOGSCL, SCALEL: next scale factor.
	st.adaptLower(ril)
	// Block 4L: predictor update and next prediction.
	st.predict(dlt)
	return il
}

// encodeUpper is the higher sub-band ADPCM encoder (blocks 1H
// SUBTRA, 2H QUANTH, 3H INVQAH/LOGSCH/SCALEH, 4H adaptive predictor).
func (e *Encoder) encodeUpper(xh int32) int32 {
	st := &e.upper

	// SUBTRA: eh = xH - sH
	eh := sat16(xh - st.s)

	// QUANTH: mih = 2 if |eh| >= (Q2 * DETH) >> 12, else 1.
	mih := 1
	if magnitude(eh) >= (q2*st.det)>>12 {
		mih = 2
	}
	var ih int32
	if eh < 0 {
		ih = ihn[mih]
	} else {
		ih = ihp[mih]
	}

	// INVQAH: DH = DETH * QM2(IH) >> 15
	dh := (st.det * qm2[ih]) >> 15

	// LOGSCH, SCALEH, then block 4H.
	st.adaptHigher(ih)
	st.predict(dh)
	return ih
}
