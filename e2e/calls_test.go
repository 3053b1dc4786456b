package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/setbridge/setbridge/internal/audiotest"
	"github.com/setbridge/setbridge/internal/peers"
)

// toneCaller starts baresip calling number on s, playing a tone of freq
// and recording what it hears.
func toneCaller(t *testing.T, ctx context.Context, s *server, number string, freq float64, codecs []string) (*peers.Baresip, string) {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, fmt.Sprintf("tone%.0f.wav", freq))
	if err := audiotest.WriteMonoWAV(src, 8000, audiotest.GenTone(8000, freq, 0.3, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	rec := filepath.Join(dir, "heard.wav")
	b, err := peers.StartBaresip(ctx, peers.BaresipOptions{T: t, Dial: "sip:" + number + "@" + s.SIPUDP,
		PlayWAV: src, RecordWAV: rec, Codecs: codecs})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.WaitEstablished(ctx); err != nil {
		t.Fatalf("call of %.0f Hz caller not established: %v\n%s", freq, err, b.Output())
	}
	return b, rec
}

// hearsOtherNotSelf checks what a caller heard: the other caller's tone at
// -20 dB or louder, and its own at least 30 dB below that (N-1).
func hearsOtherNotSelf(t *testing.T, who string, pcm []int16, rate int, other, self float64) {
	t.Helper()
	o := audiotest.ToneLevelDB(pcm, rate, other)
	s := audiotest.ToneLevelDB(pcm, rate, self)
	t.Logf("%s hears %.0f Hz at %.1f dB and its own %.0f Hz at %.1f dB", who, other, o, self, s)
	if o < -20 {
		t.Errorf("%s does not hear the other caller's %.0f Hz (%.1f dB)", who, other, o)
	}
	if s > o-30 {
		t.Errorf("%s hears itself: %.0f Hz at %.1f dB against %.1f dB", who, self, s, o)
	}
}

// phone starts baresip and waits until its call is established.
func phone(t *testing.T, ctx context.Context, opts peers.BaresipOptions) *peers.Baresip {
	t.Helper()
	b, err := peers.StartBaresip(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.WaitEstablished(ctx); err != nil {
		t.Fatalf("call not established: %v\n%s", err, b.Output())
	}
	return b
}

// heard reads a recording and returns its mono samples after the first
// skip (the jitter buffer filling, the other caller joining).
func heard(t *testing.T, path string, skip time.Duration) ([]int16, int) {
	t.Helper()
	a, err := audiotest.ReadWAV(path)
	if err != nil {
		t.Fatal(err)
	}
	m := a.Mono()
	n := audiotest.Samples(a.Rate, skip)
	if len(m) <= n+a.Rate/2 {
		t.Fatalf("recording %s holds only %v", path, a.Duration())
	}
	return m[n:], a.Rate
}

// TestTwoCallersHearEachOtherNotThemselves is the first real call: two
// baresip phones in room demo, one playing 440 Hz and one 1000 Hz.
func TestTwoCallersHearEachOtherNotThemselves(t *testing.T) {
	for _, codecs := range [][]string{{"PCMU"}, {"PCMA"}, {"G722"}, {"opus"}} {
		t.Run(codecs[0], func(t *testing.T) {
			s := startServer(t, "")
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()
			a, recA := toneCaller(t, ctx, s, "1000", 440, codecs)
			b, recB := toneCaller(t, ctx, s, "1000", 1000, codecs)
			waitFor(t, 5*time.Second, "two calls", func() bool { return s.metric("setbridge_sip_active_calls") == 2 })
			time.Sleep(3 * time.Second) // the audio being measured
			if err := b.Stop(); err != nil {
				t.Fatal(err)
			}
			if err := a.Stop(); err != nil {
				t.Fatal(err)
			}
			// A joined first: the part of its recording before B joined is
			// silence, so look at the end.
			ha, rate := heard(t, recA, 0)
			ha = ha[max(0, len(ha)-2*rate):]
			hb, rateB := heard(t, recB, 500*time.Millisecond)
			hearsOtherNotSelf(t, "440 Hz caller", ha, rate, 1000, 440)
			hearsOtherNotSelf(t, "1000 Hz caller", hb, rateB, 440, 1000)
		})
	}
}

// TestSippScenarios runs sipp's built-in UAC and setbridge's own scenarios.
func TestSippScenarios(t *testing.T) {
	s := startServer(t, "")
	tests := []struct {
		name      string
		scenario  string
		transport string
		calls     int
	}{
		{"built-in uac over UDP", "uac", "u1", 5},
		{"built-in uac over TCP", "uac", "t1", 3},
		{"offer in 200, answer in ACK", "uac_nosdp", "u1", 2},
		{"hold and resume keep the call up", "uac_hold", "u1", 1},
		{"a G.711 A-law caller plays the sipp pcap", "uac_pcma_tone", "u1", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			target := s.SIPUDP
			if strings.HasPrefix(tt.transport, "t") {
				target = s.SIPTCP
			}
			res, err := peers.RunSipp(ctx, peers.SippOptions{T: t, Scenario: tt.scenario, Target: target, Service: "1000",
				Calls: tt.calls, Rate: 10, Transport: tt.transport, Timeout: 45 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if err := res.Check(tt.calls); err != nil {
				t.Fatal(err)
			}
		})
	}
	waitFor(t, 5*time.Second, "no call left", func() bool { return s.metric("setbridge_sip_active_calls") == 0 })
}

// TestPhoneHearsSippsRecording: sipp plays sip-tester's g711a.pcap (speech)
// into room demo; a baresip phone in the room records what it hears, which
// must be that speech: correlated with the pcap's audio.
func TestPhoneHearsSippsRecording(t *testing.T) {
	s := startServer(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rec := filepath.Join(t.TempDir(), "heard.wav")
	b := phone(t, ctx, peers.BaresipOptions{T: t, Dial: "sip:1000@" + s.SIPUDP, RecordWAV: rec, Codecs: []string{"PCMA"}})
	res, err := peers.RunSipp(ctx, peers.SippOptions{T: t, Scenario: "uac_pcma_tone", Target: s.SIPUDP, Service: "1000", Calls: 1, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Check(1); err != nil {
		t.Fatal(err)
	}
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	ref, err := peers.PcapAudio(filepath.Join(peers.SippDataDir, "g711a.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := audiotest.ReadWAV(rec)
	if err != nil {
		t.Fatal(err)
	}
	heard := got.Mono()
	if len(heard) < len(ref.Samples) {
		t.Fatalf("heard %v, shorter than the %v played", got.Duration(), ref.Duration())
	}
	// Look for the reference anywhere in the recording (sipp joined after
	// baresip), on its middle 4 s to stay clear of the edges.
	probe := ref.Samples[8000 : 8000+4*8000]
	lag, coeff := audiotest.CrossCorrelate(probe, heard, len(heard)-len(probe))
	t.Logf("the pcap's speech is heard at lag %d with correlation %.3f", lag, coeff)
	if coeff < 0.6 {
		t.Fatalf("what the phone heard does not match what sipp played (correlation %.3f)", coeff)
	}
}
