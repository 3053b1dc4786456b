package mixerengine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/setbridge/setbridge/media"
)

// mic is an open microphone: every tick it speaks one of a few prepared
// frames of noise (so every mic has a level to rank), and it drops what it
// is sent, as a leg with nothing to do would.
type mic struct{ frame []int16 }

func (m *mic) ReadFrame(dst []int16) bool { copy(dst, m.frame); return true }
func (m *mic) WriteFrame([]int16)         {}

// sharedMic is a mic whose downlink takes shared encoding.
type sharedMic struct {
	mic
	key FormatKey
}

func (m *sharedMic) DownlinkFormat() FormatKey  { return m.key }
func (m *sharedMic) WriteShared(f *SharedFrame) {}

// noiseFrames returns n frames of white noise with levels spread evenly
// from lo to hi -dBov.
func noiseFrames(n, frame int, lo, hi float64) [][]int16 {
	rng := rand.New(rand.NewPCG(7, 7))
	out := make([][]int16, n)
	for i := range out {
		level := lo + (hi-lo)*float64(i)/float64(max(n-1, 1))
		peak := int(math.Sqrt(3) * 32768 * math.Pow(10, -level/20)) // uniform noise: rms = peak/√3
		f := make([]int16, frame)
		for j := range f {
			f[j] = int16(rng.IntN(2*peak+1) - peak)
		}
		out[i] = f
	}
	return out
}

// scenario is how loud a benchmark room's open microphones are.
type scenario string

const (
	// busy: every mic is above the -50 dBov threshold (-15 to -45 dBov),
	// so every mic is a candidate and every frame is cached: the worst
	// case.
	busy scenario = "busy"
	// calm: 1% of the mics (at least 5) talk at -20 to -30 dBov, the
	// others carry room noise at -55 to -70 dBov.
	calm scenario = "quiet"
)

// benchRoom builds a room of n open mics on a clock that never ticks, so
// the caller drives r.tick itself. shared makes every mic a shared-downlink
// leg (half PCMU, half PCMA).
func benchRoom(tb testing.TB, n int, sc scenario, shared bool) (*Engine, *Room) {
	tb.Helper()
	e := New(Config{Clock: media.NewFakeClock(time.Now()), Logger: quietLog, TopK: 5})
	tb.Cleanup(e.Close)
	frame := media.FrameSamples(e.Rate())
	loud := noiseFrames(32, frame, 15, 45)
	noise := noiseFrames(32, frame, 55, 70)
	talkers := n
	if sc == calm {
		loud = noiseFrames(32, frame, 20, 30)
		talkers = max(5, n/100)
	}
	for i := range n {
		f := loud[i%len(loud)]
		if i >= talkers {
			f = noise[i%len(noise)]
		}
		var p media.Participant = &mic{frame: f}
		if shared {
			k := FormatKey{Codec: "PCMU"}
			if i%2 == 1 {
				k.Codec = "PCMA"
			}
			p = &sharedMic{mic: mic{frame: f}, key: k}
		}
		if _, err := e.JoinWithID("bench", ParticipantID(fmt.Sprintf("m%05d", i)), p); err != nil {
			tb.Fatal(err)
		}
	}
	r := e.room("bench")
	for range 5 { // apply the joins, select the talkers, build the encoders
		r.tick()
	}
	return e, r
}

func TestTickDoesNotAllocate(t *testing.T) {
	for _, c := range []struct{ shared, tracks bool }{{false, false}, {true, false}, {false, true}} {
		t.Run(fmt.Sprintf("shared=%v,tracks=%v", c.shared, c.tracks), func(t *testing.T) {
			_, r := benchRoom(t, 200, busy, c.shared)
			// Mix in self-ranking legs, a tap and perhaps track taps.
			var tracks []TrackFunc
			if c.tracks {
				tracks = []TrackFunc{func(uint64, ParticipantID, []int16) {}}
			}
			stop, stopTracks := r.taps.Load(), r.track.Load()
			r.setTaps([]TapFunc{func(uint64, []int16) {}}, tracks)
			defer r.taps.Store(stop)
			defer r.track.Store(stopTracks)
			r.tick() // the track slices grow once
			if got := len(r.rank.sel); got != 5 {
				t.Fatalf("%d talkers, want 5", got)
			}
			if allocs := testing.AllocsPerRun(100, r.tick); allocs != 0 {
				t.Fatalf("a tick allocates %v times, want 0", allocs)
			}
		})
	}
}

func TestTickDoesNotAllocateWhileTalkersChange(t *testing.T) {
	e := New(Config{Clock: media.NewFakeClock(time.Now()), Logger: quietLog, TopK: 2, Confirm: 1})
	defer e.Close()
	ps := make([]*scripted, 6)
	for i := range ps {
		ps[i] = newScripted(127)
		e.JoinWithID("r", ParticipantID(rune('a'+i)), ps[i])
	}
	r := e.room("r")
	r.tick()
	i := 0
	allocs := testing.AllocsPerRun(100, func() {
		// A new loudest talker each tick displaces the weakest.
		for j, p := range ps {
			p.level.Store(int32(40 - 10*((j-i+6)%6)))
		}
		i++
		r.tick()
	})
	if allocs != 0 {
		t.Fatalf("a tick with selection changes allocates %v times, want 0", allocs)
	}
}

// BenchmarkTick measures one tick of a room of open microphones, K=5, with
// every listener taking PCM (each leg would encode it: N encodes per tick)
// or shared encoding (two formats: K+2 encodes per tick).
func BenchmarkTick(b *testing.B) {
	for _, n := range []int{10, 100, 1000, 10000} {
		for _, sc := range []scenario{busy, calm} {
			for _, shared := range []bool{false, true} {
				downlink := "pcm"
				if shared {
					downlink = "shared"
				}
				b.Run(fmt.Sprintf("mics=%d/room=%s/downlink=%s", n, sc, downlink), func(b *testing.B) {
					e, r := benchRoom(b, n, sc, shared)
					before, _ := e.RoomStats("bench")
					b.ReportAllocs()
					b.ResetTimer()
					for b.Loop() {
						r.tick()
					}
					after, _ := e.RoomStats("bench")
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/participant")
					ticks := float64(after.Ticks - before.Ticks)
					b.ReportMetric(float64(after.SharedEncodes-before.SharedEncodes+after.PCMWrites-before.PCMWrites)/ticks, "encodes/tick")
				})
			}
		}
	}
}

// BenchmarkTickLatency reports the distribution of tick times for 10000
// open mics (target: p99 under 5 ms on a 2-core machine). Run it with
// -benchtime=500x or more for a meaningful p99.
func BenchmarkTickLatency(b *testing.B) {
	for _, sc := range []scenario{busy, calm} {
		b.Run(fmt.Sprintf("mics=10000/room=%s", sc), func(b *testing.B) {
			_, r := benchRoom(b, 10000, sc, true)
			d := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for b.Loop() {
				start := time.Now()
				r.tick()
				d = append(d, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(d)
			ms := func(q float64) float64 {
				return float64(d[min(int(q*float64(len(d))), len(d)-1)]) / float64(time.Millisecond)
			}
			b.ReportMetric(ms(0.50), "p50-ms")
			b.ReportMetric(ms(0.99), "p99-ms")
			b.ReportMetric(ms(1), "max-ms")
		})
	}
}
