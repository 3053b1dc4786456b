package peers

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/setbridge/setbridge/internal/audiotest"
)

func requireFile(t *testing.T, p string) {
	t.Helper()
	if !fileExists(p) {
		t.Skipf("%s not installed (sip-tester)", p)
	}
}

func TestReadPcapRTP(t *testing.T) {
	p := filepath.Join(SippDataDir, "dtmf_2833_1.pcap")
	requireFile(t, p)
	pkts, err := ReadPcapRTP(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkts) != 10 {
		t.Fatalf("%d packets, want 10", len(pkts))
	}
	first, last := pkts[0], pkts[len(pkts)-1]
	if first.PayloadType != 101 || !first.Marker || first.Seq != 7984 || first.Timestamp != 13280 {
		t.Errorf("first packet %+v", first)
	}
	// RFC 4733 payload: event 1, end bit on the last packets, 2240 units.
	if first.Payload[0] != 1 || last.Payload[1]&0x80 == 0 || int(last.Payload[2])<<8|int(last.Payload[3]) != 2240 {
		t.Errorf("event payloads %x ... %x", first.Payload, last.Payload)
	}
}

func TestPcapAudio(t *testing.T) {
	p := filepath.Join(SippDataDir, "g711a.pcap")
	requireFile(t, p)
	a, err := PcapAudio(p)
	if err != nil {
		t.Fatal(err)
	}
	// 236 packets of 30 ms (240 samples).
	if a.Rate != 8000 || len(a.Samples) != 236*240 {
		t.Errorf("%d Hz, %d samples", a.Rate, len(a.Samples))
	}
	// It is speech-like audio, not a tone: about -21.7 dBFS RMS (sox says
	// RMS amplitude 0.058).
	if l := audiotest.RMSdBFS(a.Samples); math.Abs(l+21.7) > 0.5 {
		t.Errorf("RMS %.2f dBFS, want ≈ -21.7", l)
	}
	if _, err := PcapAudio(filepath.Join(SippDataDir, "dtmf_2833_1.pcap")); err == nil {
		t.Error("DTMF pcap decoded as audio")
	}
}
