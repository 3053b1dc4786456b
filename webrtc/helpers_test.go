package webrtc

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
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

func testLogger() *slog.Logger {
	if os.Getenv("WEBRTC_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// engineConference is a Conference on the real mixer engine.
type engineConference struct{ e *mixerengine.Engine }

type engineMember struct{ *mixerengine.Member }

func (m engineMember) ID() string { return string(m.Member.ID()) }

func (c engineConference) Rate() int { return c.e.Rate() }

func (c engineConference) Join(room string, p media.Participant, _ Identity) (Membership, error) {
	m, err := c.e.Join(mixerengine.RoomID(room), p)
	if err != nil {
		return nil, err
	}
	return engineMember{m}, nil
}

var testKeys = auth.Keys{"KEY": "test-secret"}

// token signs a token for room.
func token(t *testing.T, room string, publish bool) string {
	t.Helper()
	tok, err := testKeys.Sign("KEY", auth.Claims{Identity: "id-" + room, Name: "Tester",
		Grant: auth.Grant{Room: room, Join: true, Publish: publish, Subscribe: true}, Expires: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func loopbackOnly(ip net.IP) bool { return ip.IsLoopback() && ip.To4() != nil }

// freeUDPPort returns a UDP port free on 127.0.0.1 a moment ago.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

type testBridge struct {
	engine *mixerengine.Engine
	edge   *Edge
	srv    *httptest.Server
}

// newBridge starts an engine at 48 kHz, an Edge on a UDP mux on
// 127.0.0.1, and an HTTP server on 127.0.0.1.
func newBridge(t *testing.T, mod func(*Config)) *testBridge {
	t.Helper()
	eng := mixerengine.New(mixerengine.Config{Rate: 48000, Logger: testLogger()})
	cfg := Config{Logger: testLogger(), UDPMuxPort: freeUDPPort(t), ListenIP: "127.0.0.1", IncludeLoopback: true,
		IPFilter: loopbackOnly, JitterDepth: 2,
		ICEServers: []ICEServer{{URLs: []string{"turn:127.0.0.1:3478"}, Username: "u", Credential: "p"}}}
	if mod != nil {
		mod(&cfg)
	}
	edge, err := New(cfg, engineConference{eng}, KeysAuthorizer(testKeys, nil))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(edge.Handler())
	t.Cleanup(func() {
		srv.Close()
		edge.Close()
		eng.Close()
	})
	return &testBridge{engine: eng, edge: edge, srv: srv}
}

// client is a pion peer playing a browser.
type client struct {
	t        *testing.T
	pc       *pion.PeerConnection
	track    *pion.TrackLocalStaticRTP // nil for a listener
	levelExt uint8

	location, etag, participant string

	pcmu bool
	rate int // of what it sends and hears: 48000, or 8000 with pcmu

	mu       sync.Mutex
	received []int16 // decoded at rate
	packets  int

	stop chan struct{}
	wg   sync.WaitGroup
}

type clientOpts struct {
	publish    bool
	audioLevel bool // offer the RFC 6464 extension and send it
	tone       float64
	amplitude  float64
	level      int // the level to send, -1 measures it
	// ice and relay make the client reach the edge through these TURN
	// servers only.
	ice   []pion.ICEServer
	relay bool
	// pcmu makes a client that offers only G.711 μ-law (a WHIP client
	// without Opus); it hears and sends at 8 kHz.
	pcmu bool
}

func newClientAPI(t *testing.T, audioLevel bool, pcmu ...bool) *pion.API {
	t.Helper()
	m := &pion.MediaEngine{}
	if len(pcmu) > 0 && pcmu[0] {
		if err := m.RegisterCodec(pion.RTPCodecParameters{RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypePCMU,
			ClockRate: 8000, Channels: 1}, PayloadType: 0}, pion.RTPCodecTypeAudio); err != nil {
			t.Fatal(err)
		}
	} else if err := m.RegisterCodec(pion.RTPCodecParameters{RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypeOpus,
		ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: 111}, pion.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	if audioLevel {
		if err := m.RegisterHeaderExtension(pion.RTPHeaderExtensionCapability{URI: audioLevelURI}, pion.RTPCodecTypeAudio); err != nil {
			t.Fatal(err)
		}
	}
	var s pion.SettingEngine
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	s.SetIncludeLoopbackCandidate(true)
	s.SetIPFilter(loopbackOnly)
	s.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4})
	return pion.NewAPI(pion.WithMediaEngine(m), pion.WithSettingEngine(s))
}

// offer creates the client's offer with every candidate.
func (c *client) offer(opts *pion.OfferOptions) string {
	c.t.Helper()
	o, err := c.pc.CreateOffer(opts)
	if err != nil {
		c.t.Fatal(err)
	}
	gathered := pion.GatheringCompletePromise(c.pc)
	if err := c.pc.SetLocalDescription(o); err != nil {
		c.t.Fatal(err)
	}
	<-gathered
	return c.pc.LocalDescription().SDP
}

func newPeer(t *testing.T, o clientOpts) *client {
	t.Helper()
	conf := pion.Configuration{ICEServers: o.ice}
	if o.relay {
		conf.ICETransportPolicy = pion.ICETransportPolicyRelay
	}
	pc, err := newClientAPI(t, o.audioLevel, o.pcmu).NewPeerConnection(conf)
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, pc: pc, stop: make(chan struct{}), pcmu: o.pcmu, rate: 48000}
	codec := media.Opus
	if o.pcmu {
		c.rate, codec = 8000, media.PCMU
	}
	t.Cleanup(c.close)
	if o.publish {
		capab := pion.RTPCodecCapability{MimeType: pion.MimeTypeOpus, ClockRate: 48000, Channels: 2}
		if o.pcmu {
			capab = pion.RTPCodecCapability{MimeType: pion.MimeTypePCMU, ClockRate: 8000, Channels: 1}
		}
		c.track, err = pion.NewTrackLocalStaticRTP(capab, "mic", "client")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pc.AddTransceiverFromTrack(c.track, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionSendrecv}); err != nil {
			t.Fatal(err)
		}
	} else if _, err := pc.AddTransceiverFromKind(pion.RTPCodecTypeAudio,
		pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	pc.OnTrack(func(tr *pion.TrackRemote, _ *pion.RTPReceiver) {
		dec, err := codec.NewDecoder()
		if err != nil {
			t.Error(err)
			return
		}
		c.wg.Add(1) // before the close that waits: OnTrack fires while connected
		go func() {
			defer c.wg.Done()
			pcm := make([]int16, 5760)
			for {
				p, _, err := tr.ReadRTP()
				if err != nil {
					return
				}
				n, err := dec.Decode(pcm, p.Payload)
				c.mu.Lock()
				c.packets++
				if err == nil {
					c.received = append(c.received, pcm[:n]...)
				}
				c.mu.Unlock()
			}
		}()
	})
	return c
}

// post sends the offer to path and applies the answer.
func (c *client) post(url, tok string) *http.Response {
	c.t.Helper()
	sdp := c.offer(nil)
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(sdp))
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		c.t.Fatalf("POST %s: %d %s", url, resp.StatusCode, body)
	}
	c.location, c.etag, c.participant = resp.Header.Get("Location"), resp.Header.Get("ETag"), resp.Header.Get("Setbridge-Participant")
	if err := c.pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: string(body)}); err != nil {
		c.t.Fatal(err)
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
	return resp
}

// waitConnected waits for the client's connection.
func (c *client) waitConnected() {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for c.pc.ConnectionState() != pion.PeerConnectionStateConnected {
		if time.Now().After(deadline) {
			c.t.Fatalf("client not connected: %s", c.pc.ConnectionState())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// send publishes a sine of freq at amp (0..1 of full scale) as Opus every
// 20 ms until close. level is the RFC 6464 level sent when the extension
// was negotiated; -1 sends the measured level.
func (c *client) send(freq, amp float64, level int) {
	codec, pt := media.Opus, uint8(111)
	if c.pcmu {
		codec, pt = media.PCMU, 0
	}
	enc, err := codec.NewEncoder()
	if err != nil {
		c.t.Fatal(err)
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		tk := time.NewTicker(media.FrameDuration)
		defer tk.Stop()
		frame := make([]int16, c.rate/50)
		buf := make([]byte, 1500)
		var n int
		seq, ts := uint16(1000), uint32(5000)
		for {
			select {
			case <-c.stop:
				return
			case <-tk.C:
			}
			for i := range frame {
				frame[i] = int16(amp * 32767 * math.Sin(2*math.Pi*freq*float64(n)/float64(c.rate)))
				n++
			}
			pn, err := enc.Encode(buf, frame)
			if err != nil {
				c.t.Error(err)
				return
			}
			p := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: ts}, Payload: buf[:pn]}
			if c.levelExt != 0 {
				l := byte(level)
				if level < 0 {
					l = selector.Level(frame)
				}
				if err := p.Header.SetExtension(c.levelExt, []byte{l}); err != nil {
					c.t.Error(err)
					return
				}
			}
			_ = c.track.WriteRTP(p)
			seq++
			ts += uint32(codec.RTPTicks(len(frame)))
		}
	}()
}

// recent returns the last d of received audio.
func (c *client) recent(d time.Duration) []int16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := int(d.Seconds() * float64(c.rate))
	if len(c.received) < n {
		return append([]int16(nil), c.received...)
	}
	return append([]int16(nil), c.received[len(c.received)-n:]...)
}

func (c *client) close() {
	select {
	case <-c.stop:
		return
	default:
	}
	close(c.stop)
	_ = c.pc.Close()
	c.wg.Wait()
}

// do runs a request with a fresh connection (no keep-alive goroutines left).
func do(t *testing.T, method, url, ctype, tok string, body []byte, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	cl := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, b
}

// eventually polls cond for up to d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var pionOfferRestart = pion.OfferOptions{ICERestart: true}

func pionAnswer(sdp string) pion.SessionDescription {
	return pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: sdp}
}
