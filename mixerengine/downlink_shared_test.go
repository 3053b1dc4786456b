package mixerengine

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/setbridge/setbridge/internal/audiotest"
	"github.com/setbridge/setbridge/media"
)

// sharedLeg is a silent listener that takes shared encoding.
type sharedLeg struct {
	tone
	key FormatKey // set before the room ticks or between steps

	smu    sync.Mutex
	shared []sharedGot
}

type sharedGot struct {
	tick    uint64
	first   []*byte // the payload arrays, to prove they are shared
	payload [][]byte
	samples []int
}

func newSharedLeg(k FormatKey) *sharedLeg {
	return &sharedLeg{tone: tone{rate: rate, silent: true}, key: k}
}

func (l *sharedLeg) DownlinkFormat() FormatKey {
	l.smu.Lock()
	defer l.smu.Unlock()
	return l.key
}

func (l *sharedLeg) setFormat(k FormatKey) {
	l.smu.Lock()
	l.key = k
	l.smu.Unlock()
}

func (l *sharedLeg) WriteShared(f *SharedFrame) {
	g := sharedGot{tick: f.Tick}
	for _, p := range f.Packets {
		g.first = append(g.first, &p.Payload[0])
		g.payload = append(g.payload, slices.Clone(p.Payload))
		g.samples = append(g.samples, p.Samples)
	}
	l.smu.Lock()
	l.shared = append(l.shared, g)
	l.smu.Unlock()
}

func (l *sharedLeg) got() []sharedGot {
	l.smu.Lock()
	defer l.smu.Unlock()
	return slices.Clone(l.shared)
}

func TestSharedEncodingEncodesOncePerFormat(t *testing.T) {
	pcmu := FormatKey{Codec: "PCMU"}
	pcma := FormatKey{Codec: "PCMA", Ptime: 20 * time.Millisecond}
	pcmu30 := FormatKey{Codec: "PCMU", Ptime: 30 * time.Millisecond}
	h := newHarness(t, Config{Rate: rate})
	talker := newSharedLeg(pcmu)
	talker.tone = tone{rate: rate, freq: 1000, amp: 8000}
	h.join("talker", talker)
	legs := map[FormatKey][]*sharedLeg{}
	for k, n := range map[FormatKey]int{pcmu: 4, pcma: 3, pcmu30: 2} {
		for range n {
			l := newSharedLeg(k)
			legs[k] = append(legs[k], l)
			h.join("", l)
		}
	}
	plain := []*tone{{rate: rate, silent: true}, {rate: rate, silent: true}}
	for _, p := range plain {
		h.join("", p)
	}
	bad := newSharedLeg(FormatKey{Codec: "nope"})
	h.join("bad", bad)

	h.steps(3) // the talker is selected on tick 3
	before, _ := h.e.RoomStats(h.room)
	const ticks = 30
	h.steps(ticks)
	after, _ := h.e.RoomStats(h.room)

	// Per tick: PCMU/20 and PCMA/20 once each, PCMU/30 two times in three;
	// PCM writes: the talker's N-1, two plain legs and the bad format.
	wantShared := uint64(ticks + ticks + ticks*2/3)
	if got := after.SharedEncodes - before.SharedEncodes; got != wantShared {
		t.Errorf("%d shared encodes in %d ticks, want %d", got, ticks, wantShared)
	}
	if got := after.PCMWrites - before.PCMWrites; got != 4*ticks {
		t.Errorf("%d PCM writes in %d ticks, want %d", got, ticks, 4*ticks)
	}
	if got := after.SharedWrites - before.SharedWrites; got != 9*ticks {
		t.Errorf("%d shared writes in %d ticks, want %d", got, ticks, 9*ticks)
	}
	t.Logf("encodes per tick: %.2f for 12 participants (1 talker, 3 shared formats, 3 PCM legs)",
		float64(after.SharedEncodes-before.SharedEncodes+after.PCMWrites-before.PCMWrites)/ticks)

	// Every leg of a format gets the very same payload bytes.
	for k, ls := range legs {
		ref := ls[0].got()
		for _, l := range ls[1:] {
			g := l.got()
			if len(g) != len(ref) {
				t.Fatalf("%v: legs got %d and %d frames", k, len(g), len(ref))
			}
			for i := range g {
				if g[i].tick != ref[i].tick || !slices.Equal(g[i].first, ref[i].first) {
					t.Fatalf("%v tick %d: payloads not shared", k, g[i].tick)
				}
			}
		}
	}

	// PCMU/20: one 160-byte packet per tick that decodes to the talker's tone.
	var pcm []int16
	dec, _ := media.PCMU.NewDecoder()
	for _, g := range legs[pcmu][0].got()[3+ticks-10:] {
		if len(g.payload) != 1 || len(g.payload[0]) != 160 || g.samples[0] != 160 {
			t.Fatalf("tick %d: PCMU/20 packets %d, want one of 160 bytes", g.tick, len(g.payload))
		}
		out := make([]int16, 160)
		n, _ := dec.Decode(out, g.payload[0])
		pcm = append(pcm, out[:n]...)
	}
	want := 20 * math.Log10(8000.0/32768)
	if got := audiotest.ToneLevelDB(pcm, 8000, 1000); math.Abs(got-want) > 1 {
		t.Errorf("decoded PCMU carries 1 kHz at %.1f dBFS, want %.1f", got, want)
	}
	// PCMA differs from PCMU; PCMU/30 sends 240-sample packets, 22 in 660 ms.
	if a, u := legs[pcma][0].got()[20].payload[0], legs[pcmu][0].got()[20].payload[0]; bytes.Equal(a, u) {
		t.Error("PCMA and PCMU payloads are equal")
	}
	var n30 int
	for _, g := range legs[pcmu30][0].got() {
		for i, p := range g.payload {
			if len(p) != 240 || g.samples[i] != 240 {
				t.Fatalf("PCMU/30 packet of %d bytes, %d samples; want 240", len(p), g.samples[i])
			}
			n30++
		}
	}
	if n30 != 22 {
		t.Errorf("%d PCMU/30 packets in 33 ticks, want 22", n30)
	}

	// A selected talker gets its N-1 mix as PCM, not the shared mix.
	for _, g := range talker.got() {
		if g.tick >= 3 {
			t.Fatalf("the talker got the shared mix on tick %d", g.tick)
		}
	}
	if len(talker.heard) != ticks+1 {
		t.Errorf("the talker got %d PCM frames, want %d", len(talker.heard), ticks+1)
	}
	// A format nobody can encode falls back to PCM.
	if len(bad.got()) != 0 || len(bad.heard) != ticks+3 {
		t.Errorf("bad format: %d shared and %d PCM frames, want 0 and %d", len(bad.got()), len(bad.heard), ticks+3)
	}

	// A leg that changes format moves over on the next tick; the zero key
	// asks for PCM.
	l := legs[pcmu][1]
	l.setFormat(FormatKey{})
	h.step()
	if len(l.heard) != 1 {
		t.Errorf("after switching to PCM the leg got %d PCM frames, want 1", len(l.heard))
	}
	l.setFormat(pcma)
	tick := h.step()
	g := l.got()
	if last := g[len(g)-1]; last.tick != tick || last.first[0] != legs[pcma][0].got()[len(g)-1].first[0] {
		t.Error("after switching to PCMA the leg does not share the PCMA payload")
	}
}

func TestDefaultEncoder(t *testing.T) {
	tests := []struct {
		give     FormatKey
		wantRate int
		wantErr  error
	}{
		{FormatKey{Codec: "PCMU"}, 8000, nil},
		{FormatKey{Codec: "pcma"}, 8000, nil},
		{FormatKey{Codec: "G722"}, 16000, nil},
		{FormatKey{Codec: "opus"}, 48000, nil},
		{FormatKey{Codec: "telephone-event"}, 0, ErrFormat},
		{FormatKey{Codec: "GSM"}, 0, ErrFormat},
	}
	for _, tt := range tests {
		t.Run(tt.give.Codec, func(t *testing.T) {
			enc, r, err := DefaultEncoder(tt.give)
			if !errors.Is(err, tt.wantErr) || r != tt.wantRate || (err == nil) != (enc != nil) {
				t.Errorf("DefaultEncoder = %v, %d, %v; want rate %d, error %v", enc, r, err, tt.wantRate, tt.wantErr)
			}
		})
	}
}
