//go:build spandsp && cgo

package g722

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/setbridge/setbridge/media/g722/internal/spandsp"
)

// Bit-exactness against spandsp (g722_encode/g722_decode at 64000 bit/s, no
// options). Run with:
//
//	go test -tags spandsp ./media/g722/
//
// It needs cgo and libspandsp-dev.

type refSignal struct {
	name string
	pcm  []int16
}

func referenceSignals() []refSignal {
	const n = 2 * sampleRate // two seconds each
	var sigs []refSignal
	for _, f := range []float64{50, 300, 1000, 2000, 3400, 4000, 5000, 6000, 7000, 7900} {
		for _, db := range []float64{-60, -30, -12, -3, 0} {
			sigs = append(sigs, refSignal{fmt.Sprintf("tone %g Hz %g dBFS", f, db), tone(n, f, dBFS(db), 0.3)})
		}
	}
	// A tone above full scale, clipped.
	sigs = append(sigs, refSignal{"tone 1000 Hz clipped +6 dB", tone(n, 1000, dBFS(6), 0)})
	sigs = append(sigs,
		refSignal{"white noise full scale", whiteNoise(n, 32767, 1)},
		refSignal{"white noise -20 dBFS", whiteNoise(n, dBFS(-20), 2)},
		refSignal{"gaussian noise sd 3000", gaussNoise(n, 3000, 3)},
		refSignal{"gaussian noise sd 20000 (clipping)", gaussNoise(n, 20000, 4)},
		refSignal{"chirp 20-7980 Hz -1 dBFS", chirp(n, 20, 7980, dBFS(-1))},
		refSignal{"chirp 7980-20 Hz -30 dBFS", chirp(n, 7980, 20, dBFS(-30))},
		refSignal{"silence", make([]int16, n)},
		refSignal{"square 500 Hz full scale", square(n, 500, -32768, 32767)},
		refSignal{"square 3000 Hz full scale", square(n, 3000, -32768, 32767)},
		refSignal{"square 7000 Hz full scale", square(n, 7000, -32768, 32767)},
		refSignal{"square 100 Hz +-1", square(n, 100, -1, 1)},
		refSignal{"DC -32768", square(n, 1, -32768, -32768)},
		refSignal{"DC 32767", square(n, 1, 32767, 32767)},
	)
	sigs = append(sigs, refSignal{"golden signal of TestGolden", goldenSignal()},
		refSignal{"extreme signal of TestGoldenExtremes", extremeSignal()})
	// Silence, then a burst, then silence: checks recovery of the scale
	// factors and predictor after loud signals.
	burst := make([]int16, n)
	copy(burst[n/4:], whiteNoise(n/4, 32767, 5))
	sigs = append(sigs, refSignal{"silence-burst-silence", burst})
	// Alternating extremes, sample by sample (the Nyquist frequency).
	alt := make([]int16, n)
	for i := range alt {
		alt[i] = int16(-32768 + (i%2)*65535)
	}
	sigs = append(sigs, refSignal{"alternating -32768/32767", alt})
	return sigs
}

func firstDiff[T comparable](a, b []T) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

// decodeWide decodes payload like Decoder.Decode but returns the receive QMF
// output before the final saturation to 16 bits.
func decodeWide(payload []byte) []int32 {
	d := NewDecoder()
	out := make([]int32, 0, 2*len(payload))
	for _, b := range payload {
		rl := d.decodeLower(int32(b) & 0x3f)
		rh := d.decodeUpper(int32(b) >> 6)
		x0, x1 := d.qmf.mergeWide(rl, rh)
		out = append(out, x0, x1)
	}
	return out
}

// checkDecoded asserts that got (our Decode output for payload) and want
// (spandsp's) are bit-exact, with one exactly specified exception:
// spandsp 0.0.6 converts the receive QMF output to int16 by truncation,
// so a sample beyond the 16-bit range wraps around (a full-scale click),
// where Decode saturates. At every sample, the wide (unsaturated) output x
// of our decoder must satisfy want == int16(x) (spandsp's wrap-around) and
// got == sat16(x); the two outputs are therefore identical wherever x fits
// in 16 bits, and every overflowing sample is checked exactly too.
func checkDecoded(t *testing.T, payload []byte, got, want []int16) {
	t.Helper()
	wide := decodeWide(payload)
	if len(got) != len(wide) || len(want) != len(wide) {
		t.Fatalf("lengths: Decode %d, spandsp %d, want %d", len(got), len(want), len(wide))
	}
	overflows := 0
	for i, x := range wide {
		if want[i] != int16(x) {
			t.Fatalf("decoded sample %d of %d differs from spandsp: wide output %d (as int16 %d), spandsp %d",
				i, len(wide), x, int16(x), want[i])
		}
		if got[i] != int16(sat16(x)) {
			t.Fatalf("Decode sample %d = %d, want saturated %d", i, got[i], sat16(x))
		}
		if x != sat16(x) {
			overflows++
		}
	}
	if overflows > 0 {
		t.Logf("%d of %d samples beyond 16 bits: spandsp wraps, Decode saturates", overflows, len(wide))
	}
}

func TestReferenceSpandsp(t *testing.T) {
	for _, sig := range referenceSignals() {
		t.Run(sig.name, func(t *testing.T) {
			refEnc := spandsp.NewEncoder()
			defer refEnc.Close()
			refDec := spandsp.NewDecoder()
			defer refDec.Close()
			want := refEnc.Encode(sig.pcm)
			wantPCM := refDec.Decode(want)

			got := make([]byte, len(sig.pcm)/2)
			if n := NewEncoder().Encode(got, sig.pcm); n != len(got) {
				t.Fatalf("Encode returned %d, want %d", n, len(got))
			}
			if i := firstDiff(got, want); i >= 0 {
				t.Fatalf("encoded bytes differ from spandsp first at byte %d of %d: got %#02x want %#02x",
					i, len(want), got[i], want[i])
			}
			gotPCM := make([]int16, 2*len(want))
			if n := NewDecoder().Decode(gotPCM, want); n != len(gotPCM) {
				t.Fatalf("Decode returned %d, want %d", n, len(gotPCM))
			}
			checkDecoded(t, want, gotPCM, wantPCM)
		})
	}
}

// TestReferenceSpandspRandomCodes decodes arbitrary byte streams, including
// code words an encoder never emits (IL 0..3), with both decoders.
func TestReferenceSpandspRandomCodes(t *testing.T) {
	r := rand.New(rand.NewPCG(42, 7))
	t.Run("extreme codes of TestGoldenExtremes", func(t *testing.T) {
		data := extremeCodes()
		refDec := spandsp.NewDecoder()
		defer refDec.Close()
		want := refDec.Decode(data)
		got := make([]int16, 2*len(data))
		NewDecoder().Decode(got, data)
		checkDecoded(t, data, got, want)
	})
	for trial := range 8 {
		data := make([]byte, 16000)
		for i := range data {
			data[i] = byte(r.Uint32())
			if trial%2 == 1 {
				// Bias towards extremes to drive the adaptation to its limits.
				data[i] = []byte{0x00, 0x04, 0x20, 0x3f, 0x44, 0x84, 0xc4, 0xe0}[r.IntN(8)]
			}
		}
		t.Run(fmt.Sprintf("trial %d", trial), func(t *testing.T) {
			refDec := spandsp.NewDecoder()
			defer refDec.Close()
			want := refDec.Decode(data)
			got := make([]int16, 2*len(data))
			NewDecoder().Decode(got, data)
			checkDecoded(t, data, got, want)
		})
	}
}

// TestReferenceSpandspStreaming encodes and decodes in chunks of varying
// size with one long-lived codec, against spandsp on the whole signal:
// state must carry over between calls.
func TestReferenceSpandspStreaming(t *testing.T) {
	pcm := chirp(4*sampleRate, 20, 7980, dBFS(-6))
	for i, v := range gaussNoise(len(pcm), 4000, 9) {
		pcm[i] = clip16(float64(pcm[i])/2 + float64(v))
	}
	refEnc := spandsp.NewEncoder()
	defer refEnc.Close()
	refDec := spandsp.NewDecoder()
	defer refDec.Close()
	want := refEnc.Encode(pcm)
	wantPCM := refDec.Decode(want)

	r := rand.New(rand.NewPCG(3, 3))
	enc, dec := NewEncoder(), NewDecoder()
	got := make([]byte, 0, len(want))
	gotPCM := make([]int16, 0, len(wantPCM))
	for off := 0; off < len(pcm); {
		k := min(2*(1+r.IntN(400)), len(pcm)-off)
		buf := make([]byte, k/2)
		enc.Encode(buf, pcm[off:off+k])
		got = append(got, buf...)
		out := make([]int16, k)
		dec.Decode(out, buf)
		gotPCM = append(gotPCM, out...)
		off += k
	}
	if i := firstDiff(got, want); i >= 0 {
		t.Fatalf("streamed encoding differs first at byte %d", i)
	}
	checkDecoded(t, want, gotPCM, wantPCM)
}
