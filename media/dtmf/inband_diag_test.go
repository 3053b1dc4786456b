package dtmf

import (
	"fmt"
	"testing"
	"time"
)

func TestInbandDiag(t *testing.T) {
	type corner struct {
		name           string
		dl, dh, tw, lv float64
	}
	corners := []corner{
		{"nominal", 0, 0, 0, -10},
		{"+1.5", 0.015, 0.015, 0, -10},
		{"-1.5", -0.015, -0.015, 0, -10},
		{"+-1.5", 0.015, -0.015, 0, -10},
		{"tw-6", 0, 0, -6, -10},
		{"tw+2", 0, 0, 2, -10},
		{"-30dBm0", 0, 0, 0, -30},
		{"+1.5 tw-6 -25", 0.015, 0.015, -6, -22},
		{"-1.5 tw+2 -25", -0.015, -0.015, 2, -27},
	}
	for _, c := range corners {
		for _, d := range []int{40, 30} {
			var lo, hi time.Duration = time.Hour, 0
			miss := 0
			for _, codec := range ibCodecs {
				for i, k := range ibAllKeys {
					for lead := 0; lead < 40; lead += 3 {
						s := ibDefault()
						s.devLow, s.devHigh, s.twist, s.level = c.dl, c.dh, c.tw, c.lv
						s.seed, s.lead = uint64(i*100+lead), lead
						pcm := s.synth(tone(k, d))
						codec.f(pcm)
						det, _ := NewInbandDetector(8000)
						pp := *det.p
						pp.durMin = 0
						det.p = &pp
						det.Reset()
						var got []Digit
						for pos := 0; pos < len(pcm); pos += 160 {
							got = det.Process(got, pcm[pos:min(pos+160, len(pcm))], t0)
						}
						if len(got) != 1 {
							miss++
							continue
						}
						lo = time.Duration(minI(int64(lo), int64(got[0].Duration)))
						hi = time.Duration(maxI(int64(hi), int64(got[0].Duration)))
					}
				}
			}
			fmt.Printf("%-16s %d ms: detected range [%v, %v], not detected %d/%d\n", c.name, d, lo, hi, miss, 3*16*14)
		}
	}
}

func minI(a, b int64) int64 { return min(a, b) }
func maxI(a, b int64) int64 { return max(a, b) }

// diagBlock recomputes classify's metrics; returns the failing reasons.
func diagBlock(d *InbandDetector) (reasons []string, rho float64, key int) {
	p := d.p
	n, hop := p.n, p.hop
	x := d.buf[:n]
	var q [4]float64
	for j := range q {
		for _, v := range x[j*hop : (j+1)*hop] {
			q[j] += v * v
		}
	}
	total := q[0] + q[1] + q[2] + q[3]
	if total < p.minEnergy {
		return []string{"quiet"}, 0, -1
	}
	if min(q[0], q[1], q[2], q[3]) < inbandQuarter*max(q[0], q[1], q[2], q[3]) {
		reasons = append(reasons, "quarter")
	}
	y := d.blk[:n]
	var ew float64
	for i, v := range x {
		v *= p.window[i]
		y[i] = v
		ew += v * v
	}
	lowP := goertzel4(y, p.nom[0], p.nom[1], p.nom[2], p.nom[3])
	highP := goertzel4(y, p.nom[4], p.nom[5], p.nom[6], p.nom[7])
	r, c := argmax4(lowP), argmax4(highP)
	pr, pc := lowP[r], highP[c]
	c += 4
	disc := goertzel4(y, p.lo[r], p.hi[r], p.lo[c], p.hi[c])
	pr = max(pr, disc[0], disc[1])
	pc = max(pc, disc[2], disc[3])
	key = r*4 + c - 4
	rho = (pr + pc) * p.domScale / ew
	if pr < p.minPow || pc < p.minPow {
		reasons = append(reasons, "level")
	}
	if pr > pc*p.normal || pc > pr*p.reverse {
		reasons = append(reasons, "twist")
	}
	if rho < inbandDominance {
		reasons = append(reasons, fmt.Sprintf("dom%.2f", rho))
	}
	if disc[1] > disc[0]*p.ratio[r] || disc[0] > disc[1]*p.ratio[r] {
		reasons = append(reasons, "freqrow")
	}
	if disc[3] > disc[2]*p.ratio[c] || disc[2] > disc[3]*p.ratio[c] {
		reasons = append(reasons, "freqcol")
	}
	h := goertzel4(y, p.harm[r], p.harm[c], p.harm[r], p.harm[c])
	if p.rowHarm[key] && h[0] > pr*p.harmMax {
		reasons = append(reasons, "harmrow")
	}
	if h[1] > pc*p.harmMax {
		reasons = append(reasons, "harmcol")
	}
	return reasons, rho, key
}

func TestInbandDiagEdges(t *testing.T) {
	hist := map[string]int{}
	for _, dev := range []float64{0, -0.015, 0.015} {
		for i, k := range ibAllKeys {
			for lead := 0; lead < 40; lead += 3 {
				s := ibDefault()
				s.devLow, s.devHigh = dev, dev
				s.seed, s.lead = uint64(i*100+lead), lead
				pcm := s.synth(tone(k, 40))
				d, _ := NewInbandDetector(8000)
				on := 800 + lead
				for b := 0; b+160 <= len(pcm); b += 40 {
					// blocks with a tone edge within 30 samples
					miss := max(0, on-b) + max(0, b+160-(on+320))
					if miss == 0 || miss > 30 {
						continue
					}
					for j, v := range pcm[b : b+160] {
						d.buf[j] = float64(v)
					}
					r, _, _ := diagBlock(d)
					hist[fmt.Sprintf("dev%+.3f miss%02d %v", dev, miss/10*10, r)]++
				}
			}
		}
	}
	for k, v := range hist {
		fmt.Println(k, v)
	}
}

func TestInbandDiagSpeech(t *testing.T) {
	pcm := ibLoadTalkOff(t)
	for _, sp := range ibSpeech(t) {
		pcm = append(pcm, sp...)
	}
	d, _ := NewInbandDetector(8000)
	hist := map[string]int{}
	var rhos []float64
	for b := 0; b+160 <= len(pcm); b += 40 {
		for j, v := range pcm[b : b+160] {
			d.buf[j] = float64(v)
		}
		r, rho, _ := diagBlock(d)
		if len(r) > 0 && r[0] == "quiet" {
			continue
		}
		rhos = append(rhos, rho)
		if rho > 0.5 {
			hist[fmt.Sprint(rho > 0.7, r)]++
		}
	}
	bins := make([]int, 11)
	for _, r := range rhos {
		bins[min(10, int(r*10))]++
	}
	fmt.Println("rho histogram (0.1 bins):", bins)
	for k, v := range hist {
		fmt.Println(k, v)
	}
}

func TestInbandDiagAbut(t *testing.T) {
	s := ibDefault()
	var segs []ibSeg
	for _, k := range ibAllKeys {
		segs = append(segs, tone(k, 90))
	}
	pcm := s.synth(segs...)
	d, _ := NewInbandDetector(8000)
	for b := 0; b+160 <= len(pcm); b += 40 {
		for j, v := range pcm[b : b+160] {
			d.buf[j] = float64(v)
		}
		k, st, en := d.classify(int64(b))
		r, rho, key := diagBlock(d)
		c := "-"
		if k >= 0 {
			c = string(inbandKeys[k])
		}
		rel := b - 800
		if rel > 200 && rel < 1000 || rel > 90*8*13 && rel < 90*8*15 {
			fmt.Printf("b=%5d (tone %2d +%3d) %s st=%d en=%d | %c %.2f %v\n", b, rel/720, rel%720, c, st-800, en-800, inbandKeys[key], rho, r)
		}
	}
}

func TestInbandDiagSNR(t *testing.T) {
	var segs []ibSeg
	for _, k := range ibAllKeys {
		segs = append(segs, tone(k, 60), pause(60))
	}
	for _, snr := range []float64{20, 15, 12, 10, 8, 6} {
		for _, dev := range []float64{0, 0.015, 0.035} {
			n := 0
			for seed := range uint64(10) {
				s := ibDefault()
				s.snr, s.seed, s.devLow, s.devHigh = snr, seed, dev, -dev
				n += len(ibRun(t, s, ibCodecs[1], segs...))
			}
			fmt.Printf("snr %v dev %v: %d/160\n", snr, dev, n)
		}
	}
}

var ibSeedBase uint64

func TestInbandDiagSeeds(t *testing.T) {
	for base := uint64(1); base <= 12; base++ {
		ibSeedBase = base * 7777777
		for _, f := range []func(*testing.T){TestInbandAllDigits, TestInbandFrequencyDeviation, TestInbandDurations, TestInbandGaps, TestInbandFastDialling, TestInbandTwist, TestInbandLevels, TestInbandDCOffset} {
			f(t)
		}
	}
	ibSeedBase = 0
}

func TestInbandDiagDurKeys(t *testing.T) {
	for _, k := range ibAllKeys {
		for _, d := range []int{30, 40} {
			var lo, hi time.Duration = time.Hour, 0
			cnt := 0
			for seed := uint64(0); seed < 60; seed++ {
				s := ibDefault()
				s.seed, s.lead = seed*31, int(seed%40)
				if seed%3 == 1 {
					s.devLow, s.devHigh = 0.015, -0.015
				}
				if seed%3 == 2 {
					s.devLow, s.devHigh = -0.015, 0.015
				}
				pcm := s.synth(tone(k, d))
				ibCodecs[seed%3].f(pcm)
				det, _ := NewInbandDetector(8000)
				pp := *det.p
				pp.durMin = 0
				det.p = &pp
				det.Reset()
				got := det.Process(nil, pcm, t0)
				if len(got) != 1 {
					continue
				}
				cnt++
				lo = min(lo, got[0].Duration)
				hi = max(hi, got[0].Duration)
			}
			fmt.Printf("%c %d ms: [%v, %v] n=%d\n", k, d, lo, hi, cnt)
		}
	}
}
