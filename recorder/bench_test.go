package recorder

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/setbridge/setbridge/media"
)

// cpuTime is the process's user+system CPU time.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchRoom records b.N ticks of one 48 kHz room (and tracks participant
// tracks) to disk with one-minute segments, fsync and hashing included, as
// fast as the writer keeps up, and reports per recorded room-second: the
// CPU it costs and the bytes it writes.
func benchRoom(b *testing.B, tracks int) {
	const rate = 48000
	cfg := testConfig(b)
	cfg.Rate = rate
	cfg.SegmentDuration = time.Minute
	cfg.Tracks = tracks > 0
	cfg.Metrics = new(Metrics)
	cfg.RingFrames = 0 // the default
	r, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	n := media.FrameSamples(rate)
	mix := tone(1, 0, n)
	pcm := make([][]int16, tracks)
	ids := make([]ParticipantID, tracks)
	for i := range pcm {
		pcm[i] = tone(1, i+1, n)
		ids[i] = ParticipantID(fmt.Sprintf("p%d", i))
	}
	if err := r.Start(1); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(2 * n * (1 + tracks)))
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	b.ResetTimer()
	for i := range b.N {
		tick := uint64(i + 1)
		r.Frame(tick, mix)
		for j := range tracks {
			r.TrackFrame(tick, ids[j], pcm[j])
		}
		// Let the writer keep up: a real tick comes every 20 ms, so a
		// ring overflow here would only measure the benchmark loop.
		if i%128 == 127 {
			for r.Status().Frames+64 < tick && r.Status().State == StateRecording {
				time.Sleep(50 * time.Microsecond)
			}
		}
	}
	if err := r.Stop(0); err != nil {
		b.Fatal(err)
	}
	if _, err := r.Wait(b.Context()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	roomSeconds := float64(b.N) * media.FrameDuration.Seconds()
	cpu := (cpuTime(b) - cpu0).Seconds()
	b.ReportMetric(100*cpu/roomSeconds, "cpu%/room")
	b.ReportMetric(float64(cfg.Metrics.Bytes.Load())/roomSeconds, "B/room-s")
	b.ReportMetric(roomSeconds/cpu, "rooms/core")
}

// BenchmarkRecorder1Room: one op is one tick (20 ms of one room's mix).
func BenchmarkRecorder1Room(b *testing.B) { benchRoom(b, 0) }

// BenchmarkRecorder1Room4Tracks: one op is one tick of the mix and four
// participant tracks.
func BenchmarkRecorder1Room4Tracks(b *testing.B) { benchRoom(b, 4) }

// BenchmarkFrame measures the tick side alone: the cost of Frame on the
// room's tick goroutine.
func BenchmarkFrame(b *testing.B) {
	cfg := testConfig(b)
	cfg.Rate = 48000
	cfg.RingFrames = 1 << 14
	r, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := r.Start(1); err != nil {
		b.Fatal(err)
	}
	mix := tone(1, 0, 960)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		r.Frame(uint64(i+1), mix)
		if i%4096 == 4095 {
			b.StopTimer()
			for r.Status().Frames+1024 < uint64(i+1) {
				time.Sleep(50 * time.Microsecond)
			}
			b.StartTimer()
		}
	}
	b.StopTimer()
	if err := r.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRecorderRooms records 200 rooms at once, each fed by its own
// goroutine as fast as its writer keeps up: one op is one tick of every
// room. realtime-rooms is how many rooms the process would keep up with in
// real time at that throughput (room-seconds recorded per wall second).
func BenchmarkRecorderRooms(b *testing.B) {
	const rooms, rate = 200, 48000
	n := media.FrameSamples(rate)
	metrics := new(Metrics)
	recs := make([]*Recorder, rooms)
	for i := range recs {
		cfg := testConfig(b)
		id, err := NewID(testEpoch.Add(time.Duration(i) * time.Millisecond))
		if err != nil {
			b.Fatal(err)
		}
		cfg.ID, cfg.Rate, cfg.SegmentDuration, cfg.Metrics = id, rate, time.Minute, metrics
		cfg.RingFrames = 0 // the default
		if recs[i], err = New(cfg); err != nil {
			b.Fatal(err)
		}
		if err := recs[i].Start(1); err != nil {
			b.Fatal(err)
		}
	}
	mix := tone(1, 0, n)
	b.SetBytes(int64(2 * n * rooms))
	cpu0 := cpuTime(b)
	start := time.Now()
	b.ResetTimer()
	done := make(chan struct{}, rooms)
	for _, r := range recs {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range b.N {
				tick := uint64(i + 1)
				r.Frame(tick, mix)
				if i%64 == 63 {
					for r.Status().Frames+128 < tick && r.Status().State == StateRecording {
						time.Sleep(200 * time.Microsecond)
					}
				}
			}
		}()
	}
	for range rooms {
		<-done
	}
	for _, r := range recs {
		if err := r.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	wall := time.Since(start).Seconds()
	roomSeconds := float64(rooms) * float64(b.N) * media.FrameDuration.Seconds()
	b.ReportMetric(roomSeconds/wall, "realtime-rooms")
	b.ReportMetric(100*(cpuTime(b)-cpu0).Seconds()/roomSeconds, "cpu%/room")
}
