package g722

// Constant tables of ITU-T G.722: the QMF coefficients (scaled by 2^13),
// the quantiser decision levels and code word maps, the inverse quantiser
// outputs, the log scale factor multipliers and the inverse logarithm table.
// Names follow the Recommendation.

// qmfCoeffs holds the 24 coefficients h0..h23 of the transmit and receive
// quadrature mirror filters, scaled by 2^13 (their sum is 8192). The filter
// is linear phase: h[i] == h[23-i].
var qmfCoeffs = [24]int32{
	3, -11, -11, 53, 12, -156, 32, 362, -210, -805, 951, 3876,
	3876, 951, -805, -210, 362, 32, -156, 12, 53, -11, -11, 3,
}

// q6 holds the normalised decision levels of the 6-bit lower sub-band
// quantiser QUANTL, indexed by mil = 1..29 (index 0 is unused). A level is
// scaled to the signal by (q6[mil]*DETL) >> 12.
var q6 = [30]int32{
	0, 35, 72, 110, 150, 190, 233, 276, 323, 370,
	422, 473, 530, 587, 650, 714, 786, 858, 940, 1023,
	1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919,
}

// iln and ilp map the quantiser interval mil = 1..30 to the 6-bit code word
// IL for a negative and a non-negative difference signal (QUANTL). Code
// words 0..3 are never produced.
var iln = [31]int32{
	0, 63, 62, 31, 30, 29, 28, 27, 26, 25,
	24, 23, 22, 21, 20, 19, 18, 17, 16, 15,
	14, 13, 12, 11, 10, 9, 8, 7, 6, 5,
	4,
}

var ilp = [31]int32{
	0, 61, 60, 59, 58, 57, 56, 55, 54, 53,
	52, 51, 50, 49, 48, 47, 46, 45, 44, 43,
	42, 41, 40, 39, 38, 37, 36, 35, 34, 33,
	32,
}

// qm4 is the 4-bit lower sub-band inverse quantiser INVQAL, indexed by the
// four most significant bits of IL. Its output drives the predictor and scale
// factor adaptation in both encoder and decoder, so that adaptation is the
// same at every bit rate (embedded coding).
var qm4 = [16]int32{
	0, -20456, -12896, -8968, -6288, -4240, -2584, -1200,
	20456, 12896, 8968, 6288, 4240, 2584, 1200, 0,
}

// qm6 is the 6-bit lower sub-band inverse quantiser INVQBL for mode 1
// (64 kbit/s), indexed by IL. The decoder uses it to reconstruct the lower
// sub-band signal it outputs.
var qm6 = [64]int32{
	-136, -136, -136, -136, -24808, -21904, -19008, -16704,
	-14984, -13512, -12280, -11192, -10232, -9360, -8576, -7856,
	-7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576,
	-3168, -2776, -2400, -2032, -1688, -1360, -1040, -728,
	24808, 21904, 19008, 16704, 14984, 13512, 12280, 11192,
	10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456,
	4944, 4464, 4008, 3576, 3168, 2776, 2400, 2032,
	1688, 1360, 1040, 728, 432, 136, -432, -136,
}

// rl42 maps the 4-bit code word to its magnitude class for LOGSCL, and wl
// is the lower sub-band log scale factor multiplier indexed by that class.
var rl42 = [16]int32{0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0}

var wl = [8]int32{-60, -30, 58, 172, 334, 538, 1198, 3042}

// ilb is the inverse logarithm table of SCALEL and SCALEH:
// ilb[i] = round(2048 * 2^(i/32)), the mantissa of the linear scale factor.
var ilb = [32]int32{
	2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383,
	2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834,
	2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371,
	3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008,
}

// q2 is the single normalised decision level of the 2-bit higher sub-band
// quantiser QUANTH; ihn and ihp map its interval mih = 1..2 to the code word
// IH for a negative and a non-negative difference signal.
const q2 = 564

var ihn = [3]int32{0, 1, 0}

var ihp = [3]int32{0, 3, 2}

// qm2 is the higher sub-band inverse quantiser INVQAH, indexed by IH.
var qm2 = [4]int32{-7408, -1616, 7408, 1616}

// rh2 maps IH to its magnitude class for LOGSCH, and wh is the higher
// sub-band log scale factor multiplier indexed by that class.
var rh2 = [4]int32{2, 1, 2, 1}

var wh = [3]int32{0, -214, 798}

// Limits of the log scale factors (LOGSCL, LOGSCH) and of the reconstructed
// signal in the decoder (LIMIT).
const (
	nblMax = 18432
	nbhMax = 22528
	recMax = 16383
	recMin = -16384
)
