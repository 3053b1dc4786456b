package dtmf

import (
	"errors"
	"math"
	"math/cmplx"
	"sync"
	"time"
)

// ErrInbandRate is returned by [NewInbandDetector] for a sample rate other
// than 8000 or 16000 Hz.
var ErrInbandRate = errors.New("dtmf: in-band detection needs 8000 or 16000 Hz PCM")

// Limits of the in-band detector. Levels are per tone, in dBm0, where 0 dBm0
// is a sine of peak [InbandDBm0Peak]: G.711 μ-law overloads at +3.17 dBm0,
// taken as the 16-bit full scale.
const (
	// InbandDBm0Peak is the peak amplitude, in 16-bit PCM, of a 0 dBm0 sine.
	InbandDBm0Peak = 22750

	// InbandMinLevel is the weakest tone accepted, in dBm0. Tones at
	// -30 dBm0 and above are detected, tones at -40 dBm0 and below are not.
	InbandMinLevel = -35

	// InbandNormalTwist is how much weaker (dB) the high-group tone may be
	// than the low-group tone, the usual case after a line's high-frequency
	// loss; InbandReverseTwist is how much stronger it may be.
	InbandNormalTwist  = 8
	InbandReverseTwist = 4

	// InbandMaxDeviation is the frequency deviation, relative to the nominal
	// DTMF frequency, at which a tone stops being accepted: halfway between
	// the ±1.5% that must be accepted and the ±3.5% that must be rejected
	// (ITU-T Q.24).
	InbandMaxDeviation = 0.025

	// InbandMinDuration is the shortest tone reported, as measured. Tones of
	// 40 ms and more are reported, tones of 30 ms and less are not: tone
	// edges are measured to within about 3 ms (5 ms for *, whose tones beat
	// slowest), and the threshold sits between.
	InbandMinDuration = 34 * time.Millisecond

	// InbandMinGap is the shortest interruption that separates two presses
	// of the same key, as measured. A gap of 40 ms or more gives two digits;
	// a gap of 20 ms or less is bridged and gives one.
	InbandMinGap = 30 * time.Millisecond

	// InbandMinCycle is the shortest time between two reported digits:
	// 40 ms of tone plus 40 ms of pause, the shortest tone and pause the
	// detector resolves. A digit completing sooner after the previous one
	// is held back until the cycle has passed (a few milliseconds for
	// 40/40 ms dialling, whose measured edges jitter); one completing while
	// another is still held back is dropped. This bounds the digit rate at
	// 12.5 per second whatever the input.
	InbandMinCycle = 80 * time.Millisecond
)

// Detection thresholds that are not part of the documented interface.
const (
	// inbandDominance is the share of the block's (windowed) energy that the
	// two tones must hold together. Pure DTMF with 20 dB SNR gives 0.99, a
	// block with 30 samples missing at an edge about 0.85, and 10 dB SNR
	// 0.9; the 210 s of espeak-ng speech of the tests peak at 0.68.
	inbandDominance = 0.75
	// inbandHarmonic is the largest power at twice a tone's frequency,
	// relative to the tone. Voiced speech puts a tone's second harmonic
	// there; a DTMF generator does not.
	inbandHarmonicDB = -15
	// inbandQuarter is the smallest energy of a quarter block relative to
	// the strongest quarter: a block containing a tone edge or a pause
	// fails, which makes tone durations and pauses measurable.
	inbandQuarter = 0.25
)

// The DTMF frequencies (Hz), low group then high group, and the keypad,
// row-major.
var inbandFreqs = [8]float64{697, 770, 852, 941, 1209, 1336, 1477, 1633}

const inbandKeys = "123A456B789C*0#D"

// inbandParams holds the tables shared by all detectors of one sample rate.
type inbandParams struct {
	rate int
	n    int // block length: 20 ms
	hop  int // block advance and quarter length: 5 ms
	ns   int64

	window []float64  // Hann, periodic
	nom    [8]float64 // Goertzel coefficients (2cos ω) at the nominal frequencies
	lo, hi [8]float64 // ... at the discriminator frequencies below and above
	harm   [8]float64 // ... at twice the nominal frequencies
	// rowHarm says for each key whether the low-group tone's second
	// harmonic is far enough from the high-group tone to be measured:
	// twice 697, 770 and 852 Hz fall within 100 Hz of 1336, 1477 or 1633 Hz.
	rowHarm [16]bool
	// ratio is the largest accepted power ratio between the two
	// discriminator bins of a tone: the ratio a pure tone at
	// InbandMaxDeviation produces.
	ratio [8]float64

	minPow    float64 // Goertzel power of a tone at InbandMinLevel
	minEnergy float64 // block energy below which no tone pair can pass
	normal    float64 // InbandNormalTwist as a power ratio
	reverse   float64 // InbandReverseTwist as a power ratio
	harmMax   float64 // inbandHarmonicDB as a power ratio
	domScale  float64 // tone power to energy-share factor, 3/n for Hann

	durMin, gapMin, hangover, cycle int64 // samples
}

const maxInbandBlock = 320 // the 20 ms block at 16000 Hz

var (
	inband8k  = sync.OnceValue(func() *inbandParams { return newInbandParams(8000) })
	inband16k = sync.OnceValue(func() *inbandParams { return newInbandParams(16000) })
)

func newInbandParams(rate int) *inbandParams {
	p := &inbandParams{
		rate: rate,
		n:    rate / 50,
		hop:  rate / 200,
		ns:   int64(time.Second) / int64(rate),
	}
	n := p.n
	p.window = make([]float64, n)
	for i := range p.window {
		p.window[i] = 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(n))
	}
	coef := func(f float64) float64 { return 2 * math.Cos(2*math.Pi*f/float64(rate)) }
	// response returns the window's power response to a complex tone df Hz
	// away from the analysis frequency.
	response := func(df float64) float64 {
		var s complex128
		for i, w := range p.window {
			s += complex(w, 0) * cmplx.Exp(complex(0, 2*math.Pi*df*float64(i)/float64(rate)))
		}
		a := cmplx.Abs(s)
		return a * a
	}
	binHz := float64(rate) / float64(n) // 50 Hz
	for k, f := range inbandFreqs {
		// Discriminator bins one bin (low group) or 3/4 bin (high group)
		// either side: the offsets that best separate ±1.5% from ±3.5%
		// within the window's main lobe for each group.
		off := binHz
		if k >= 4 {
			off = 0.75 * binHz
		}
		p.nom[k] = coef(f)
		p.lo[k] = coef(f - off)
		p.hi[k] = coef(f + off)
		p.harm[k] = coef(2 * f)
		d := InbandMaxDeviation * f
		p.ratio[k] = response(d-off) / response(d+off)
	}
	for k := range p.rowHarm {
		// 160 Hz: the window's main lobe (100 Hz) plus a high-group tone
		// deviating by up to 3.5% towards the harmonic.
		p.rowHarm[k] = math.Abs(2*inbandFreqs[k/4]-inbandFreqs[4+k%4]) >= 160
	}
	amp := InbandDBm0Peak * math.Pow(10, InbandMinLevel/20.0)
	p.minPow = amp * amp * float64(n) * float64(n) / 16 // (A·Σw/2)²
	p.minEnergy = 0.5 * amp * amp * float64(n)          // half of two tones at the minimum
	p.normal = math.Pow(10, InbandNormalTwist/10.0)
	p.reverse = math.Pow(10, InbandReverseTwist/10.0)
	p.harmMax = math.Pow(10, inbandHarmonicDB/10.0)
	p.domScale = 3 / float64(n)
	samples := func(d time.Duration) int64 { return int64(d) * int64(rate) / int64(time.Second) }
	p.durMin = samples(InbandMinDuration)
	p.gapMin = samples(InbandMinGap)
	p.cycle = samples(InbandMinCycle)
	// A segment ends once any resumption would come at least gapMin after
	// it: a resumed tone starts after the next block's start, and the
	// segment's end lies at most a block after its last passing block.
	p.hangover = p.gapMin + int64(n-p.hop)
	return p
}

// InbandDetector finds DTMF digits in the audio of one G.711 leg (or any
// 8000 or 16000 Hz linear PCM), for calls whose DTMF is not sent as RFC 4733
// events.
//
// It analyses 20 ms blocks every 5 ms. A block holds a digit when all of
// these hold:
//
//   - level: each tone is at least [InbandMinLevel];
//   - twist: the high-group tone is at most [InbandNormalTwist] dB weaker and
//     [InbandReverseTwist] dB stronger than the low-group tone;
//   - frequency: each tone is within [InbandMaxDeviation] of its nominal
//     frequency (ITU-T Q.24: ±1.5% accepted, ±3.5% rejected);
//   - talk-off: the two tones hold 75% of the block's energy, and neither has
//     a second harmonic above -15 dB (voiced speech does; the low-group
//     tone's is not checked for 2, 3, 6, B and C, where it falls next to
//     the high-group tone);
//   - steadiness: no 5 ms quarter of the block has less than a quarter of
//     the energy of the strongest, so tone edges and pauses are resolved to
//     a few milliseconds.
//
// The tones are measured with Goertzel filters on a Hann-windowed block: one
// at each nominal frequency to pick the strongest tone of each group, and two
// more either side of each chosen tone. The power ratio of those two gives
// the frequency deviation independently of level; the largest of the three
// gives the level, flat within 1.4 dB over ±3.5%.
//
// Consecutive blocks with the same digit form a tone, whose start and end
// are estimated from the energy of the edge quarters. A tone is reported
// once it has ended — after [InbandMinGap] plus 15 ms without it, or when a
// different digit has lasted [InbandMinDuration] — if it lasted at least
// InbandMinDuration. A same-digit tone resuming after a gap shorter than
// [InbandMinGap] continues the previous one (a dropout, not a new press).
// Reported digits are at least [InbandMinCycle] apart.
//
// The reported [Digit] has the tone's measured duration and the time of its
// first sample, derived from the now passed to [InbandDetector.Process]
// by counting samples. A digit is reported 45-50 ms after its tone ends, so
// a tone still on when the leg stops sending audio is not reported. Between
// two digits sent without a pause the boundary is not visible in the energy,
// and their durations are only known to about ±15 ms.
//
// The zero InbandDetector is not usable; create one with [NewInbandDetector].
// It is not safe for concurrent use.
type InbandDetector struct {
	p *inbandParams

	buf  [maxInbandBlock]float64 // the current block, oldest sample first
	blk  [maxInbandBlock]float64 // the windowed block
	fill int                     // samples in buf
	pos  int64                   // samples consumed since creation or Reset

	// The Process call in progress: its now and the position of its first
	// sample, to turn sample positions into times.
	callNow time.Time
	callPos int64

	cur  inbandTone // the current tone
	cand inbandTone // a different digit that started after cur's last block

	pending  Digit // a digit waiting for InbandMinCycle; Rune 0 if none
	nextEmit int64 // earliest position at which a digit may be returned
}

// inbandTone is a run of blocks holding the same digit.
type inbandTone struct {
	key   int   // index into inbandKeys; -1 if none
	start int64 // estimated first sample
	end   int64 // estimated end (exclusive), as of the last block
	last  int64 // first sample of the last block holding the digit
	at    time.Time
}

// NewInbandDetector returns a detector for linear PCM at rate Hz: 8000 (G.711)
// or 16000. Other rates return [ErrInbandRate].
func NewInbandDetector(rate int) (*InbandDetector, error) {
	var p *inbandParams
	switch rate {
	case 8000:
		p = inband8k()
	case 16000:
		p = inband16k()
	default:
		return nil, ErrInbandRate
	}
	d := &InbandDetector{p: p}
	d.Reset()
	return d, nil
}

// Reset forgets all audio and any tone in progress or digit not yet
// returned, as if the detector were new.
func (d *InbandDetector) Reset() {
	*d = InbandDetector{p: d.p, nextEmit: d.p.cycle}
	d.cur.key = -1
	d.cand.key = -1
}

// Process consumes the next samples of the leg, in chunks of any size, and
// appends the digits that completed to dst, each exactly once. now is the
// time of the first sample of pcm. Process does not allocate when dst has
// room for the digits (one per [InbandMinCycle] of audio at most).
func (d *InbandDetector) Process(dst []Digit, pcm []int16, now time.Time) []Digit {
	d.callNow, d.callPos = now, d.pos
	n, hop := d.p.n, d.p.hop
	for len(pcm) > 0 {
		k := min(len(pcm), n-d.fill)
		buf := d.buf[d.fill : d.fill+k]
		for i, s := range pcm[:k] {
			buf[i] = float64(s)
		}
		d.fill += k
		d.pos += int64(k)
		pcm = pcm[k:]
		if d.fill == n {
			dst = d.step(dst)
			copy(d.buf[:n-hop], d.buf[hop:n])
			d.fill = n - hop
		}
	}
	return dst
}

// step analyses the block in buf and advances the tone tracking.
func (d *InbandDetector) step(dst []Digit) []Digit {
	p := d.p
	b := d.pos - int64(p.n) // first sample of the block
	k, start, end := d.classify(b)
	if k >= 0 {
		switch {
		case d.cur.key < 0:
			d.cur = d.newTone(k, start, end, b)
		case k == d.cur.key:
			if d.resumes(&d.cur, start, b) {
				d.finish(&d.cur)
				d.cur = d.newTone(k, start, end, b)
			} else {
				d.cur.last, d.cur.end = b, end
			}
			// A different digit in between was a glitch.
			d.cand.key = -1
		default:
			if d.cand.key == k && !d.resumes(&d.cand, start, b) {
				d.cand.last, d.cand.end = b, end
			} else {
				d.cand = d.newTone(k, start, end, b)
			}
			if d.cand.end-d.cand.start >= p.durMin {
				d.finish(&d.cur)
				d.cur = d.cand
				d.cand.key = -1
			}
		}
	}
	if d.cur.key >= 0 && b-d.cur.last >= p.hangover {
		d.finish(&d.cur)
		d.cur = d.cand
		d.cand.key = -1
	}
	if d.pending.Rune != 0 && d.pos >= d.nextEmit {
		dst = append(dst, d.pending)
		d.pending = Digit{}
		d.nextEmit = d.pos + p.cycle
	}
	return dst
}

// resumes reports whether a block at b whose tone starts at start begins a
// new press of t's digit rather than continuing t: blocks without the digit
// came in between, and the measured gap is at least InbandMinGap.
func (d *InbandDetector) resumes(t *inbandTone, start, b int64) bool {
	return b > t.last+int64(d.p.hop) && start-t.end >= d.p.gapMin
}

func (d *InbandDetector) newTone(k int, start, end, b int64) inbandTone {
	return inbandTone{
		key:   k,
		start: start,
		end:   end,
		last:  b,
		at:    d.callNow.Add(time.Duration((start - d.callPos) * d.p.ns)),
	}
}

// finish ends tone t, queueing its digit if it lasted long enough.
func (d *InbandDetector) finish(t *inbandTone) {
	if t.key >= 0 && t.end-t.start >= d.p.durMin && d.pending.Rune == 0 {
		d.pending = Digit{
			Rune:     rune(inbandKeys[t.key]),
			Duration: time.Duration((t.end - t.start) * d.p.ns),
			Start:    t.at,
		}
	}
	t.key = -1
}

// classify returns the digit the block in buf holds (an index into
// inbandKeys, or -1), and the estimated start and end of its tone: b0 is the
// position of the block's first sample.
func (d *InbandDetector) classify(b0 int64) (key int, start, end int64) {
	p := d.p
	n, hop := p.n, p.hop
	x := d.buf[:n]

	// Energy per quarter, without the block's DC offset; reject quiet and
	// unsteady blocks cheaply.
	var q, sum [4]float64
	for j := range q {
		var s, e float64
		for _, v := range x[j*hop : (j+1)*hop] {
			s += v
			e += v * v
		}
		sum[j], q[j] = s, e
	}
	dc := (sum[0] + sum[1] + sum[2] + sum[3]) / float64(n)
	for j := range q {
		q[j] = max(0, q[j]-dc*(2*sum[j]-dc*float64(hop)))
	}
	total := q[0] + q[1] + q[2] + q[3]
	if total < p.minEnergy {
		return -1, 0, 0
	}
	qmax := max(q[0], q[1], q[2], q[3])
	if min(q[0], q[1], q[2], q[3]) < inbandQuarter*qmax {
		return -1, 0, 0
	}

	// Windowed block, its energy, and the nominal bins.
	y := d.blk[:n]
	w := p.window[:n]
	var ew float64
	for i, v := range x {
		v = (v - dc) * w[i]
		y[i] = v
		ew += v * v
	}
	lowP := goertzel4(y, p.nom[0], p.nom[1], p.nom[2], p.nom[3])
	highP := goertzel4(y, p.nom[4], p.nom[5], p.nom[6], p.nom[7])
	r, c := argmax4(lowP), argmax4(highP)
	pr, pc := lowP[r], highP[c]
	c += 4
	// The nominal bins lose up to 8 dB at ±3.5%: screen with slack before
	// measuring properly.
	if pr < p.minPow/8 || pc < p.minPow/8 || (pr+pc)*p.domScale < 0.5*inbandDominance*ew {
		return -1, 0, 0
	}

	disc := goertzel4(y, p.lo[r], p.hi[r], p.lo[c], p.hi[c])
	rlo, rhi, clo, chi := disc[0], disc[1], disc[2], disc[3]
	pr = max(pr, rlo, rhi)
	pc = max(pc, clo, chi)
	switch {
	case pr < p.minPow || pc < p.minPow:
		return -1, 0, 0
	case pr > pc*p.normal || pc > pr*p.reverse:
		return -1, 0, 0
	case (pr+pc)*p.domScale < inbandDominance*ew:
		return -1, 0, 0
	case rhi > rlo*p.ratio[r] || rlo > rhi*p.ratio[r]:
		return -1, 0, 0
	case chi > clo*p.ratio[c] || clo > chi*p.ratio[c]:
		return -1, 0, 0
	}
	h := goertzel4(y, p.harm[r], p.harm[c], p.harm[r], p.harm[c])
	key = r*4 + (c - 4)
	if (p.rowHarm[key] && h[0] > pr*p.harmMax) || h[1] > pc*p.harmMax {
		return -1, 0, 0
	}

	// The tone's edges: an edge quarter with a fraction of the energy of the
	// other three holds that fraction of tone.
	fh := float64(hop)
	startFrac := min(1, 3*q[0]/(q[1]+q[2]+q[3]))
	endFrac := min(1, 3*q[3]/(q[0]+q[1]+q[2]))
	start = b0 + int64(math.Round(fh*(1-startFrac)))
	end = b0 + int64(n) - int64(math.Round(fh*(1-endFrac)))
	return key, start, end
}

func argmax4(v [4]float64) int {
	k := 0
	for i := 1; i < 4; i++ {
		if v[i] > v[k] {
			k = i
		}
	}
	return k
}

// goertzel4 returns the squared magnitude of the DFT of x at the four
// frequencies whose Goertzel coefficients (2cos ω) are c0-c3. The four
// filters run in one loop so their recursions overlap in the pipeline.
func goertzel4(x []float64, c0, c1, c2, c3 float64) [4]float64 {
	var a1, a2, b1, b2, e1, e2, f1, f2 float64
	for _, v := range x {
		// (v-s2) does not wait for the previous step's product.
		a1, a2 = (v-a2)+c0*a1, a1
		b1, b2 = (v-b2)+c1*b1, b1
		e1, e2 = (v-e2)+c2*e1, e1
		f1, f2 = (v-f2)+c3*f1, f1
	}
	return [4]float64{
		a1*a1 + a2*a2 - c0*a1*a2,
		b1*b1 + b2*b2 - c1*b1*b2,
		e1*e1 + e2*e2 - c2*e1*e2,
		f1*f1 + f2*f2 - c3*f1*f2,
	}
}
