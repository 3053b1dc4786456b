package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/setbridge/setbridge/internal/audiotest"
	"github.com/setbridge/setbridge/internal/peers"
)

func apiPost(t *testing.T, s *server, path string) (int, map[string]any) {
	t.Helper()
	res, err := http.Post("http://"+s.HTTP+path, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

// TestRecordingByAPIVerifiesAndTamperingIsCaught: a phone plays 440 Hz in
// room demo; a recording started and stopped over HTTP holds exactly its
// ticks of audio, with the tone; the CLI fetches it and verifies it, and a
// flipped byte makes verify fail and name the segment.
func TestRecordingByAPIVerifiesAndTamperingIsCaught(t *testing.T) {
	s := startServer(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, _ := toneCaller(t, ctx, s, "1000", 440, []string{"PCMU"})
	defer b.Stop()
	time.Sleep(500 * time.Millisecond)

	code, rec := apiPost(t, s, "/api/rooms/demo/recordings")
	if code != 201 {
		t.Fatalf("start: %d %v", code, rec)
	}
	id := rec["id"].(string)
	if code, _ := apiPost(t, s, "/api/rooms/demo/recordings"); code != 409 {
		t.Fatalf("a second recording of the room: %d, want 409", code)
	}
	time.Sleep(2 * time.Second)
	code, rec = apiPost(t, s, "/api/recordings/"+id+"/stop")
	if code != 200 || rec["status"] != "stopped" {
		t.Fatalf("stop: %d %v", code, rec)
	}
	start, stop, frames := rec["start_tick"].(float64), rec["stop_tick"].(float64), rec["frames"].(float64)
	t.Logf("recorded ticks [%v, %v): %v frames", start, stop, frames)
	if frames != stop-start || frames < 90 {
		t.Fatalf("frames %v for ticks [%v, %v)", frames, start, stop)
	}

	out := filepath.Join(t.TempDir(), "fetched")
	cli := func(args ...string) (string, error) {
		b, err := exec.Command(binPath, append(args, "--server", "http://"+s.HTTP)...).CombinedOutput()
		return string(b), err
	}
	if o, err := cli("recordings", "list"); err != nil || !strings.Contains(o, id) || !strings.Contains(o, "stopped") {
		t.Fatalf("recordings list: %v\n%s", err, o)
	}
	if o, err := cli("recordings", "fetch", id, "--out", out); err != nil {
		t.Fatalf("fetch: %v\n%s", err, o)
	}
	pub := filepath.Join(s.Dir, "recordings", "signing.key.pub")
	if o, err := cli("recordings", "verify", out, "--public-key", pub); err != nil || !strings.Contains(o, "OK") {
		t.Fatalf("verify of a good recording: %v\n%s", err, o)
	}
	all, segs := readSegments(t, filepath.Join(out, "*.wav"))
	if len(segs) == 0 {
		t.Fatal("no WAV segment fetched")
	}
	if len(all) != int(frames)*960 {
		t.Fatalf("segments hold %d samples, want %d frames × 960", len(all), int(frames))
	}
	if lv := audiotest.ToneLevelDB(all, 48000, 440); lv < -20 {
		t.Fatalf("the recording does not hold the phone's 440 Hz (%.1f dB)", lv)
	}

	// Tamper with one byte of the first segment.
	data, _ := os.ReadFile(segs[0])
	data[len(data)/2] ^= 0x01
	os.WriteFile(segs[0], data, 0o644)
	o, err := cli("recordings", "verify", out, "--public-key", pub)
	if err == nil || !strings.Contains(o, filepath.Base(segs[0])) {
		t.Fatalf("verify of a tampered recording: err %v, output does not name %s:\n%s", err, filepath.Base(segs[0]), o)
	}
	_ = peers.SippDataDir
}

// TestRecordingSurvivesSIGKILL: kill -9 of the server mid-recording; the
// next start seals the recording as interrupted with what reached the
// disk, and it verifies.
func TestRecordingSurvivesSIGKILL(t *testing.T) {
	dir := t.TempDir()
	s := startServerIn(t, dir, "recordings:\n  segment: 1s\n")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, _ := toneCaller(t, ctx, s, "1000", 440, []string{"PCMU"})
	defer b.Stop()
	code, rec := apiPost(t, s, "/api/rooms/demo/recordings")
	if code != 201 {
		t.Fatalf("start: %d %v", code, rec)
	}
	id := rec["id"].(string)
	time.Sleep(2500 * time.Millisecond)
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-s.exited

	s2 := startServerIn(t, dir, "recordings:\n  segment: 1s\n")
	code, body := s2.get("/api/recordings/" + id)
	if code != 200 || !strings.Contains(body, `"status":"interrupted"`) {
		t.Fatalf("after restart: %d %s", code, body)
	}
	pub := filepath.Join(dir, "recordings", "signing.key.pub")
	o, err := exec.Command(binPath, "recordings", "verify", filepath.Join(dir, "recordings", id), "--public-key", pub).CombinedOutput()
	if err != nil || !strings.Contains(string(o), "OK") {
		t.Fatalf("verify of the interrupted recording: %v\n%s", err, o)
	}
	var r struct{ Frames float64 }
	json.Unmarshal([]byte(body), &r)
	t.Logf("interrupted recording kept %v frames (%.1f s)", r.Frames, r.Frames/50)
	if r.Frames < 50 {
		t.Fatalf("only %v frames survived 2.5 s of recording", r.Frames)
	}
}

// TestRoomPolicyRecordsFromFirstJoinToLastLeave: a room with record: true
// is recorded while anyone is in it, and the recording is sealed when the
// last phone hangs up.
func TestRoomPolicyRecordsFromFirstJoinToLastLeave(t *testing.T) {
	s := startServer(t, "rooms:\n  - id: demo\n    conference_number: \"1000\"\n    record: true\n")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, _ := toneCaller(t, ctx, s, "1000", 440, []string{"PCMU"})
	time.Sleep(1500 * time.Millisecond)
	b.Stop()
	var list struct {
		Recordings []struct {
			ID, Room, Status string
			Frames           float64
		}
	}
	waitFor(t, 10*time.Second, "the policy recording to be sealed", func() bool {
		_, body := s.get("/api/recordings")
		json.Unmarshal([]byte(body), &list)
		return len(list.Recordings) == 1 && list.Recordings[0].Status == "stopped"
	})
	if r := list.Recordings[0]; r.Room != "demo" || r.Frames < 50 {
		t.Fatalf("policy recording %+v", r)
	}
}

const boardRoom = `
rooms:
  - id: demo
    conference_number: "1000"
  - id: board
    conference_number: "4321"
    pin: "2468"
    moderator_pin: "97531"
`

// TestPINEntryPausesTheRecording: while a second caller types the PIN of
// room board, board's recording is paused: the range is listed in the
// manifest with reason "pin", and it is silent though the first caller's
// tone goes on.
func TestPINEntryPausesTheRecording(t *testing.T) {
	s := startServer(t, boardRoom)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	src := filepath.Join(t.TempDir(), "tone.wav")
	audiotest.WriteMonoWAV(src, 8000, audiotest.GenTone(8000, 440, 0.3, 30*time.Second))
	first := phone(t, ctx, peers.BaresipOptions{T: t, Dial: "sip:2000@" + s.SIPUDP, PlayWAV: src, Codecs: []string{"PCMU"}})
	defer first.Stop()
	time.Sleep(1500 * time.Millisecond)
	first.SendDTMF(ctx, "4321#", 300*time.Millisecond)
	time.Sleep(2 * time.Second)
	first.SendDTMF(ctx, "2468#", 300*time.Millisecond)
	waitFor(t, 10*time.Second, "the first caller in board", func() bool { return s.logged(`"room":"board"`) && s.logged("caller joined through the ivr") })
	code, rec := apiPost(t, s, "/api/rooms/board/recordings")
	if code != 201 {
		t.Fatalf("start: %d %v", code, rec)
	}
	id := rec["id"].(string)
	time.Sleep(time.Second)

	second := phone(t, ctx, peers.BaresipOptions{T: t, Dial: "sip:2000@" + s.SIPUDP, Codecs: []string{"PCMU"}})
	defer second.Stop()
	time.Sleep(1500 * time.Millisecond)
	second.SendDTMF(ctx, "4321#", 300*time.Millisecond)
	time.Sleep(3 * time.Second) // the PIN prompt
	second.SendDTMF(ctx, "2468#", 300*time.Millisecond)
	time.Sleep(2 * time.Second)
	if code, rec = apiPost(t, s, "/api/recordings/"+id+"/stop"); code != 200 {
		t.Fatalf("stop: %d %v", code, rec)
	}
	var m struct {
		StartTick uint64 `json:"start_tick"`
		Paused    []struct {
			From    uint64   `json:"from_tick"`
			To      uint64   `json:"to_tick"`
			Reasons []string `json:"reasons"`
		} `json:"paused"`
	}
	raw, _ := json.Marshal(rec["manifest"])
	if err := json.Unmarshal(raw, &m); err != nil || len(m.Paused) != 1 || m.Paused[0].Reasons[0] != "pin" {
		t.Fatalf("manifest pauses %+v (%v)\n%s", m.Paused, err, raw)
	}
	p := m.Paused[0]
	t.Logf("paused for the PIN over ticks [%d, %d) (%.1f s)", p.From, p.To, float64(p.To-p.From)/50)
	dir := filepath.Join(s.Dir, "recordings", id)
	all, _ := readSegments(t, filepath.Join(dir, "seg-*.wav"))
	at := func(tick uint64) int { return int(tick-m.StartTick) * 960 }
	paused := all[at(p.From):at(p.To)]
	before := all[:at(p.From)]
	if lv := audiotest.RMSdBFS(paused); lv > -90 {
		t.Errorf("the paused range is not silent: %.1f dBFS", lv)
	}
	if lv := audiotest.ToneLevelDB(before, 48000, 440); lv < -25 {
		t.Errorf("before the pause the first caller's tone is missing (%.1f dB)", lv)
	}
}

// TestModeratorStarStarts9Recording: a moderator's *9 starts the room's
// recording and a second *9 stops it.
func TestModeratorStar9Recording(t *testing.T) {
	s := startServer(t, boardRoom)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b := phone(t, ctx, peers.BaresipOptions{T: t, Dial: "sip:2000@" + s.SIPUDP, Codecs: []string{"PCMU"}})
	defer b.Stop()
	time.Sleep(1500 * time.Millisecond)
	b.SendDTMF(ctx, "4321#", 300*time.Millisecond)
	time.Sleep(2 * time.Second)
	b.SendDTMF(ctx, "97531#", 300*time.Millisecond)
	waitFor(t, 10*time.Second, "the moderator in board", func() bool { return s.logged(`"role":"moderator"`) })
	time.Sleep(3 * time.Second) // "you are the only person in this conference"
	recordings := func() string { _, body := s.get("/api/recordings"); return body }
	b.SendDTMF(ctx, "*9", 300*time.Millisecond)
	waitFor(t, 5*time.Second, "a recording", func() bool { return strings.Contains(recordings(), `"status":"recording"`) })
	time.Sleep(1500 * time.Millisecond)
	b.SendDTMF(ctx, "*9", 300*time.Millisecond)
	waitFor(t, 5*time.Second, "the recording to stop", func() bool { return strings.Contains(recordings(), `"status":"stopped"`) })
}

// TestRecordingHoldsTheBurstsExactly: a phone plays numbered tone bursts
// (burst k at 400+100k Hz, 100 ms long, one every 500 ms); the recording
// between start and stop holds them in order, none missing or doubled, and
// exactly 25 frames apart: no frame dropped or added on the way.
func TestRecordingHoldsTheBurstsExactly(t *testing.T) {
	const bursts, period, burstLen = 16, 500 * time.Millisecond, 100 * time.Millisecond
	var signal []int16
	for k := range bursts {
		signal = append(signal, audiotest.GenTone(8000, float64(400+100*k), 0.3, burstLen)...)
		signal = append(signal, audiotest.GenSilence(8000, period-burstLen)...)
	}
	src := filepath.Join(t.TempDir(), "bursts.wav")
	audiotest.WriteMonoWAV(src, 8000, signal)
	// No join tone: its 660 and 880 Hz would pass for bursts 3 and 5.
	s := startServer(t, "rooms:\n  - id: demo\n    conference_number: \"1000\"\n    entry_tones: false\n")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code, rec := apiPost(t, s, "/api/rooms/demo/recordings")
	if code != 201 {
		t.Fatalf("start: %d %v", code, rec)
	}
	id := rec["id"].(string)
	b := phone(t, ctx, peers.BaresipOptions{T: t, Dial: "sip:1000@" + s.SIPUDP, PlayWAV: src, Codecs: []string{"PCMU"}})
	defer b.Stop()
	// A listener, so the caller's voice is in the common mix.
	listener := phone(t, ctx, peers.BaresipOptions{T: t, Dial: "sip:1000@" + s.SIPUDP, Codecs: []string{"PCMU"}})
	defer listener.Stop()
	time.Sleep(6 * time.Second)
	if code, rec = apiPost(t, s, "/api/recordings/"+id+"/stop"); code != 200 {
		t.Fatalf("stop: %d %v", code, rec)
	}
	all, _ := readSegments(t, filepath.Join(s.Dir, "recordings", id, "seg-*.wav"))
	// Classify each 20 ms frame by its burst, then find burst starts.
	freqs := make([]float64, bursts)
	for k := range freqs {
		freqs[k] = float64(400 + 100*k)
	}
	type start struct{ frame, k int }
	var starts []start
	prev := -1
	for f := 0; (f+1)*960 <= len(all); f++ {
		w := all[f*960 : (f+1)*960]
		k := -1
		if fr, lv := audiotest.DominantTone(w, 48000, freqs); lv > -30 {
			k = int(fr-400) / 100
		}
		if k >= 0 && k != prev {
			starts = append(starts, start{f, k})
		}
		prev = k
	}
	t.Logf("bursts found at frames %v", starts)
	// The first and the last burst may be cut by start and stop; the ones
	// between must follow each other exactly.
	if len(starts) < 8 {
		t.Fatalf("only %d bursts in %d frames", len(starts), len(all)/960)
	}
	for i := 2; i < len(starts)-1; i++ {
		a, b := starts[i-1], starts[i]
		if b.k != a.k+1 {
			t.Errorf("burst %d follows burst %d: a burst missing or doubled", b.k, a.k)
		}
		if d := b.frame - a.frame; d != 25 {
			t.Errorf("bursts %d and %d are %d frames apart, want 25", a.k, b.k, d)
		}
	}
	if f, _ := rec["frames"].(float64); int(f)*960 != len(all) {
		t.Errorf("the manifest says %v frames, the segments hold %d samples", f, len(all))
	}
}

// TestRecordingTracksHoldEachCallerApart: two phones play 440 and 1000 Hz
// in one room; a recording asked for with tracks holds the mix with both
// tones and one track per caller with that caller's tone only, each as
// long as the ticks it was in the room, and it verifies.
func TestRecordingTracksHoldEachCallerApart(t *testing.T) {
	s := startServer(t, "rooms:\n  - id: demo\n    conference_number: \"1000\"\n    entry_tones: false\n")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, _ := toneCaller(t, ctx, s, "1000", 440, []string{"PCMU"})
	defer a.Stop()
	b, _ := toneCaller(t, ctx, s, "1000", 1000, []string{"PCMA"})
	defer b.Stop()
	time.Sleep(time.Second)

	res, err := http.Post("http://"+s.HTTP+"/api/rooms/demo/recordings", "application/json", strings.NewReader(`{"tracks": "yes"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 400 {
		t.Fatalf("a malformed body: %d, want 400", res.StatusCode)
	}
	res, err = http.Post("http://"+s.HTTP+"/api/rooms/demo/recordings", "application/json", strings.NewReader(`{"tracks": true}`))
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	json.NewDecoder(res.Body).Decode(&rec)
	res.Body.Close()
	if res.StatusCode != 201 {
		t.Fatalf("start: %d %v", res.StatusCode, rec)
	}
	id := rec["id"].(string)
	time.Sleep(3 * time.Second)
	code, rec := apiPost(t, s, "/api/recordings/"+id+"/stop")
	if code != 200 {
		t.Fatalf("stop: %d %v", code, rec)
	}
	dir := filepath.Join(s.Dir, "recordings", id)
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Start  uint64 `json:"start_tick"`
		Stop   uint64 `json:"stop_tick"`
		Tracks []struct {
			Participant string `json:"participant"`
			Prefix      string `json:"prefix"`
			FirstTick   uint64 `json:"first_tick"`
			Frames      uint64 `json:"frames"`
		} `json:"tracks"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Tracks) != 2 {
		t.Fatalf("%d tracks, want 2:\n%s", len(m.Tracks), raw)
	}
	read := func(glob string) []int16 {
		all, _ := readSegments(t, filepath.Join(dir, glob))
		return all
	}
	mix := read("seg-*.wav")
	for _, f := range []float64{440, 1000} {
		if lv := audiotest.ToneLevelDB(mix, 48000, f); lv < -25 {
			t.Errorf("the mix lacks %v Hz (%.1f dB)", f, lv)
		}
	}
	seen := map[float64]bool{}
	for _, tr := range m.Tracks {
		pcm := read(tr.Prefix + "-seg-*.wav")
		if len(pcm) != int(tr.Frames)*960 {
			t.Errorf("track %s holds %d samples, the manifest says %d frames", tr.Participant, len(pcm), tr.Frames)
		}
		if tr.FirstTick < m.Start || tr.FirstTick+tr.Frames > m.Stop || tr.Frames < 100 {
			t.Errorf("track %s spans ticks [%d, %d), the recording [%d, %d)", tr.Participant, tr.FirstTick, tr.FirstTick+tr.Frames, m.Start, m.Stop)
		}
		l440, l1000 := audiotest.ToneLevelDB(pcm, 48000, 440), audiotest.ToneLevelDB(pcm, 48000, 1000)
		t.Logf("track %s: %d frames, 440 Hz %.1f dB, 1000 Hz %.1f dB", tr.Participant, tr.Frames, l440, l1000)
		switch {
		case l440 > -25 && l1000 < l440-30:
			seen[440] = true
		case l1000 > -25 && l440 < l1000-30:
			seen[1000] = true
		default:
			t.Errorf("track %s is not one caller's tone alone", tr.Participant)
		}
	}
	if !seen[440] || !seen[1000] {
		t.Errorf("tracks found for %v, want one for 440 Hz and one for 1000 Hz", seen)
	}
	pub := filepath.Join(s.Dir, "recordings", "signing.key.pub")
	if o, err := exec.Command(binPath, "recordings", "verify", dir, "--public-key", pub).CombinedOutput(); err != nil {
		t.Fatalf("verify: %v\n%s", err, o)
	}
}

// readSegments returns the samples of the WAV files that pattern matches,
// in name order (segments sort by their number), and the files.
func readSegments(t *testing.T, pattern string) ([]int16, []string) {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	var all []int16
	for _, f := range files {
		a, err := audiotest.ReadWAV(f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, a.Samples...)
	}
	return all, files
}
