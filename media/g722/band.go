package g722

// band is the state of one sub-band ADPCM coder: the adaptive predictor
// (ITU-T G.722 blocks 4L and 4H, identical for both sub-bands) and the
// quantiser scale factor adaptation (blocks 3L and 3H). Encoder and decoder run the same adaptation on the
// same quantised difference signal, so their band states stay equal as long
// as the code words arrive unaltered.
//
// The predictor is a pole-zero filter, two poles and six zeros:
//
//	s(j)  = sp(j) + sz(j)                                 PREDIC
//	sp(j) = a1 * r(j-1) + a2 * r(j-2)                     FILTEP
//	sz(j) = sum_{i=1..6} b_i * d(j-i)                     FILTEZ
//	r(j)  = s(j) + d(j)                                   RECONS
//	p(j)  = sz(j) + d(j)                                  PARREC
//
// with the coefficients updated by the sign-sign algorithms UPPOL1, UPPOL2
// and UPZERO. All quantities are 16-bit two's complement fixed point with
// the Recommendation's scaling; products of a coefficient and a signal are
// taken as (x*y) >> 15.
type band struct {
	s  int32 // predicted signal s(j), SL or SH
	sz int32 // zero-section output sz(j), SZL or SZH

	r1, r2 int32    // reconstructed signal r(j-1), r(j-2): RLT1, RLT2 / RH1, RH2
	p1, p2 int32    // partially reconstructed signal p(j-1), p(j-2): PLT1, PLT2 / PH1, PH2
	d      [6]int32 // quantised difference d(j-1)..d(j-6): DLTi / DHi
	a1, a2 int32    // pole coefficients: AL1, AL2 / AH1, AH2
	b      [6]int32 // zero coefficients b1..b6: BLi / BHi

	nb  int32 // log scale factor: NBL / NBH
	det int32 // scale factor: DETL / DETH
}

// Initial scale factors (the value SCALEL and SCALEH give for nb == 0).
const (
	detlInit = 32
	dethInit = 8
)

// reset puts the band in the Recommendation's initial state: every delay
// line and coefficient zero, the scale factor at its minimum.
func (st *band) reset(det int32) {
	*st = band{det: det}
}

// sat16 limits x to the 16-bit two's complement range, as the saturating
// additions of the Recommendation do.
func sat16(x int32) int32 {
	if x > 32767 {
		return 32767
	}
	if x < -32768 {
		return -32768
	}
	return x
}

// signBit returns the sign bit of a 16-bit quantity: 0 for x >= 0, -1 for
// x < 0. Note that zero counts as positive, as in the Recommendation.
func signBit(x int32) int32 { return x >> 15 }

// magnitude returns the one's complement magnitude the quantisers compare
// with their decision levels (MAGNITUDE in QUANTL and QUANTH): x for
// x >= 0 and -(x+1) otherwise.
func magnitude(x int32) int32 {
	if x < 0 {
		return -(x + 1)
	}
	return x
}

// scaleFactor converts a log scale factor to the linear scale factor
// (SCALEL and SCALEH):
//
//	WD1 = (NB >> 6) & 31           five fractional bits of the logarithm
//	WD2 = shift - (NB >> 11)       integer part; shift is 8 (lower), 10 (higher)
//	WD3 = ILB(WD1) >> WD2          (a left shift if WD2 < 0)
//	DET = WD3 << 2
func scaleFactor(nb, shift int32) int32 {
	mant := ilb[(nb>>6)&31]
	wd2 := shift - (nb >> 11)
	if wd2 < 0 {
		mant <<= uint(-wd2)
	} else {
		mant >>= uint(wd2)
	}
	return mant << 2
}

// adaptLower runs LOGSCL and SCALEL for the lower sub-band, given the 4-bit
// code word ril = IL >> 2:
//
//	NBPL = NBL * 32512 >> 15 + WL(RIL42)    leakage 127/128, then 0 <= NBPL <= 18432
//	DETL = SCALEL(NBPL)
func (st *band) adaptLower(ril int32) {
	nb := (st.nb*32512)>>15 + wl[rl42[ril]]
	nb = min(max(nb, 0), nblMax)
	st.nb = nb
	st.det = scaleFactor(nb, 8)
}

// adaptHigher runs LOGSCH and SCALEH for the higher sub-band, given IH:
//
//	NBPH = NBH * 32512 >> 15 + WH(RH2)      then 0 <= NBPH <= 22528
//	DETH = SCALEH(NBPH)
func (st *band) adaptHigher(ih int32) {
	nb := (st.nb*32512)>>15 + wh[rh2[ih]]
	nb = min(max(nb, 0), nbhMax)
	st.nb = nb
	st.det = scaleFactor(nb, 10)
}

// predict updates the adaptive predictor with the quantised difference
// signal d = d(j) (DLT or DH) and computes the prediction s(j+1) for the
// next sample (block 4L/4H: PARREC, RECONS, UPPOL2, UPPOL1, UPZERO, DELAYA,
// FILTEP, FILTEZ, PREDIC, in that order).
func (st *band) predict(d int32) {
	// PARREC: p(j) = d(j) + sz(j)
	p := sat16(d + st.sz)
	// RECONS: r(j) = s(j) + d(j)
	r := sat16(st.s + d)

	sg0, sg1, sg2 := signBit(p), signBit(st.p1), signBit(st.p2)

	// UPPOL2: second pole coefficient.
	//
	//	WD1 = 4 * a1 (saturated)
	//	WD2 = -WD1 if sg(p) == sg(p1), else WD1;  WD2 >>= 7
	//	WD3 = 128 if sg(p) == sg(p2), else -128
	//	WD5 = a2 * 32512 >> 15                   leakage 127/128
	//	a2' = WD2 + WD3 + WD5,  limited to |a2'| <= 12288
	wd1 := sat16(st.a1 << 2)
	wd2 := wd1
	if sg0 == sg1 {
		wd2 = sat16(-wd1)
	}
	wd2 >>= 7
	wd3 := int32(-128)
	if sg0 == sg2 {
		wd3 = 128
	}
	a2 := wd2 + wd3 + (st.a2*32512)>>15
	a2 = min(max(a2, -12288), 12288)

	// UPPOL1: first pole coefficient.
	//
	//	WD1 = 192 if sg(p) == sg(p1), else -192
	//	WD2 = a1 * 32640 >> 15                   leakage 255/256
	//	a1' = WD1 + WD2,  limited to |a1'| <= 15360 - a2'
	wd1 = -192
	if sg0 == sg1 {
		wd1 = 192
	}
	a1 := sat16(wd1 + (st.a1*32640)>>15)
	lim := sat16(15360 - a2)
	a1 = min(max(a1, -lim), lim)

	// UPZERO: zero coefficients.
	//
	//	WD1 = 0 if d(j) == 0, else 128
	//	b_i' = b_i * 32640 >> 15 + (WD1 if sg(d(j)) == sg(d(j-i)), else -WD1)
	step := int32(128)
	if d == 0 {
		step = 0
	}
	sgd := signBit(d)
	for i := range st.b {
		wd := -step
		if signBit(st.d[i]) == sgd {
			wd = step
		}
		st.b[i] = sat16(wd + (st.b[i]*32640)>>15)
	}

	// DELAYA: shift the delay lines.
	copy(st.d[1:], st.d[:5])
	st.d[0] = d
	st.p2, st.p1 = st.p1, p
	st.r2, st.r1 = st.r1, r
	st.a1, st.a2 = a1, a2

	// FILTEP: sp = a1 * 2r(j) >> 15 + a2 * 2r(j-1) >> 15
	sp := (st.a1*sat16(st.r1+st.r1))>>15 + (st.a2*sat16(st.r2+st.r2))>>15
	sp = sat16(sp)

	// FILTEZ: sz = sum b_i * 2d(j+1-i) >> 15
	var sz int32
	for i := range st.b {
		sz += (st.b[i] * sat16(st.d[i]+st.d[i])) >> 15
	}
	st.sz = sat16(sz)

	// PREDIC: s = sp + sz
	st.s = sat16(sp + st.sz)
}
