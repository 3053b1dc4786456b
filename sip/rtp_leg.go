package sip

import (
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"github.com/setbridge/setbridge/ivr"
	"github.com/setbridge/setbridge/media"
	"github.com/setbridge/setbridge/media/dtmf"
	"github.com/setbridge/setbridge/media/resample"
	"github.com/setbridge/setbridge/selector"
)

// legStats are a leg's counters, read by metrics and RTCP.
type legStats struct {
	packetsIn, octetsIn, packetsOut, octetsOut atomic.Uint64
	strayIn, badIn                             atomic.Uint64
}

// rtpLeg carries one call's audio: RTP in, through a jitter buffer, decoded
// and resampled to the room's rate on the mixer's tick (the playout clock);
// the room's mix resampled, encoded and sent as RTP on the same tick.
type rtpLeg struct {
	log      *slog.Logger
	clock    media.Clock
	conn     *net.UDPConn
	rtcpConn *net.UDPConn
	port     int
	ports    *portAllocator
	neg      negotiated
	roomRate int
	onDigit  func(dtmf.Digit)
	metrics  *Metrics
	dtmfMode string

	// overlay, once set, is audio mixed over what the room sends (the IVR's
	// announcements and in-call prompts); read on the tick.
	overlay      atomic.Pointer[ivr.Session]
	overlayBuf   []int16
	overlayRead  bool // the overlay was read this tick (by DownlinkFormat)
	overlayAudio bool // and it had audio

	// Where we send; latched to the first source heard (symmetric RTP).
	remote     atomic.Pointer[netip.AddrPort]
	remoteRTCP atomic.Pointer[netip.AddrPort]
	sending    atomic.Bool
	lastRecv   atomic.Int64 // unix nanoseconds of the last RTP packet
	stats      legStats

	// Read loop state.
	source  netip.AddrPort // latched source; zero until the first packet
	readBuf [1500]byte

	mu        sync.Mutex // guards the receive pipeline below
	relatch   bool
	levelRead bool // ReadLevel played out this tick's frame into upFrame
	jb        *media.JitterBuffer
	dec       media.Decoder
	digits    *dtmf.Receiver
	inband    *dtmf.InbandDetector // nil unless in-band detection is on
	bandBuf   []dtmf.Digit
	last4733  dtmf.Digit // the last RFC 4733 digit, to drop its in-band echo
	inFIFO    *media.SampleFIFO
	upRS      *resample.Resampler
	decBuf    []int16
	upFrame   []int16 // one frame at the codec rate
	pktIn     int     // samples per packet at the codec rate
	highSeq   uint32
	lastSSRC  uint32

	// Send pipeline, owned by the tick goroutine.
	enc     media.Encoder
	downRS  *resample.Resampler
	outFIFO *media.SampleFIFO
	downBuf []int16
	pktPCM  []int16
	sendBuf [1500]byte
	seq     uint16
	ts      uint32
	ssrc    uint32
	marker  bool
	sinceSR int
	hdr     rtp.Header
	pcmPath bool            // WriteFrame (own encoder) rather than WriteShared last tick
	format  media.FormatKey // the shared downlink format
	sender  *dtmf.Sender    // RFC 4733 out; nil without telephone-event
	eventTS uint32
	gap     int // audio packets since the last digit ended

	digitMu sync.Mutex
	pending []rune // digits queued by SendDigits; guarded by digitMu

	done chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

type legConfig struct {
	log         *slog.Logger
	clock       media.Clock
	ports       *portAllocator
	neg         negotiated
	roomRate    int
	jitterDepth int
	dtmfMode    string // the trunk's DTMF mode
	onDigit     func(dtmf.Digit)
	metrics     *Metrics
}

func newRTPLeg(c legConfig) (*rtpLeg, error) {
	conn, rtcpConn, port, err := c.ports.listen()
	if err != nil {
		return nil, err
	}
	l := &rtpLeg{log: c.log, clock: c.clock, conn: conn, rtcpConn: rtcpConn, port: port, ports: c.ports,
		roomRate: c.roomRate, onDigit: c.onDigit, metrics: c.metrics, done: make(chan struct{}),
		jb: media.NewJitterBuffer(c.jitterDepth), ssrc: rand.Uint32(), seq: uint16(rand.Uint32()), ts: rand.Uint32(), marker: true}
	l.dtmfMode = c.dtmfMode
	if err := l.setCodec(c.neg); err != nil {
		l.closeSockets()
		return nil, err
	}
	l.wg.Add(2)
	go func() { defer l.wg.Done(); l.readRTP() }()
	go func() { defer l.wg.Done(); l.readRTCP() }()
	return l, nil
}

// setCodec (re)builds the codec pipelines; called before start and on a
// re-INVITE that changes the codec.
func (l *rtpLeg) setCodec(n negotiated) error {
	enc, err := n.Codec.NewEncoder()
	if err != nil {
		return err
	}
	dec, err := n.Codec.NewDecoder()
	if err != nil {
		return err
	}
	rate := n.Codec.SampleRate
	var up, down *resample.Resampler
	if rate != l.roomRate {
		if up, err = resample.New(rate, l.roomRate); err != nil {
			return err
		}
		if down, err = resample.New(l.roomRate, rate); err != nil {
			return err
		}
	}
	pkt := rate * n.Ptime / 1000
	l.mu.Lock()
	l.neg, l.dec, l.upRS = n, dec, up
	l.digits = dtmf.NewReceiver(8000)
	l.inband = nil
	g711 := n.Codec.Name == media.PCMU.Name || n.Codec.Name == media.PCMA.Name
	if g711 && (l.dtmfMode == "inband" || l.dtmfMode == "both" || (l.dtmfMode != "rfc4733" && n.DTMFPT < 0)) {
		if l.inband, err = dtmf.NewInbandDetector(rate); err != nil {
			l.mu.Unlock()
			return err
		}
		l.bandBuf = make([]dtmf.Digit, 0, 4)
	}
	l.pktIn = pkt
	l.inFIFO = media.NewSampleFIFO(rate / 5) // 200 ms
	l.decBuf = make([]int16, rate/10)        // up to 100 ms per packet
	l.upFrame = make([]int16, media.FrameSamples(rate))
	l.enc, l.downRS = enc, down
	l.outFIFO = media.NewSampleFIFO(rate / 5)
	l.sender = nil
	if n.DTMFPT >= 0 {
		if l.sender, err = dtmf.NewSender(media.TelephoneEvent.ClockRate, time.Duration(n.Ptime)*time.Millisecond); err != nil {
			l.mu.Unlock()
			return err
		}
	}
	l.downBuf = make([]int16, media.FrameSamples(rate))
	l.pktPCM = make([]int16, pkt)
	l.format = media.FormatKey{Codec: n.Codec.Name, Ptime: time.Duration(n.Ptime) * time.Millisecond}
	l.marker = true
	l.mu.Unlock()
	return nil
}

// setRemote points the leg at the peer's SDP address until a packet tells
// it where the peer really is.
func (l *rtpLeg) setRemote(rtpAddr, rtcpAddr netip.AddrPort) {
	l.remote.Store(&rtpAddr)
	l.remoteRTCP.Store(&rtcpAddr)
	l.mu.Lock()
	l.relatch = true
	l.mu.Unlock()
}

func (l *rtpLeg) localPort() int { return l.port }

// ReadLevel implements the selector's LevelReader: it plays out this
// tick's frame at the codec's rate and reports its level, so the room ranks
// the caller without resampling; ReadFrame then resamples the same frame
// only if the caller is selected.
func (l *rtpLeg) ReadLevel() (uint8, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.levelRead = l.playoutLocked()
	if !l.levelRead {
		return selector.Silence, false
	}
	return selector.Level(l.upFrame), true
}

// ReadFrame implements media.Uplink: this tick's frame at the room's rate.
func (l *rtpLeg) ReadFrame(dst []int16) bool {
	l.mu.Lock()
	ok := l.levelRead
	if ok {
		l.levelRead = false // the frame ReadLevel played out this tick
	} else {
		ok = l.playoutLocked()
	}
	up := l.upRS
	l.mu.Unlock()
	if !ok {
		return false
	}
	if up != nil {
		up.Process(dst, l.upFrame)
	} else {
		copy(dst, l.upFrame)
	}
	return true
}

// playoutLocked takes one frame's worth of audio out of the jitter buffer
// into upFrame, at the codec's rate; l.mu is held.
func (l *rtpLeg) playoutLocked() bool {
	if d, ok := l.digits.Tick(l.clock.Now()); ok && l.onDigit != nil {
		l.onDigit(d)
	}
	for l.inFIFO.Len() < len(l.upFrame) {
		payload, st := l.jb.Pop()
		switch st {
		case media.JitterPacket:
			n, err := l.dec.Decode(l.decBuf, payload)
			if err != nil {
				l.stats.badIn.Add(1)
				l.inFIFO.WriteSilence(l.pktIn)
				continue
			}
			l.inFIFO.Write(l.decBuf[:n])
			if l.inband != nil {
				l.detectInband(l.decBuf[:n])
			}
		case media.JitterLost:
			l.inFIFO.WriteSilence(l.pktIn)
		default:
			return false
		}
	}
	return l.inFIFO.Read(l.upFrame)
}

// DownlinkFormat implements media.SharedDownlink: while the caller listens
// (is not a selected talker) it is sent the room's common mix encoded once
// for every leg of its codec and packet time. While a digit is being sent,
// the leg takes PCM so the digit's packets can replace audio packets.
func (l *rtpLeg) DownlinkFormat() media.FormatKey {
	if l.readOverlay() {
		return media.FormatKey{} // a prompt is mixed in: take PCM
	}
	if !l.sending.Load() || (l.sender != nil && l.sender.Active()) || l.digitsPending() {
		return media.FormatKey{}
	}
	return l.format
}

// readOverlay reads this tick's overlay frame, once per tick, and reports
// whether it holds audio.
func (l *rtpLeg) readOverlay() bool {
	if l.overlayRead {
		return l.overlayAudio
	}
	sess := l.overlay.Load()
	if sess == nil {
		return false
	}
	if len(l.overlayBuf) != media.FrameSamples(l.roomRate) {
		l.overlayBuf = make([]int16, media.FrameSamples(l.roomRate))
	}
	l.overlayRead, l.overlayAudio = true, sess.ReadFrame(l.overlayBuf)
	return l.overlayAudio
}

func (l *rtpLeg) digitsPending() bool {
	l.digitMu.Lock()
	defer l.digitMu.Unlock()
	return len(l.pending) > 0
}

// WriteShared implements media.SharedDownlink: the payloads are shared by
// every leg of the format; only the RTP header is ours.
func (l *rtpLeg) WriteShared(f *media.SharedFrame) {
	l.overlayRead = false
	if !l.sending.Load() {
		l.marker = true
		return
	}
	dst := l.remote.Load()
	if dst == nil || !dst.IsValid() || dst.Addr().IsUnspecified() {
		return
	}
	if l.pcmPath {
		// Back from talking: the shared stream starts a new talk-spurt.
		l.pcmPath, l.marker = false, true
	}
	for _, p := range f.Packets {
		l.hdr = rtp.Header{Version: 2, Marker: l.marker, PayloadType: l.neg.PT, SequenceNumber: l.seq, Timestamp: l.ts, SSRC: l.ssrc}
		hn, err := l.hdr.MarshalTo(l.sendBuf[:])
		if err != nil {
			return
		}
		n := hn + copy(l.sendBuf[hn:], p.Payload)
		if _, err := l.conn.WriteToUDPAddrPort(l.sendBuf[:n], *dst); err != nil && !errors.Is(err, net.ErrClosed) {
			l.log.Debug("rtp send failed", "error", err)
		}
		l.stats.packetsOut.Add(1)
		l.stats.octetsOut.Add(uint64(len(p.Payload)))
		l.metrics.rtpOut.Inc()
		l.marker = false
		l.seq++
		l.ts += l.neg.Codec.RTPTicks(p.Samples)
		l.gap++
	}
	l.countReport()
}

// detectInband runs the tone detector over decoded audio; with RFC 4733
// also on, a tone that repeats the digit just received as an event is the
// same key press and is dropped. l.mu is held.
func (l *rtpLeg) detectInband(pcm []int16) {
	now := l.clock.Now()
	l.bandBuf = l.inband.Process(l.bandBuf[:0], pcm, now)
	for _, d := range l.bandBuf {
		if l.last4733.Rune == d.Rune && d.Start.Sub(l.last4733.Start).Abs() < time.Second {
			continue
		}
		if l.onDigit != nil {
			l.onDigit(d)
		}
	}
}

// WriteFrame implements media.Downlink on the mixer's tick.
func (l *rtpLeg) WriteFrame(pcm []int16) {
	if l.readOverlay() {
		// The overlay buffer becomes the frame: prompt over room audio.
		for i, s := range pcm {
			l.overlayBuf[i] = sat16(int32(l.overlayBuf[i]) + int32(s))
		}
		pcm = l.overlayBuf
	}
	l.overlayRead = false
	if !l.sending.Load() {
		l.marker = true
		return
	}
	dst := l.remote.Load()
	if dst == nil || !dst.IsValid() || dst.Addr().IsUnspecified() {
		return
	}
	if !l.pcmPath {
		// Selected (or sending digits): our own encoder takes over from
		// the shared stream with a new talk-spurt and fresh buffers.
		l.pcmPath, l.marker = true, true
		l.outFIFO.Reset()
		if l.downRS != nil {
			l.downRS.Reset()
		}
	}
	if l.downRS != nil {
		n := l.downRS.Process(l.downBuf, pcm)
		l.outFIFO.Write(l.downBuf[:n])
	} else {
		l.outFIFO.Write(pcm)
	}
	for l.outFIFO.Read(l.pktPCM) {
		if l.sendEvent(*dst) {
			continue
		}
		l.hdr = rtp.Header{Version: 2, Marker: l.marker, PayloadType: l.neg.PT, SequenceNumber: l.seq, Timestamp: l.ts, SSRC: l.ssrc}
		hn, err := l.hdr.MarshalTo(l.sendBuf[:])
		if err != nil {
			return
		}
		pn, err := l.enc.Encode(l.sendBuf[hn:], l.pktPCM)
		if err != nil {
			l.log.Debug("encode failed", "error", err)
			continue
		}
		l.gap++
		if _, err := l.conn.WriteToUDPAddrPort(l.sendBuf[:hn+pn], *dst); err != nil && !errors.Is(err, net.ErrClosed) {
			l.log.Debug("rtp send failed", "error", err)
		}
		l.stats.packetsOut.Add(1)
		l.metrics.rtpOut.Inc()
		l.stats.octetsOut.Add(uint64(pn))
		l.marker = false
		l.seq++
		l.ts += l.neg.Codec.RTPTicks(len(l.pktPCM))
	}
	l.countReport()
}

func sat16(v int32) int16 {
	return int16(min(max(v, -32768), 32767))
}

// countReport sends an RTCP sender report every five seconds of ticks.
func (l *rtpLeg) countReport() {
	l.sinceSR++
	if l.sinceSR >= int(5*time.Second/media.FrameDuration) {
		l.sinceSR = 0
		l.sendReport()
	}
}

// digitDuration and digitGap shape the digits SendDigits sends: 100 ms of
// tone, and at least two packets of audio between digits so that a
// repeated digit is heard as two.
const (
	digitDuration = 100 * time.Millisecond
	digitGapPkts  = 2
)

// SendDigits queues DTMF digits to send as RFC 4733 events; it reports
// false when the call negotiated no telephone-event.
func (l *rtpLeg) SendDigits(digits string) bool {
	if l.neg.DTMFPT < 0 {
		return false
	}
	l.digitMu.Lock()
	defer l.digitMu.Unlock()
	for _, r := range digits {
		if _, ok := dtmf.DigitToCode(r); ok {
			l.pending = append(l.pending, r)
		}
	}
	return true
}

// sendEvent sends the next telephone-event packet in place of an audio
// packet, if a digit is being sent or due; the stream clock runs on.
func (l *rtpLeg) sendEvent(dst netip.AddrPort) bool {
	if l.sender == nil {
		return false
	}
	if !l.sender.Active() {
		if l.gap < digitGapPkts {
			return false
		}
		l.digitMu.Lock()
		if len(l.pending) == 0 {
			l.digitMu.Unlock()
			return false
		}
		r := l.pending[0]
		l.pending = l.pending[1:]
		l.digitMu.Unlock()
		if err := l.sender.Start(r, digitDuration); err != nil {
			return false
		}
	}
	p, ok := l.sender.Next()
	if !ok {
		return false
	}
	if p.Marker {
		l.eventTS = l.ts
	}
	l.hdr = rtp.Header{Version: 2, Marker: p.Marker, PayloadType: uint8(l.neg.DTMFPT), SequenceNumber: l.seq,
		Timestamp: l.eventTS + p.TimestampOffset, SSRC: l.ssrc}
	hn, err := l.hdr.MarshalTo(l.sendBuf[:])
	if err != nil {
		return false
	}
	n := hn + copy(l.sendBuf[hn:], p.Payload[:])
	if _, err := l.conn.WriteToUDPAddrPort(l.sendBuf[:n], dst); err == nil {
		l.stats.packetsOut.Add(1)
		l.metrics.rtpOut.Inc()
	}
	l.seq++
	l.ts += l.neg.Codec.RTPTicks(len(l.pktPCM))
	if p.Last {
		l.gap = 0
		l.marker = true // audio resumes with a new talk-spurt
	}
	return true
}

func (l *rtpLeg) readRTP() {
	for {
		n, src, err := l.conn.ReadFromUDPAddrPort(l.readBuf[:])
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		l.handleRTP(l.readBuf[:n], src)
	}
}

// handleRTP takes one datagram: strict source after latching, then audio
// into the jitter buffer and telephone-events into the DTMF receiver.
func (l *rtpLeg) handleRTP(b []byte, src netip.AddrPort) {
	var h rtp.Header
	hn, err := h.Unmarshal(b)
	if err != nil || h.Version != 2 {
		l.stats.badIn.Add(1)
		return
	}
	payload := b[hn:]
	if h.Padding && len(payload) > 0 {
		pad := int(payload[len(payload)-1])
		if pad > len(payload) {
			l.stats.badIn.Add(1)
			return
		}
		payload = payload[:len(payload)-pad]
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.relatch {
		l.source, l.relatch = netip.AddrPort{}, false
	}
	if !l.source.IsValid() {
		// Latch: from now on only this source is accepted, and we send to
		// it (symmetric RTP for callers behind NAT).
		l.source = src
		s := src
		l.remote.Store(&s)
		r := netip.AddrPortFrom(src.Addr(), src.Port()+1)
		l.remoteRTCP.Store(&r)
	} else if src != l.source {
		l.stats.strayIn.Add(1)
		l.metrics.rtpStray.Inc()
		return
	}
	l.lastRecv.Store(l.clock.Now().UnixNano())
	l.stats.packetsIn.Add(1)
	l.metrics.rtpIn.Inc()
	l.stats.octetsIn.Add(uint64(len(payload)))
	l.lastSSRC = h.SSRC
	switch {
	case h.PayloadType == l.neg.PT:
		l.jb.Push(h.SequenceNumber, payload)
	case l.neg.DTMFPT >= 0 && int(h.PayloadType) == l.neg.DTMFPT:
		d, ok, err := l.digits.Push(h.SequenceNumber, h.Timestamp, payload, l.clock.Now())
		if err != nil {
			l.stats.badIn.Add(1)
		} else if ok {
			l.last4733 = d
			if l.onDigit != nil {
				l.onDigit(d)
			}
		}
	default:
		l.stats.badIn.Add(1)
	}
}

func (l *rtpLeg) readRTCP() {
	buf := make([]byte, 1500)
	for {
		n, _, err := l.rtcpConn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		for _, p := range pkts {
			if rr, ok := p.(*rtcp.ReceiverReport); ok {
				for _, r := range rr.Reports {
					l.log.Debug("rtcp receiver report", "fraction_lost", r.FractionLost, "jitter", r.Jitter)
				}
			}
		}
	}
}

// sendReport sends an RTCP sender report with a reception report block.
func (l *rtpLeg) sendReport() {
	dst := l.remoteRTCP.Load()
	if dst == nil || !dst.IsValid() {
		return
	}
	now := l.clock.Now()
	st := l.jb.Stats()
	sr := &rtcp.SenderReport{SSRC: l.ssrc, NTPTime: ntpTime(now), RTPTime: l.ts,
		PacketCount: uint32(l.stats.packetsOut.Load()), OctetCount: uint32(l.stats.octetsOut.Load())}
	l.mu.Lock()
	if l.lastSSRC != 0 {
		sr.Reports = []rtcp.ReceptionReport{{SSRC: l.lastSSRC, TotalLost: uint32(st.Lost) & 0xffffff}}
	}
	l.mu.Unlock()
	b, err := sr.Marshal()
	if err != nil {
		return
	}
	_, _ = l.rtcpConn.WriteToUDPAddrPort(b, *dst)
}

// ntpTime converts t to the 64-bit NTP format of RFC 3550 §4.
func ntpTime(t time.Time) uint64 {
	const ntpEpochOffset = 2208988800
	secs := uint64(t.Unix()) + ntpEpochOffset
	frac := uint64(t.Nanosecond()) << 32 / 1e9
	return secs<<32 | frac
}

// idle returns how long ago the last RTP packet arrived (since start if none).
func (l *rtpLeg) idle(since time.Time) time.Duration {
	last := l.lastRecv.Load()
	if last == 0 {
		return l.clock.Now().Sub(since)
	}
	return l.clock.Now().Sub(time.Unix(0, last))
}

func (l *rtpLeg) closeSockets() {
	l.conn.Close()
	l.rtcpConn.Close()
	l.ports.release(l.port)
}

// close stops the leg and waits for its goroutines.
func (l *rtpLeg) close() {
	l.once.Do(func() {
		close(l.done)
		l.closeSockets()
		l.wg.Wait()
		l.mu.Lock()
		st := l.jb.Stats()
		l.mu.Unlock()
		l.metrics.rtpLost.Add(float64(st.Lost))
		l.metrics.rtpLate.Add(float64(st.Late))
	})
}
