package peers

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/setbridge/setbridge/internal/audiotest"
)

// TestBaresipEchoTone: baresip calls a sipp UAS that echoes RTP, plays a
// tone WAV, and its recording of the far end must contain that tone (and
// not another): the whole audio path of the driver, per codec.
func TestBaresipEchoTone(t *testing.T) {
	requireProgram(t, "sipp")
	requireProgram(t, "baresip")
	cases := []struct {
		codec     string
		decoder   string // as in baresip's "Set audio decoder" line
		toneHz    float64
		absentHz  float64
		wavRateHz int
	}{
		{"PCMU", "PCMU 8000Hz", 1000, 440, 16000},
		{"PCMA", "PCMA 8000Hz", 1000, 440, 8000},
		{"G722", "G722 16000Hz", 1000, 440, 48000},
		{"opus", "opus 48000Hz", 1000, 440, 16000},
		// The negative case: a 440 Hz source must not show up as 1000 Hz.
		{"PCMU", "PCMU 8000Hz", 440, 1000, 8000},
	}
	for _, tc := range cases {
		name := fmt.Sprintf("%s_%.0fHz", tc.codec, tc.toneHz)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t, 25*time.Second)
			uas := startEchoUAS(t, ctx)
			dir := t.TempDir()
			play := filepath.Join(dir, "tone.wav")
			if err := audiotest.WriteMonoWAV(play, tc.wavRateHz, audiotest.GenTone(tc.wavRateHz, tc.toneHz, 0.5, 3*time.Second)); err != nil {
				t.Fatal(err)
			}
			rec := filepath.Join(dir, "heard.wav")
			sent := filepath.Join(dir, "sent.wav")
			b, err := StartBaresip(ctx, BaresipOptions{
				T:             t,
				Dial:          "sip:1000@" + uas.Addr,
				PlayWAV:       play,
				RecordWAV:     rec,
				RecordSentWAV: sent,
				Codecs:        []string{tc.codec},
				Duration:      2 * time.Second,
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := b.WaitEstablished(ctx); err != nil {
				t.Fatal(err)
			}
			if err := b.Wait(ctx); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(b.Output(), "Set audio decoder: "+tc.decoder) {
				t.Errorf("baresip did not use %s", tc.decoder)
			}
			heard, err := audiotest.ReadWAV(rec)
			if err != nil {
				t.Fatal(err)
			}
			if heard.Duration() < 1500*time.Millisecond {
				t.Errorf("recording lasts %v, want about 2s", heard.Duration())
			}
			// Skip the first 200 ms (echo start-up), look at one second.
			s := audiotest.Slice(heard.Mono(), heard.Rate, 200*time.Millisecond, 1200*time.Millisecond)
			level := audiotest.ToneLevelDB(s, heard.Rate, tc.toneHz)
			other := audiotest.ToneLevelDB(s, heard.Rate, tc.absentHz)
			rms := audiotest.RMSdBFS(s)
			t.Logf("%s: heard %d Hz %d ch %v; %.0f Hz at %.1f dBFS, %.0f Hz at %.1f dBFS, RMS %.1f dBFS",
				tc.codec, heard.Rate, heard.Channels, heard.Duration(), tc.toneHz, level, tc.absentHz, other, rms)
			if !audiotest.HasTone(s, heard.Rate, tc.toneHz, -12) {
				t.Errorf("%.0f Hz tone not heard (%.1f dBFS, want >= -12; played at -6)", tc.toneHz, level)
			}
			if audiotest.HasTone(s, heard.Rate, tc.absentHz, -40) {
				t.Errorf("%.0f Hz heard at %.1f dBFS though it was not played", tc.absentHz, other)
			}
			if level-rms < -1.5 {
				t.Errorf("tone %.1f dB but RMS %.1f dB: the recording is not a clean tone", level, rms)
			}
			if f, _ := audiotest.DominantTone(s, heard.Rate, []float64{440, 697, 1000, 1209, 2000}); f != tc.toneHz {
				t.Errorf("dominant tone %.0f Hz, want %.0f", f, tc.toneHz)
			}
			// The sent recording holds the source tone too.
			sentA, err := audiotest.ReadWAV(sent)
			if err != nil {
				t.Fatal(err)
			}
			if !audiotest.HasTone(sentA.Mono(), sentA.Rate, tc.toneHz, -8) {
				t.Errorf("sent recording lacks the tone (%.1f dBFS)", audiotest.ToneLevelDB(sentA.Mono(), sentA.Rate, tc.toneHz))
			}
			res, err := uas.Stop()
			if err != nil {
				t.Fatal(err)
			}
			if err := res.Check(1); err != nil {
				t.Error("UAS:", err)
			}
		})
	}
}

// TestBaresipDTMF: baresip sends RFC 4733 digits to the echoing UAS, which
// reflects the events, so baresip must receive the same digits back.
func TestBaresipDTMF(t *testing.T) {
	requireProgram(t, "sipp")
	requireProgram(t, "baresip")
	t.Parallel()
	ctx := testContext(t, 25*time.Second)
	uas := startEchoUAS(t, ctx)
	const digits = "159#"
	b, err := StartBaresip(ctx, BaresipOptions{T: t, Dial: "sip:2000@" + uas.Addr, DTMF: digits})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.WaitEstablished(ctx); err != nil {
		t.Fatal(err)
	}
	from := 0
	for i := 0; i < len(digits); i++ {
		ev, err := b.WaitEvent(ctx, from, "CALL_DTMF_START")
		if err != nil {
			t.Fatalf("digit %d: %v (got %q so far)", i, err, b.ReceivedDTMF())
		}
		from = indexOfEvent(b.Events(), ev) + 1
	}
	if got := b.ReceivedDTMF(); got != digits {
		t.Errorf("echoed DTMF %q, want %q", got, digits)
	}
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	res, err := uas.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Check(1); err != nil {
		t.Error("UAS:", err)
	}
	// The offer carried telephone-event.
	if !strings.Contains(res.Messages, "telephone-event/8000") {
		t.Error("no telephone-event in the SDP")
	}
}

func indexOfEvent(evs []BaresipEvent, ev BaresipEvent) int {
	for i, e := range evs {
		if e == ev {
			return i
		}
	}
	return len(evs)
}

// TestBaresipAutoAnswer: sipp's uac_nosdp calls baresip (delayed offer:
// baresip offers in its 200, sipp answers PCMA in the ACK) and plays 2 s of
// g711a.pcap; baresip's recording must match what the pcap carries.
func TestBaresipAutoAnswer(t *testing.T) {
	requireProgram(t, "sipp")
	requireProgram(t, "baresip")
	t.Parallel()
	ctx := testContext(t, 25*time.Second)
	rec := filepath.Join(t.TempDir(), "heard.wav")
	b, err := StartBaresip(ctx, BaresipOptions{T: t, User: "3000", AutoAnswer: true, RecordWAV: rec, Codecs: []string{"PCMU", "PCMA"}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := RunSipp(ctx, SippOptions{T: t, Scenario: "uac_nosdp", Target: b.Addr, Service: "3000", Calls: 1, Timeout: 15 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Check(1); err != nil {
		t.Fatal(err)
	}
	reason, err := b.WaitClosed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("baresip call closed: %s", reason)
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	evs := b.Events()
	if i := indexOfType(evs, "CALL_ESTABLISHED"); i < 0 || evs[i].Direction != "incoming" {
		t.Fatalf("no incoming call established; events: %+v", evs)
	}
	heard, err := audiotest.ReadWAV(rec)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := PcapAudio(filepath.Join(SippDataDir, "g711a.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	// sipp played the start of the pcap for about 2 s; baresip recorded
	// what arrived before the BYE.
	refPart := ref.Samples[:min(len(ref.Samples), len(heard.Mono()))]
	lag, coeff := audiotest.CrossCorrelate(refPart, heard.Mono(), 4000)
	t.Logf("heard %v at %d Hz, RMS %.1f dBFS; correlation with g711a.pcap %.3f at lag %d",
		heard.Duration(), heard.Rate, audiotest.RMSdBFS(heard.Mono()), coeff, lag)
	if coeff < 0.95 {
		t.Errorf("recording does not match the pcap audio: coeff %.3f at lag %d", coeff, lag)
	}
}

func indexOfType(evs []BaresipEvent, typ string) int {
	for i, e := range evs {
		if e.Type == typ {
			return i
		}
	}
	return -1
}

// TestBaresipHold runs uac_hold against baresip: a third-party UA must
// answer the sendonly re-INVITE with recvonly and the resume with sendrecv.
func TestBaresipHold(t *testing.T) {
	requireProgram(t, "sipp")
	requireProgram(t, "baresip")
	t.Parallel()
	ctx := testContext(t, 25*time.Second)
	b, err := StartBaresip(ctx, BaresipOptions{T: t, AutoAnswer: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := RunSipp(ctx, SippOptions{T: t, Scenario: "uac_hold", Target: b.Addr, Service: "setbridge-test", Calls: 1, Timeout: 15 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Check(1); err != nil {
		t.Fatal(err)
	}
	if _, err := b.WaitClosed(ctx); err != nil {
		t.Fatal(err)
	}
}
