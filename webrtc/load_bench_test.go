package webrtc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	pion "github.com/pion/webrtc/v4"

	"github.com/setbridge/setbridge/auth"
	"github.com/setbridge/setbridge/media"
	"github.com/setbridge/setbridge/mixerengine"
	"github.com/setbridge/setbridge/selector"
)

// Room load: one Edge on the real mixer engine, loadTalkers WHIP publishers
// sending Opus tones (all loud, so the default top K of 5 mixes five of
// them) and N WHEP listeners, all pion clients in this process over
// loopback. Every b.Loop iteration is one second of wall time; the figures
// cover all iterations:
//
//	cpu-%core/listener  process CPU (server AND the pion clients, which
//	                    share the process) per listener, in % of one core
//	cpu-%core-total     the same, not divided
//	egress-pkts/s       RTP packets the Edge wrote per second (Stats)
//	pkts/s/core         egress-pkts/s per core of process CPU used
//	rx-pkts/s/listener  RTP packets each listener received per second
//	loss-%              listeners' sequence-number gaps / expected
//	tick-p99-ms         the mixer's tick duration (OnTickDuration), p99
//	opus-encodes/tick   the engine's (SharedEncodes+PCMWrites) per tick:
//	                    the shared mix encode plus the talkers' N-1 mixes,
//	                    which must not grow with the listeners
//	leg-encodes/tick    the Edge's own Encodes per tick (N-1 mixes only)
//	tick-overruns/s     ticks longer than 20 ms
//	missed-ticks-%      ticks the room did not run (50 a second expected):
//	                    an overrun is not made up for, and the frame is
//	                    simply not sent, with no gap a listener could see
//
//	go test ./webrtc/ -run '^$' -bench RoomLoad -benchtime 5x
//
// Sizes 50, 100 and 200 run by default; SETBRIDGE_WEBRTC_LISTENERS=300 (or
// a comma-separated list) runs those instead.
func BenchmarkRoomLoad(b *testing.B) {
	sizes := []int{50, 100, 200}
	if env := os.Getenv("SETBRIDGE_WEBRTC_LISTENERS"); env != "" {
		sizes = nil
		for f := range strings.SplitSeq(env, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				b.Fatalf("SETBRIDGE_WEBRTC_LISTENERS=%q: want listener counts like 300 or 50,400", env)
			}
			sizes = append(sizes, n)
		}
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("listeners=%d", n), func(b *testing.B) { roomLoad(b, n) })
	}
}

const loadTalkers = 6

// tickRecorder keeps the tick durations while on.
type tickRecorder struct {
	on atomic.Bool
	mu sync.Mutex
	d  []time.Duration
}

func (r *tickRecorder) record(d time.Duration) {
	if !r.on.Load() {
		return
	}
	r.mu.Lock()
	r.d = append(r.d, d)
	r.mu.Unlock()
}

func (r *tickRecorder) quantile(q float64) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.d) == 0 {
		return 0
	}
	s := slices.Clone(r.d)
	slices.Sort(s)
	return s[min(len(s)-1, int(math.Ceil(q*float64(len(s))))-1)]
}

// loadClient is a pion peer that only counts what it receives.
type loadClient struct {
	pc       *pion.PeerConnection
	track    *pion.TrackLocalStaticRTP // nil for a listener
	levelExt uint8

	received, expected atomic.Uint64 // RTP packets; highest-first+1 sequence numbers

	stop chan struct{}
	wg   sync.WaitGroup
}

func loadAPI(b *testing.B, audioLevel bool) *pion.API {
	m := &pion.MediaEngine{}
	if err := m.RegisterCodec(pion.RTPCodecParameters{RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypeOpus,
		ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: 111}, pion.RTPCodecTypeAudio); err != nil {
		b.Fatal(err)
	}
	if audioLevel {
		if err := m.RegisterHeaderExtension(pion.RTPHeaderExtensionCapability{URI: audioLevelURI}, pion.RTPCodecTypeAudio); err != nil {
			b.Fatal(err)
		}
	}
	var s pion.SettingEngine
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	s.SetIncludeLoopbackCandidate(true)
	s.SetIPFilter(loopbackOnly)
	s.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4})
	return pion.NewAPI(pion.WithMediaEngine(m), pion.WithSettingEngine(s))
}

// newLoadClient creates a peer, posts its offer to url and applies the
// answer. A publisher sends and receives, a listener only receives.
func newLoadClient(api *pion.API, hc *http.Client, url, tok string, publish bool) (*loadClient, error) {
	pc, err := api.NewPeerConnection(pion.Configuration{})
	if err != nil {
		return nil, err
	}
	c := &loadClient{pc: pc, stop: make(chan struct{})}
	if publish {
		c.track, err = pion.NewTrackLocalStaticRTP(pion.RTPCodecCapability{MimeType: pion.MimeTypeOpus, ClockRate: 48000, Channels: 2},
			"mic", "client")
		if err == nil {
			_, err = pc.AddTransceiverFromTrack(c.track, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionSendrecv})
		}
	} else {
		_, err = pc.AddTransceiverFromKind(pion.RTPCodecTypeAudio, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionRecvonly})
	}
	if err != nil {
		c.close()
		return nil, err
	}
	pc.OnTrack(func(tr *pion.TrackRemote, _ *pion.RTPReceiver) {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.count(tr)
		}()
	})
	if err := c.negotiate(hc, url, tok); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

func (c *loadClient) negotiate(hc *http.Client, url, tok string) error {
	o, err := c.pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	gathered := pion.GatheringCompletePromise(c.pc)
	if err := c.pc.SetLocalDescription(o); err != nil {
		return err
	}
	<-gathered
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(c.pc.LocalDescription().SDP))
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("POST %s: %d %s", url, resp.StatusCode, body)
	}
	if err := c.pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: string(body)}); err != nil {
		return err
	}
	if c.track != nil {
		for _, s := range c.pc.GetSenders() {
			for _, h := range s.GetParameters().HeaderExtensions {
				if h.URI == audioLevelURI {
					c.levelExt = uint8(h.ID)
				}
			}
		}
	}
	return nil
}

// count reads tr's packets, counting them and the sequence numbers
// expected (highest - first + 1), without decoding.
func (c *loadClient) count(tr *pion.TrackRemote) {
	buf := make([]byte, 1500)
	var first, highest int64
	started := false
	for {
		n, _, err := tr.Read(buf)
		if err != nil {
			return
		}
		if n < 12 {
			continue
		}
		seq := binary.BigEndian.Uint16(buf[2:4])
		if !started {
			started, first, highest = true, int64(seq), int64(seq)
		} else if d := int16(seq - uint16(highest)); d > 0 {
			highest += int64(d)
		}
		c.received.Add(1)
		c.expected.Store(uint64(highest - first + 1))
	}
}

// send publishes a freq tone at amp of full scale as Opus every 20 ms,
// with the measured RFC 6464 level when negotiated, until close.
func (c *loadClient) send(freq int, amp float64) error {
	enc, err := media.Opus.NewEncoder()
	if err != nil {
		return err
	}
	tone := make([]int16, 48000) // one second: freq is whole Hz
	for i := range tone {
		tone[i] = int16(amp * 32767 * math.Sin(2*math.Pi*float64(freq)*float64(i)/48000))
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		tk := time.NewTicker(media.FrameDuration)
		defer tk.Stop()
		buf := make([]byte, 1500)
		seq, ts, off := uint16(1000), uint32(5000), 0
		for {
			select {
			case <-c.stop:
				return
			case <-tk.C:
			}
			frame := tone[off : off+960]
			off = (off + 960) % len(tone)
			pn, err := enc.Encode(buf, frame)
			if err != nil {
				return
			}
			p := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq, Timestamp: ts}, Payload: buf[:pn]}
			if c.levelExt != 0 {
				_ = p.Header.SetExtension(c.levelExt, []byte{selector.Level(frame)})
			}
			_ = c.track.WriteRTP(p)
			seq++
			ts += 960
		}
	}()
	return nil
}

func (c *loadClient) close() {
	select {
	case <-c.stop:
		return
	default:
	}
	close(c.stop)
	_ = c.pc.Close()
	c.wg.Wait()
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadSnapshot is the counters at one moment.
type loadSnapshot struct {
	at                 time.Time
	cpu                time.Duration
	edge               Stats
	mix                mixerengine.Stats
	received, expected uint64
}

func snapshot(edge *Edge, eng *mixerengine.Engine, listeners []*loadClient) loadSnapshot {
	s := loadSnapshot{at: time.Now(), cpu: cpuTime(), edge: edge.Stats(), mix: eng.Stats()}
	for _, l := range listeners {
		s.received += l.received.Load()
		s.expected += l.expected.Load()
	}
	return s
}

func roomLoad(b *testing.B, listeners int) {
	const room = "load"
	ticks := &tickRecorder{}
	eng := mixerengine.New(mixerengine.Config{Rate: 48000, Logger: testLogger(), OnTickDuration: ticks.record})
	uc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	port := uc.LocalAddr().(*net.UDPAddr).Port
	uc.Close()
	edge, err := New(Config{Logger: testLogger(), UDPMuxPort: port, ListenIP: "127.0.0.1",
		IncludeLoopback: true, IPFilter: loopbackOnly, JitterDepth: 2}, engineConference{eng}, KeysAuthorizer(testKeys, nil))
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(edge.Handler())
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}

	var (
		mu      sync.Mutex
		clients []*loadClient
	)
	b.Cleanup(func() {
		var wg sync.WaitGroup
		for _, c := range clients {
			wg.Go(c.close)
		}
		wg.Wait()
		srv.Close()
		edge.Close()
		eng.Close()
	})
	sign := func(publish bool) string {
		tok, err := testKeys.Sign("KEY", auth.Claims{Identity: "load", Name: "Load",
			Grant: auth.Grant{Room: room, Join: true, Publish: publish, Subscribe: true}, Expires: time.Now().Add(time.Hour)})
		if err != nil {
			b.Fatal(err)
		}
		return tok
	}
	pubTok, lisTok := sign(true), sign(false)

	// Talkers first, each a different tone.
	pubAPI := loadAPI(b, true)
	var talkers []*loadClient
	for i := range loadTalkers {
		c, err := newLoadClient(pubAPI, hc, srv.URL+"/whip/"+room, pubTok, true)
		if err != nil {
			b.Fatal(err)
		}
		clients, talkers = append(clients, c), append(talkers, c)
		if err := c.send(300+150*i, 0.25); err != nil {
			b.Fatal(err)
		}
	}

	// Listeners, a few connecting at a time.
	lisAPI := loadAPI(b, false)
	lis := make([]*loadClient, listeners)
	var (
		wg   sync.WaitGroup
		next atomic.Int64
		errs = make(chan error, 8)
	)
	setupStart := time.Now()
	for range 8 {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < listeners; i = int(next.Add(1)) - 1 {
				c, err := newLoadClient(lisAPI, hc, srv.URL+"/whep/"+room, lisTok, false)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				clients, lis[i] = append(clients, c), c
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	if err := errors.Join(all...); err != nil {
		b.Fatal(err)
	}
	// Every listener hears the mix, and the 5 loudest are selected.
	deadline := time.Now().Add(30 * time.Second)
	for {
		heard := 0
		for _, l := range lis {
			if l.received.Load() >= 10 {
				heard++
			}
		}
		if heard == listeners && len(eng.Talkers(room)) == mixerengine.DefaultTopK {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("after 30 s %d of %d listeners hear the mix, talkers %v; %+v", heard, listeners, eng.Talkers(room), edge.Stats())
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.Logf("%d talkers and %d listeners connected in %v", loadTalkers, listeners, time.Since(setupStart).Round(time.Millisecond))
	time.Sleep(time.Second) // let the connection storm settle

	ticks.on.Store(true)
	before := snapshot(edge, eng, lis)
	for b.Loop() {
		time.Sleep(time.Second)
	}
	after := snapshot(edge, eng, lis)
	ticks.on.Store(false)

	elapsed := after.at.Sub(before.at).Seconds()
	cores := (after.cpu - before.cpu).Seconds() / elapsed
	egress := float64(after.edge.PacketsOut-before.edge.PacketsOut) / elapsed
	ntick := float64(after.mix.Ticks - before.mix.Ticks)
	rx, exp := after.received-before.received, after.expected-before.expected
	loss := 0.0
	if exp > 0 && exp > rx {
		loss = 100 * float64(exp-rx) / float64(exp)
	}
	b.ReportMetric(100*cores/float64(listeners), "cpu-%core/listener")
	b.ReportMetric(100*cores, "cpu-%core-total")
	b.ReportMetric(egress, "egress-pkts/s")
	b.ReportMetric(egress/cores, "pkts/s/core")
	b.ReportMetric(float64(rx)/elapsed/float64(listeners), "rx-pkts/s/listener")
	b.ReportMetric(loss, "loss-%")
	b.ReportMetric(float64(ticks.quantile(0.99).Microseconds())/1000, "tick-p99-ms")
	b.ReportMetric(float64(after.mix.SharedEncodes+after.mix.PCMWrites-before.mix.SharedEncodes-before.mix.PCMWrites)/ntick,
		"opus-encodes/tick")
	b.ReportMetric(float64(after.edge.Encodes-before.edge.Encodes)/ntick, "leg-encodes/tick")
	b.ReportMetric(float64(after.mix.Overruns-before.mix.Overruns)/elapsed, "tick-overruns/s")
	// An overrun tick is not made up for: the room sends fewer frames (50
	// a second at 20 ms), with no sequence or timestamp gap a listener
	// could see, so loss-% misses it; missed-ticks-% does not.
	b.ReportMetric(max(0, 100*(1-ntick/(elapsed*float64(time.Second/media.FrameDuration)))), "missed-ticks-%")
	b.Logf("%d listeners, %.1f s on %d cores (GOMAXPROCS %d): process CPU %.2f cores (server and clients), "+
		"egress %.0f pkts/s, rx %d of %d expected, ticks %.0f (p50 %v, p99 %v, max %v), engine %+v, edge %+v",
		listeners, elapsed, runtime.NumCPU(), runtime.GOMAXPROCS(0), cores, egress, rx, exp, ntick,
		ticks.quantile(0.5), ticks.quantile(0.99), ticks.quantile(1), after.mix, after.edge)
}
