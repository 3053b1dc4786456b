package g722

// Decoder decodes 64 kbit/s G.722 to 16 kHz 16-bit mono PCM: two samples per
// byte. The zero value is not ready for use; call NewDecoder.
type Decoder struct {
	qmf   rxQMF
	lower band
	upper band
}

// NewDecoder returns a decoder in the Recommendation's initial state.
func NewDecoder() *Decoder {
	d := &Decoder{}
	d.Reset()
	return d
}

// Reset returns the decoder to its initial state, as if newly created.
func (d *Decoder) Reset() {
	d.qmf = rxQMF{}
	d.lower.reset(detlInit)
	d.upper.reset(dethInit)
}

// Decode decodes payload into dst, two samples for each byte, and returns
// the number of samples written: 2*len(payload), or, if dst is shorter, as
// many whole byte's worth of samples as fit (2*(len(dst)/2)); only the first
// (returned count)/2 bytes of payload are then consumed, and a last odd
// element of dst is left untouched. Every byte value is a valid code word.
// Decode does not allocate.
func (d *Decoder) Decode(dst []int16, payload []byte) int {
	n := min(len(payload), len(dst)/2)
	for k, b := range payload[:n] {
		rl := d.decodeLower(int32(b) & 0x3f)
		rh := d.decodeUpper(int32(b) >> 6)
		dst[2*k], dst[2*k+1] = d.qmf.merge(rl, rh)
	}
	return 2 * n
}

// decodeLower is the lower sub-band ADPCM decoder in mode 1: INVQBL, RECONS
// and LIMIT give the output rL, which it returns; INVQAL, LOGSCL, SCALEL and
// the predictor (block 4L) adapt exactly as in the encoder.
func (d *Decoder) decodeLower(il int32) int32 {
	st := &d.lower

	// INVQBL (mode 1): the output uses all six bits.
	//	DL = DETL * QM6(IL) >> 15;  RL = SL + DL, LIMIT to [-16384, 16383]
	dl := (st.det * qm6[il]) >> 15
	rl := min(max(st.s+dl, recMin), recMax)

	// INVQAL: the adaptation uses the four most significant bits only, as in
	// the encoder.
	ril := il >> 2
	dlt := (st.det * qm4[ril]) >> 15
	st.adaptLower(ril)
	st.predict(dlt)
	return rl
}

// decodeUpper is the higher sub-band ADPCM decoder: INVQAH, RECONS and
// LIMIT give the output rH, which it returns; LOGSCH, SCALEH and the
// predictor (block 4H) adapt exactly as in the encoder.
func (d *Decoder) decodeUpper(ih int32) int32 {
	st := &d.upper

	// INVQAH: DH = DETH * QM2(IH) >> 15;  RH = SH + DH, LIMIT.
	dh := (st.det * qm2[ih]) >> 15
	rh := min(max(st.s+dh, recMin), recMax)

	st.adaptHigher(ih)
	st.predict(dh)
	return rh
}
