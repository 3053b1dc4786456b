package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/setbridge/setbridge/internal/audiotest"
	"github.com/setbridge/setbridge/internal/peers"
)

// TestDigitsArriveOnceEach: RFC 4733 from sipp's DTMF pcaps and SIP INFO
// both reach the server, each digit counted once.
func TestDigitsArriveOnceEach(t *testing.T) {
	tests := []struct {
		name       string
		scenario   string
		wantDigits float64
	}{
		{"RFC 4733 events from sipp's pcaps (1 2 3 4 #)", "uac_dtmf", 5},
		{"SIP INFO dtmf-relay and dtmf", "testdata/uac_info.xml", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, "")
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()
			res, err := peers.RunSipp(ctx, peers.SippOptions{T: t, Scenario: tt.scenario, Target: s.SIPUDP, Service: "1000",
				Calls: 1, Timeout: 30 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if err := res.Check(1); err != nil {
				t.Fatal(err)
			}
			if got := s.metric("setbridge_sip_dtmf_digits_total"); got != tt.wantDigits {
				t.Fatalf("server counted %v digits, want %v", got, tt.wantDigits)
			}
		})
	}
}

var dtmfFreqs = map[rune][2]int{
	'1': {697, 1209}, '2': {697, 1336}, '3': {697, 1477}, '4': {770, 1209}, '5': {770, 1336}, '6': {770, 1477},
	'7': {852, 1209}, '8': {852, 1336}, '9': {852, 1477}, '*': {941, 1209}, '0': {941, 1336}, '#': {941, 1477},
}

// TestInbandDigitsFromAPhone: a G.711 phone plays DTMF tones made by sox
// (two sines, noise added) as audio; a trunk set to in-band detection
// counts each digit once.
func TestInbandDigitsFromAPhone(t *testing.T) {
	dir := t.TempDir()
	var all []int16
	all = append(all, audiotest.GenSilence(8000, 500*time.Millisecond)...)
	for _, d := range "4096#" {
		f := dtmfFreqs[d]
		stereo, mono := filepath.Join(dir, "s.wav"), filepath.Join(dir, "m.wav")
		if out, err := exec.Command("sox", "-n", "-r", "8000", "-c", "2", "-b", "16", stereo, "synth", "0.08",
			"sine", strconv.Itoa(f[0]), "sine", strconv.Itoa(f[1]), "vol", "0.25").CombinedOutput(); err != nil {
			t.Fatalf("sox: %v\n%s", err, out)
		}
		if out, err := exec.Command("sox", stereo, "-c", "1", mono, "remix", "1,2").CombinedOutput(); err != nil {
			t.Fatalf("sox: %v\n%s", err, out)
		}
		a, err := audiotest.ReadWAV(mono)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, a.Samples...)
		all = append(all, audiotest.GenSilence(8000, 120*time.Millisecond)...)
	}
	all = audiotest.Mix(all, audiotest.GenNoise(8000, -40, time.Duration(len(all))*time.Second/8000, 7))
	src := filepath.Join(dir, "digits.wav")
	if err := audiotest.WriteMonoWAV(src, 8000, all); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "sip:\n  trunks:\n    - name: local\n      allowed_addresses: [127.0.0.1]\n      dtmf: inband\n  dispatch:\n    - number: \"1000\"\n      room: demo\n")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	phone(t, ctx, peers.BaresipOptions{T: t, Dial: "sip:1000@" + s.SIPUDP, PlayWAV: src, Codecs: []string{"PCMU"}})
	waitFor(t, 10*time.Second, "five digits", func() bool { return s.metric("setbridge_sip_dtmf_digits_total") >= 5 })
	time.Sleep(500 * time.Millisecond)
	if got := s.metric("setbridge_sip_dtmf_digits_total"); got != 5 {
		t.Fatalf("counted %v digits, want 5", got)
	}
}
