package webrtc

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/hraban/opus"
	"github.com/pion/rtp"

	"github.com/setbridge/setbridge/media"
	"github.com/setbridge/setbridge/media/resample"
	"github.com/setbridge/setbridge/selector"
)

// counters are the Edge's totals, shared by its legs.
type counters struct {
	packetsIn, packetsOut, decodes, encodes, badIn atomic.Uint64
}

// rtpWriter is where a leg sends its packets: a pion TrackLocalStaticRTP,
// or a stand-in in benchmarks.
type rtpWriter interface {
	WriteRTP(p *rtp.Packet) error
}

// frameState says what the tick's frame is after a playout.
type frameState uint8

const (
	frameNone     frameState = iota // no audio this tick
	frameDecoded                    // decoded into leg.frameBuf
	frameDeferred                   // one packet of exactly one frame in leg.pending, not decoded yet
)

// levelFlag marks, in the byte a leg stores in front of each payload in
// its jitter buffer, that the packet carried an RFC 6464 audio level (the
// low 7 bits).
const levelFlag = 0x80

// leg is one WebRTC session's participant: media.Participant,
// media.SharedDownlink and selector.LevelReader.
//
// Uplink: a goroutine reads RTP from the remote track into a jitter
// buffer; the room's tick plays it out, one frame per tick, decoding at the
// room's rate (Opus decodes at 8, 16 or 48 kHz directly; G.711 and G.722
// are decoded at their rate and resampled).
//
// Levels: the leg always implements selector.LevelReader. When the packet
// at the playout point carries the RFC 6464 audio level extension and holds
// exactly one frame (the 20 ms browsers send), ReadLevel returns that level
// and keeps the packet undecoded; ReadFrame decodes it only if the room
// selects the leg, so listeners who are not talking cost no decode. Packets
// without the extension (or of another duration) are decoded in ReadLevel
// and measured with selector.Level, as the SIP edge does. A deferred packet
// that is never read is never decoded either, so the decoder skips it; the
// first frames after the leg is selected carry the small artefact of that
// discontinuity.
//
// Downlink: while the leg listens it sends the room's shared encoding of
// the common mix, wrapping each payload in its own RTP header; while it is
// a talker it encodes its N-1 mix with its own encoder. One SSRC (pion's),
// one sequence and timestamp space across both.
type leg struct {
	log    *slog.Logger
	rate   int // the conference rate
	frame  int // samples per frame at rate
	stats  *counters
	uplink bool // a WHIP leg; WHEP legs never have audio to read

	mu        sync.Mutex // guards the receive pipeline below
	jb        *media.JitterBuffer
	upCodec   media.Codec
	opusDec   *opus.Decoder // Opus decoder at rate; nil for other codecs
	dec       media.Decoder // other codecs, at upCodec.SampleRate
	upRS      *resample.Resampler
	decBuf    []int16 // one decoded packet (up to 120 ms)
	rsBuf     []int16
	fifo      *media.SampleFIFO // decoded audio at rate
	frameBuf  []int16
	pending   []byte
	state     frameState
	levelRead bool // ReadLevel played out this tick's frame

	// Owned by the read goroutine.
	levelExt uint8 // negotiated extension id of the audio level; 0 none
	upPT     uint8 // negotiated payload type of the uplink
	hdr      rtp.Header
	pushBuf  [1 + media.MaxJitterPayload]byte

	// Send pipeline, owned by the tick goroutine.
	out      rtpWriter
	format   media.FormatKey
	outCodec media.Codec // the codec as the room's shared encoder runs it
	encCodec media.Codec // the codec as our own encoder runs it
	enc      media.Encoder
	downRS   *resample.Resampler
	downBuf  []int16
	outFIFO  *media.SampleFIFO
	pktPCM   []int16
	encBuf   [1500]byte
	pkt      rtp.Packet
	seq      uint16
	ts       uint32
	marker   bool
	pcmPath  bool
	sending  atomic.Bool // the peer connection is connected
}

// newLeg builds a leg whose downlink sends codec c to out (nil: no
// downlink) at conference rate rate.
func newLeg(log *slog.Logger, rate int, c media.Codec, out rtpWriter, uplink bool, st *counters, seq uint16, ts uint32) (*leg, error) {
	l := &leg{log: log, rate: rate, frame: media.FrameSamples(rate), stats: st, uplink: uplink,
		out: out, outCodec: c, seq: seq, ts: ts, marker: true}
	if out == nil {
		return l, nil
	}
	l.format = media.FormatKey{Codec: c.Name}
	l.encCodec = c
	if c.Name == media.Opus.Name {
		l.encCodec.SampleRate = rate // Opus takes 8, 16 and 48 kHz input alike
	}
	enc, err := l.encCodec.NewEncoder()
	if err != nil {
		return nil, fmt.Errorf("leg encoder: %w", err)
	}
	l.enc = enc
	if l.encCodec.SampleRate != rate {
		if l.downRS, err = resample.New(rate, l.encCodec.SampleRate); err != nil {
			return nil, fmt.Errorf("leg encoder: %w", err)
		}
		l.downBuf = make([]int16, l.downRS.OutLen(l.frame)+1)
	}
	pkt := media.FrameSamples(l.encCodec.SampleRate)
	l.pktPCM = make([]int16, pkt)
	l.outFIFO = media.NewSampleFIFO(4 * pkt)
	return l, nil
}

// startUplink prepares decoding of the remote track's codec; levelExt is
// the negotiated id of the audio level extension, 0 when not negotiated.
func (l *leg) startUplink(c media.Codec, pt, levelExt uint8, jitterDepth int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.upCodec, l.upPT, l.levelExt = c, pt, levelExt
	if c.Name == media.Opus.Name {
		d, err := opus.NewDecoder(l.rate, 1)
		if err != nil {
			return fmt.Errorf("opus decoder: %w", err)
		}
		l.opusDec = d
	} else {
		d, err := c.NewDecoder()
		if err != nil {
			return err
		}
		l.dec = d
		if c.SampleRate != l.rate {
			if l.upRS, err = resample.New(c.SampleRate, l.rate); err != nil {
				return err
			}
		}
	}
	maxRate := max(l.rate, c.SampleRate)
	l.decBuf = make([]int16, maxRate*120/1000)
	l.rsBuf = make([]int16, l.rate*120/1000+1)
	l.fifo = media.NewSampleFIFO(l.rate / 2)
	l.frameBuf = make([]int16, l.frame)
	l.pending = make([]byte, 0, media.MaxJitterPayload)
	l.jb = media.NewJitterBuffer(jitterDepth)
	return nil
}

// push takes one RTP packet read from the remote track. It runs on the
// session's read goroutine.
func (l *leg) push(b []byte) {
	hn, err := l.hdr.Unmarshal(b)
	if err != nil {
		l.stats.badIn.Add(1)
		return
	}
	payload := b[hn:]
	if l.hdr.Padding && len(payload) > 0 {
		pad := int(payload[len(payload)-1])
		if pad > len(payload) {
			l.stats.badIn.Add(1)
			return
		}
		payload = payload[:len(payload)-pad]
	}
	if len(payload) > media.MaxJitterPayload {
		l.stats.badIn.Add(1)
		return
	}
	l.stats.packetsIn.Add(1)
	if l.hdr.PayloadType != l.upPT {
		l.stats.badIn.Add(1) // comfort noise or a codec we did not set up
		return
	}
	meta := byte(0)
	if l.levelExt != 0 {
		// RFC 6464 §3: one byte, V then the level in -dBov.
		if ext := l.hdr.GetExtension(l.levelExt); len(ext) >= 1 {
			meta = levelFlag | ext[0]&0x7f
		}
	}
	l.pushBuf[0] = meta
	n := 1 + copy(l.pushBuf[1:], payload)
	l.mu.Lock()
	l.jb.Push(l.hdr.SequenceNumber, l.pushBuf[:n])
	l.mu.Unlock()
}

// ReadLevel implements selector.LevelReader: it plays out this tick's
// frame and reports its level, from the RFC 6464 extension when the packet
// carries it (without decoding), else by decoding and measuring.
func (l *leg) ReadLevel() (uint8, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lvl, ok := l.playoutLocked(true)
	l.levelRead = true
	return lvl, ok
}

// ReadFrame implements media.Uplink: this tick's frame at the room's rate.
func (l *leg) ReadFrame(dst []int16) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.levelRead {
		l.playoutLocked(false)
	}
	l.levelRead = false
	st := l.state
	l.state = frameNone
	switch st {
	case frameDecoded:
		copy(dst, l.frameBuf)
		return true
	case frameDeferred:
		l.decodeLocked(l.pending)
		return l.fifo.Read(dst[:l.frame])
	}
	return false
}

// playoutLocked takes this tick's frame out of the jitter buffer and sets
// l.state; measure asks for the level of a decoded frame. l.mu is held.
func (l *leg) playoutLocked(measure bool) (uint8, bool) {
	l.state = frameNone
	if l.jb == nil {
		return selector.Silence, false
	}
	if l.fifo.Len() == 0 {
		payload, st := l.jb.Pop()
		switch st {
		case media.JitterEmpty:
			return selector.Silence, false
		case media.JitterLost:
			l.concealLocked()
		case media.JitterPacket:
			meta, body := payload[0], payload[1:]
			if meta&levelFlag != 0 && l.samplesAtRate(body) == l.frame {
				l.pending = append(l.pending[:0], body...)
				l.state = frameDeferred
				return meta &^ levelFlag, true
			}
			l.decodeLocked(body)
		}
	}
	for l.fifo.Len() < l.frame {
		payload, st := l.jb.Pop()
		switch st {
		case media.JitterPacket:
			l.decodeLocked(payload[1:])
		case media.JitterLost:
			l.concealLocked()
		default:
			// Underrun in the middle of a frame: keep what we have for
			// the next tick.
			return selector.Silence, false
		}
	}
	l.fifo.Read(l.frameBuf)
	l.state = frameDecoded
	if !measure {
		return 0, true
	}
	return selector.Level(l.frameBuf), true
}

// samplesAtRate returns how many samples at the room's rate payload holds.
func (l *leg) samplesAtRate(payload []byte) int {
	switch l.upCodec.Name {
	case media.Opus.Name:
		return opusSamples(payload) * l.rate / 48000
	case media.G722.Name:
		return len(payload) * 2 * l.rate / 16000
	default:
		return len(payload) * l.rate / 8000
	}
}

// decodeLocked decodes one payload into the FIFO at the room's rate.
func (l *leg) decodeLocked(payload []byte) {
	l.stats.decodes.Add(1)
	if l.opusDec != nil {
		n, err := l.opusDec.Decode(payload, l.decBuf)
		if err != nil {
			l.stats.badIn.Add(1)
			l.fifo.WriteSilence(l.frame)
			return
		}
		l.fifo.Write(l.decBuf[:n])
		return
	}
	n, err := l.dec.Decode(l.decBuf, payload)
	if err != nil {
		l.stats.badIn.Add(1)
		l.fifo.WriteSilence(l.frame)
		return
	}
	pcm := l.decBuf[:n]
	if l.upRS != nil {
		pcm = l.rsBuf[:l.upRS.Process(l.rsBuf, pcm)]
	}
	l.fifo.Write(pcm)
}

// concealLocked fills one frame for a lost packet: Opus packet loss
// concealment, silence for the other codecs.
func (l *leg) concealLocked() {
	if l.opusDec != nil && l.opusDec.DecodePLC(l.decBuf[:l.frame]) == nil {
		l.fifo.Write(l.decBuf[:l.frame])
		return
	}
	l.fifo.WriteSilence(l.frame)
}

// DownlinkFormat implements media.SharedDownlink.
func (l *leg) DownlinkFormat() media.FormatKey { return l.format }

// WriteShared implements media.SharedDownlink: the room encoded the common
// mix once for every leg of our format; we only add our RTP header. pion
// encrypts the packet into its own buffer before WriteRTP returns, so the
// shared payload is neither modified nor kept.
func (l *leg) WriteShared(f *media.SharedFrame) {
	if l.out == nil {
		return
	}
	if !l.sending.Load() {
		l.marker = true
		return
	}
	if l.pcmPath {
		// Back from talking: the shared stream starts a new talk-spurt.
		l.pcmPath, l.marker = false, true
	}
	for i := range f.Packets {
		p := &f.Packets[i]
		l.send(p.Payload, l.outCodec.RTPTicks(p.Samples))
	}
}

// WriteFrame implements media.Downlink: our N-1 mix while we are a
// selected talker, encoded with our own encoder.
func (l *leg) WriteFrame(pcm []int16) {
	if l.out == nil {
		return
	}
	if !l.sending.Load() {
		l.marker = true
		return
	}
	if !l.pcmPath {
		l.pcmPath, l.marker = true, true
		l.outFIFO.Reset()
		if l.downRS != nil {
			l.downRS.Reset()
		}
	}
	if l.downRS != nil {
		pcm = l.downBuf[:l.downRS.Process(l.downBuf, pcm)]
	}
	l.outFIFO.Write(pcm)
	for l.outFIFO.Read(l.pktPCM) {
		n, err := l.enc.Encode(l.encBuf[:], l.pktPCM)
		l.stats.encodes.Add(1)
		if err != nil {
			l.log.Debug("encode failed", "error", err)
			continue
		}
		l.send(l.encBuf[:n], l.encCodec.RTPTicks(len(l.pktPCM)))
	}
}

// send wraps one payload in our RTP header; pion sets SSRC and payload
// type for the binding.
func (l *leg) send(payload []byte, ticks uint32) {
	l.pkt.Header = rtp.Header{Version: 2, Marker: l.marker, PayloadType: l.outCodec.PayloadType,
		SequenceNumber: l.seq, Timestamp: l.ts}
	l.pkt.Payload = payload
	if err := l.out.WriteRTP(&l.pkt); err != nil {
		l.log.Debug("rtp send failed", "error", err)
	} else {
		l.stats.packetsOut.Add(1)
	}
	l.pkt.Payload = nil
	l.marker = false
	l.seq++
	l.ts += ticks
}
