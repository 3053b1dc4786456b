package e2e

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/setbridge/setbridge/internal/audiotest"
	"github.com/setbridge/setbridge/internal/peers"
)

func (s *server) logged(substr string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.logs {
		if strings.Contains(l, substr) {
			return true
		}
	}
	return false
}

// TestIVRJoinsByConferenceNumber: the embedded default sends number 2000
// to the IVR; a phone hears the welcome, types 1000# and then hears the
// phone already in room demo.
func TestIVRJoinsByConferenceNumber(t *testing.T) {
	s := startServer(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	inRoom, _ := toneCaller(t, ctx, s, "1000", 1000, []string{"PCMU"})
	defer inRoom.Stop()

	rec := filepath.Join(t.TempDir(), "ivr-caller.wav")
	b := phone(t, ctx, peers.BaresipOptions{T: t, Dial: "sip:2000@" + s.SIPUDP, RecordWAV: rec, Codecs: []string{"PCMU"}})
	time.Sleep(2 * time.Second) // into the welcome prompt
	if err := b.SendDTMF(ctx, "1000#", 400*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the caller to join demo", func() bool { return s.logged("caller joined through the ivr") })
	time.Sleep(4 * time.Second) // the announcement, then the room
	b.Stop()

	a, err := audiotest.ReadWAV(rec)
	if err != nil {
		t.Fatal(err)
	}
	pcm := a.Mono()
	if len(pcm) < 6*a.Rate {
		t.Fatalf("recording holds only %v", a.Duration())
	}
	start := pcm[:2*a.Rate]
	if lv := audiotest.RMSdBFS(start); lv < -35 {
		t.Errorf("the first two seconds are silent (%.1f dBFS): no welcome prompt", lv)
	}
	if lv := audiotest.ToneLevelDB(start, a.Rate, 1000); lv > -40 {
		t.Errorf("the room's 1000 Hz is heard before joining (%.1f dB)", lv)
	}
	end := pcm[len(pcm)-a.Rate:]
	if lv := audiotest.ToneLevelDB(end, a.Rate, 1000); lv < -20 {
		t.Errorf("after joining, the room's 1000 Hz is not heard (%.1f dB)", lv)
	}
	for _, secret := range []string{`"1000#"`, "1000#"} {
		if s.logged(secret) {
			t.Errorf("the digits %q appear in the log", secret)
		}
	}
}

const pinRooms = `
sip:
  dispatch:
    - number: "2000"
      ivr: true
    - number: "3000"
      room: board
rooms:
  - id: board
    conference_number: "4321"
    pin: "1234"
`

// TestIVRPINFromSippPcaps: sipp plays sip-tester's RFC 2833 pcaps to type
// the PIN of a room whose number routes straight to it, and the call joins.
func TestIVRPINFromSippPcaps(t *testing.T) {
	s := startServer(t, pinRooms)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	scen, err := peers.DTMFScenario("1234#", 400*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	// Start typing once the PIN prompt (welcome, then "please enter the
	// PIN") has begun: sipp waits a second before its first digit.
	scen = []byte(strings.Replace(string(scen), "<pause milliseconds=\"200\"/>", "<pause milliseconds=\"3000\"/>", 1))
	res, err := peers.RunSipp(ctx, peers.SippOptions{T: t, ScenarioXML: scen, Target: s.SIPUDP, Service: "3000", Calls: 1, Timeout: 40 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Check(1); err != nil {
		t.Fatal(err)
	}
	if !s.logged("caller joined through the ivr") {
		t.Fatal("the caller did not join with the right PIN")
	}
	if s.logged("1234") {
		t.Fatal("the PIN appears in the log")
	}
}

// TestIVRWrongPINThreeTimes: three wrong PINs get the goodbye and a BYE.
func TestIVRWrongPINThreeTimes(t *testing.T) {
	s := startServer(t, pinRooms)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	b := phone(t, ctx, peers.BaresipOptions{T: t, Dial: "sip:2000@" + s.SIPUDP, Codecs: []string{"PCMU"}})
	time.Sleep(2 * time.Second)
	for _, entry := range []string{"4321#", "1111#", "2222#", "3333#"} {
		if err := b.SendDTMF(ctx, entry, 350*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3500 * time.Millisecond) // the retry prompt
	}
	closeCtx, stop := context.WithTimeout(ctx, 20*time.Second)
	defer stop()
	reason, err := b.WaitClosed(closeCtx)
	if err != nil {
		t.Fatalf("the call was not hung up after three wrong PINs: %v", err)
	}
	t.Logf("call closed: %s", reason)
	if s.logged("caller joined through the ivr") {
		t.Fatal("a wrong PIN joined the room")
	}
	if v := s.metric(`setbridge_sip_calls_ended_total{reason="ivr"}`); v != 1 {
		t.Fatalf("calls ended by the ivr = %v, want 1", v)
	}
}

// TestRoomCreatedByAPIIsJoinedWithItsPIN: a room created over HTTP with a
// PIN is found by the IVR, which asks for the PIN and lets the caller in.
func TestRoomCreatedByAPIIsJoinedWithItsPIN(t *testing.T) {
	s := startServer(t, "")
	res, err := http.Post("http://"+s.HTTP+"/api/rooms", "application/json",
		strings.NewReader(`{"id":"board","conference_number":"4321","pin":"2468"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 201 {
		t.Fatalf("create room: %d", res.StatusCode)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b := phone(t, ctx, peers.BaresipOptions{T: t, Dial: "sip:2000@" + s.SIPUDP, Codecs: []string{"PCMA"}})
	time.Sleep(1500 * time.Millisecond)
	if err := b.SendDTMF(ctx, "4321#", 350*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if err := b.SendDTMF(ctx, "2468#", 350*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the caller to join board", func() bool { return s.logged(`"room":"board"`) && s.logged("caller joined through the ivr") })
	code, body := s.get("/api/rooms/board")
	if code != 200 || !strings.Contains(body, `"participants":1`) {
		t.Fatalf("GET /api/rooms/board: %d %s", code, body)
	}
	if s.logged("2468") || s.logged("4321") {
		t.Fatal("a conference number or PIN appears in the log")
	}
}

// TestJoinToneIsHeardByTheOthers: a phone in room demo hears the join tone
// (660 then 880 Hz) when a second phone joins, and nothing like it in a
// room with entry_tones: false.
func TestJoinToneIsHeardByTheOthers(t *testing.T) {
	for _, tt := range []struct {
		name   string
		config string
		want   bool
	}{
		{"a room with entry tones", "", true},
		{"a room without", "rooms:\n  - id: demo\n    conference_number: \"1000\"\n    entry_tones: false\n", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, tt.config)
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()
			rec := filepath.Join(t.TempDir(), "first.wav")
			first := phone(t, ctx, peers.BaresipOptions{T: t, Dial: "sip:1000@" + s.SIPUDP, RecordWAV: rec, Codecs: []string{"PCMU"}})
			time.Sleep(time.Second)
			second := phone(t, ctx, peers.BaresipOptions{T: t, Dial: "sip:1000@" + s.SIPUDP, Codecs: []string{"PCMU"}})
			time.Sleep(1500 * time.Millisecond)
			first.Stop()
			second.Stop()
			pcm, rate := heard(t, rec, 0)
			lv660, lv880 := audiotest.ToneLevelDB(pcm, rate, 660), audiotest.ToneLevelDB(pcm, rate, 880)
			t.Logf("first phone hears 660 Hz at %.1f dB and 880 Hz at %.1f dB", lv660, lv880)
			if heardTone := lv660 > -45 && lv880 > -45; heardTone != tt.want {
				t.Fatalf("join tone heard = %v, want %v", heardTone, tt.want)
			}
		})
	}
}

// TestIVRInEarlyMedia: on a trunk with early_media, the IVR talks in a 183
// and the call is answered (200) only once the PIN lets the caller in.
func TestIVRInEarlyMedia(t *testing.T) {
	s := startServer(t, `
sip:
  trunks:
    - name: local
      allowed_addresses: ["127.0.0.1"]
      early_media: true
  dispatch:
    - number: "3000"
      room: board
rooms:
  - id: board
    conference_number: "4321"
    pin: "1234"
`)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	res, err := peers.RunSipp(ctx, peers.SippOptions{T: t, Scenario: "testdata/uac_early_pin.xml", Target: s.SIPUDP, Service: "3000", Calls: 1, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Check(1); err != nil {
		t.Fatal(err)
	}
	if !s.logged("call answered: joined from early media") {
		t.Fatal("the call was not answered from early media")
	}
}
