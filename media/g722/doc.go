// Package g722 implements ITU-T G.722 sub-band ADPCM (SB-ADPCM) at
// 64 kbit/s (mode 1) in pure Go.
//
// The codec follows the fixed-point description of ITU-T G.722 block by
// block; the Recommendation's block names (SUBTRA, QUANTL, INVQAL, LOGSCL,
// SCALEL, UPPOL1, ...) appear in comments next to the code implementing them.
//
//	Encoder:
//	            +-----------+  xL  +-----------------+  IL, 6 bits
//	xin ------->| transmit  |----->| lower sub-band  |-----------+
//	16 kHz      | QMF       |      | ADPCM encoder   |           v
//	            | 24 taps,  |  xH  +-----------------+  IH     +-----+
//	            | 2:1       |----->| higher sub-band |-------->| MUX |--> I, 8 bits
//	            +-----------+      | ADPCM encoder   | 2 bits  +-----+    at 8 kHz
//	                               +-----------------+
//	Decoder:
//	            +-------+  IL  +-----------------+  rL  +-----------+
//	I --------->| DEMUX |----->| lower sub-band  |----->| receive   |
//	            |       |  IH  | ADPCM decoder   |  rH  | QMF       |--> xout
//	            |       |----->| higher sub-band |----->| 24 taps,  |    16 kHz
//	            +-------+      | ADPCM decoder   |      | 1:2       |
//	                           +-----------------+      +-----------+
//
// A G.722 byte is I = IH<<6 | IL: the two high bits carry the higher
// sub-band, the six low bits the lower sub-band. One byte encodes two
// consecutive 16 kHz samples.
//
// # PCM scaling
//
// The Recommendation specifies 14-bit uniform PCM at the codec interface,
// and 15-bit sub-band signals inside the ADPCM coders. This package reads and
// writes 16-bit PCM instead: the transmit QMF shifts its accumulators two
// bits further right, and the receive QMF keeps two more bits, so the
// sub-band signals keep the Recommendation's 15-bit range and a full-scale
// 16-bit input is a full-scale G.722 input. This is also the convention of
// the widely deployed spandsp library, whose 64 kbit/s code words and output
// samples this package reproduces bit for bit (see the spandsp build-tagged
// test), with one deliberate exception: where the receive QMF output exceeds
// the 16-bit range (it can near full scale, by up to about 3.2 times),
// spandsp 0.0.6 truncates it to int16 and so wraps around to the opposite
// extreme, an audible click; this package saturates it.
//
// The ITU digital test sequences, which exercise the ADPCM coders with the
// QMF bypassed, were not available when this package was written; its
// conformance evidence is the bit-exact agreement with spandsp.
//
// Only mode 1 (64 kbit/s, all six lower sub-band bits used) is implemented.
// Modes 2 and 3 (56 and 48 kbit/s) differ only in the lower sub-band inverse
// quantiser of the decoder (INVQBL); RTP G.722 (RFC 3551) always uses mode 1.
//
// Encoder and Decoder are not safe for concurrent use; one of each per
// stream. Neither allocates after construction.
package g722
