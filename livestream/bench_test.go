package livestream

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/setbridge/setbridge/internal/audiotest"
	"github.com/setbridge/setbridge/media"
)

// discardIcecast is an in-process stand-in for Icecast: it accepts PUTs,
// answers as Icecast 2.4 does and throws the body away.
type discardIcecast struct {
	l  net.Listener
	wg sync.WaitGroup

	mu    sync.Mutex
	conns []net.Conn // guarded by mu
}

func newDiscardIcecast(tb testing.TB) *discardIcecast {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	d := &discardIcecast{l: l}
	d.wg.Go(d.accept)
	return d
}

func (d *discardIcecast) accept() {
	for {
		c, err := d.l.Accept()
		if err != nil {
			return
		}
		d.mu.Lock()
		d.conns = append(d.conns, c)
		d.mu.Unlock()
		d.wg.Go(func() {
			defer c.Close()
			br := bufio.NewReader(c)
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					return
				}
				if line == "\r\n" {
					break
				}
			}
			if _, err := io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\n\r\n"); err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, br)
		})
	}
}

func (d *discardIcecast) close() {
	d.l.Close()
	d.mu.Lock()
	for _, c := range d.conns {
		c.Close()
	}
	d.mu.Unlock()
	d.wg.Wait()
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkStreamsPerCore runs N Icecast streams of one room against an
// in-process server that discards the body. Each iteration is one 20 ms
// tick in real time (run with -benchtime Nx). It reports the Opus encodes
// per tick (1 whatever N), the CPU per stream in % of a core and the
// streams one core could carry at that rate. CPU is the whole process:
// the discarding server's reads are included.
func BenchmarkStreamsPerCore(b *testing.B) {
	counts := []int{1, 10, 50, 200}
	if s := os.Getenv("SETBRIDGE_LIVESTREAM_STREAMS"); s != "" {
		counts = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				b.Fatalf("SETBRIDGE_LIVESTREAM_STREAMS: bad count %q", f)
			}
			counts = append(counts, n)
		}
	}
	for _, n := range counts {
		b.Run(fmt.Sprintf("streams=%d", n), func(b *testing.B) { benchStreams(b, n) })
	}
}

func benchStreams(b *testing.B, n int) {
	srv := newDiscardIcecast(b)
	defer srv.close()
	var fn func(uint64, []int16)
	var mu sync.Mutex
	tap := func(_ string, f func(uint64, []int16)) func() {
		mu.Lock()
		fn = f
		mu.Unlock()
		return func() {
			mu.Lock()
			fn = nil
			mu.Unlock()
		}
	}
	states := newStateLog()
	m := New(Config{Tap: tap, Logger: testLogger(nil), OnState: states.onState, BackoffMin: 10 * time.Millisecond})
	defer m.Close()
	target := fmt.Sprintf("http://source:x@%s/bench.opus", srv.l.Addr())
	var ids []string
	for range n {
		in, err := m.Start("bench", Request{Target: target})
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, in.ID)
	}
	for _, id := range ids {
		states.wait(b, id, StateLive, 0, 10*time.Second)
	}
	// A speech-like signal: tone plus noise, 1 s looped.
	sig := audiotest.Mix(audiotest.GenTone(48000, 440, 0.3, time.Second), audiotest.GenNoise(48000, -30, time.Second, 1))
	fs := media.FrameSamples(48000)
	before := m.Stats()
	tk := time.NewTicker(media.FrameDuration)
	defer tk.Stop()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0, wall0 := cpuTime(), time.Now()
	for i := 0; i < b.N; i++ {
		<-tk.C
		off := (i * fs) % len(sig)
		mu.Lock()
		f := fn
		mu.Unlock()
		if f != nil {
			f(uint64(i+1), sig[off:off+fs])
		}
	}
	cpu, wall := cpuTime()-cpu0, time.Since(wall0)
	b.StopTimer()
	after := m.Stats()
	var dropped uint64
	for _, in := range m.List("bench") {
		dropped += in.DroppedFrames
		if in.State != StateLive {
			b.Errorf("stream %s is %s: %s", in.ID, in.State, in.LastError)
		}
	}
	ticks := float64(after.Ticks - before.Ticks)
	if ticks == 0 {
		return
	}
	perStream := 100 * cpu.Seconds() / wall.Seconds() / float64(n)
	b.ReportMetric(float64(after.OpusEncodes-before.OpusEncodes)/ticks, "encodes/tick")
	b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "cpu-%core-total")
	b.ReportMetric(perStream, "cpu-%core/stream")
	if perStream > 0 {
		b.ReportMetric(100/perStream, "streams/core")
	}
	b.ReportMetric(float64(dropped)/ticks/float64(n)*100, "drop-%")
}
