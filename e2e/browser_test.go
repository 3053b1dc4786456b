package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/setbridge/setbridge/internal/audiotest"
	"github.com/setbridge/setbridge/internal/peers"
)

// browserHarness returns the paths of node, Chromium and e2e/browser/room.mjs.
// When one of them (or the harness's node_modules) is missing, the test is
// skipped, unless SETBRIDGE_REQUIRE_BROWSER is set (CI), where it fails.
func browserHarness(t *testing.T) (node, chromium, script string) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "browser")
	script = filepath.Join(dir, "room.mjs")
	var missing []string
	node, err := exec.LookPath("node")
	if err != nil {
		missing = append(missing, "node (apt-get install nodejs)")
	}
	chromium = "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		if p, err := exec.LookPath("chromium"); err == nil {
			chromium = p
		} else {
			missing = append(missing, "chromium (apt-get install chromium)")
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "playwright-core", "package.json")); err != nil {
		missing = append(missing, "e2e/browser/node_modules (cd e2e/browser && npm ci)")
	}
	if len(missing) > 0 {
		msg := "browser test needs " + strings.Join(missing, ", ")
		if os.Getenv("SETBRIDGE_REQUIRE_BROWSER") != "" {
			t.Fatal(msg + " (SETBRIDGE_REQUIRE_BROWSER is set)")
		}
		t.Skip(msg + "; set SETBRIDGE_REQUIRE_BROWSER=1 to make this a failure")
	}
	return node, chromium, script
}

// roomEvent is one event of GET /api/rooms/{room}/events, stamped on arrival.
type roomEvent struct {
	Type string
	Data json.RawMessage
	At   time.Time
}

type rosterParticipant struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Kind string `json:"kind"`
}

// roomEvents follows a room's event stream (SSE) from loopback and keeps
// the roster it describes.
type roomEvents struct {
	mu      sync.Mutex
	events  []roomEvent
	roster  map[string]rosterParticipant
	maxBoth bool // a phone and a browser were listed at the same time
	err     error
}

func followRoomEvents(t *testing.T, ctx context.Context, s *server, room string) *roomEvents {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.HTTP+"/api/rooms/"+room+"/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET events: %v", err)
	}
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		res.Body.Close()
		t.Fatalf("GET events: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	ev := &roomEvents{roster: map[string]rosterParticipant{}}
	go func() {
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var typ string
		var data bytes.Buffer
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if data.Len() > 0 {
					ev.add(typ, append([]byte(nil), data.Bytes()...))
				}
				typ = ""
				data.Reset()
			case strings.HasPrefix(line, ":"):
			case strings.HasPrefix(line, "event:"):
				typ = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
			case strings.HasPrefix(line, "data:"):
				if data.Len() > 0 {
					data.WriteByte('\n')
				}
				data.WriteString(strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
			}
		}
		if err := sc.Err(); err != nil && !errors.Is(err, context.Canceled) {
			ev.mu.Lock()
			ev.err = err
			ev.mu.Unlock()
		}
	}()
	return ev
}

func (ev *roomEvents) add(typ string, data []byte) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	ev.events = append(ev.events, roomEvent{Type: typ, Data: data, At: time.Now()})
	switch typ {
	case "snapshot":
		var snap struct{ Participants []rosterParticipant }
		if json.Unmarshal(data, &snap) == nil {
			ev.roster = map[string]rosterParticipant{}
			for _, p := range snap.Participants {
				ev.roster[p.ID] = p
			}
		}
	case "participant_joined", "participant_updated":
		var p rosterParticipant
		if json.Unmarshal(data, &p) == nil && p.ID != "" {
			ev.roster[p.ID] = p
		}
	case "participant_left":
		var p rosterParticipant
		if json.Unmarshal(data, &p) == nil {
			delete(ev.roster, p.ID)
		}
	}
	kinds := map[string]bool{}
	for _, p := range ev.roster {
		kinds[p.Kind] = true
	}
	if kinds["phone"] && kinds["browser"] {
		ev.maxBoth = true
	}
}

// snapshot returns the current roster and whether a phone and a browser
// were ever listed together.
func (ev *roomEvents) snapshot() ([]rosterParticipant, bool) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	var out []rosterParticipant
	for _, p := range ev.roster {
		out = append(out, p)
	}
	return out, ev.maxBoth
}

// firstEvent returns the arrival time of the first event of type typ whose
// data contains sub.
func (ev *roomEvents) firstEvent(typ, sub string) (time.Time, bool) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	for _, e := range ev.events {
		if e.Type == typ && strings.Contains(string(e.Data), sub) {
			return e.At, true
		}
	}
	return time.Time{}, false
}

func (ev *roomEvents) String() string {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	var b strings.Builder
	for _, e := range ev.events {
		fmt.Fprintf(&b, "%s %s %s\n", e.At.Format("15:04:05.000"), e.Type, e.Data)
	}
	if ev.err != nil {
		fmt.Fprintf(&b, "stream error: %v\n", ev.err)
	}
	return b.String()
}

// pulsedTone writes a 48 kHz WAV of freq that pauses like speech (400 ms
// on, 100 ms off) for a fake microphone: the page asks for noise
// suppression, which treats a steady tone as noise and brings it down to
// about -30 dBFS within 2.5 s, while this one reaches the room at -14 to
// -20 dB.
func pulsedTone(t *testing.T, dir string, freq float64) string {
	t.Helper()
	var bursts [][]int16
	for range 20 {
		bursts = append(bursts, audiotest.GenTone(48000, freq, 0.3, 400*time.Millisecond), audiotest.GenSilence(48000, 100*time.Millisecond))
	}
	p := filepath.Join(dir, fmt.Sprintf("browser%.0f.wav", freq))
	if err := audiotest.WriteMonoWAV(p, 48000, audiotest.Concat(bursts...)); err != nil {
		t.Fatal(err)
	}
	return p
}

// runRoomPage runs the page in headless Chromium (e2e/browser/room.mjs)
// as "Ada" at url with mic as its microphone, capturing what it plays to
// out, and returns room.mjs's result and its JSON line; what is fails the
// test with room.mjs's output and, if given, the room's events.
func runRoomPage(t *testing.T, ctx context.Context, url, mic, out, shots string, events fmt.Stringer, args ...string) (roomResult, string) {
	t.Helper()
	node, chromium, script := browserHarness(t)
	nctx, ncancel := context.WithTimeout(ctx, 50*time.Second)
	defer ncancel()
	argv := append([]string{script, "--url", url, "--name", "Ada", "--wav", mic, "--out-wav", out, "--shots", shots,
		"--timeout", "45", "--chromium", chromium}, args...)
	cmd := exec.CommandContext(nctx, node, argv...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	t.Logf("room.mjs ran %.1f s", time.Since(start).Seconds())
	if err != nil {
		t.Fatalf("room.mjs: %v\nstderr:\n%s\nstdout:\n%s\nroom events:\n%v", err, stderr.String(), stdout.String(), events)
	}
	var res roomResult
	line := strings.TrimSpace(stdout.String())
	if i := strings.LastIndexByte(line, '\n'); i >= 0 {
		line = line[i+1:]
	}
	if err := json.Unmarshal([]byte(line), &res); err != nil {
		t.Fatalf("room.mjs output is not one JSON line: %v\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	t.Logf("page: %s", line)
	return res, line
}

// roomResult is the JSON line room.mjs prints.
type roomResult struct {
	Participants []struct {
		ID       string `json:"id"`
		Name     string `json:"name"`
		Kind     string `json:"kind"`
		Muted    bool   `json:"muted"`
		You      bool   `json:"you"`
		Speaking bool   `json:"speaking"`
	} `json:"participants"`
	Speaking      []string `json:"speaking"`
	ParticipantID string   `json:"participant_id"`
	SampleRate    int      `json:"sample_rate"`
	Samples       int      `json:"samples"`
	RMSdBFS       *float64 `json:"rms_dbfs"`
	Left          bool     `json:"left"`
	ICERestarted  bool     `json:"ice_restarted"`
}

// TestBrowserAndPhoneHearEachOther: a browser (the real page in headless
// Chromium, microphone 1000 Hz) and a phone (baresip, 440 Hz) in room demo.
// The phone hears 1000 Hz; the browser hears 440 Hz and not its own tone;
// the page lists both and marks one speaking; the event stream shows both;
// after the browser leaves the room holds one participant again.
func TestBrowserAndPhoneHearEachOther(t *testing.T) {
	browserHarness(t)
	s := startServer(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 75*time.Second)
	defer cancel()
	dir := t.TempDir()

	events := followRoomEvents(t, ctx, s, "demo")

	// The phone: 440 Hz out, records what it hears.
	phoneSrc := filepath.Join(dir, "phone440.wav")
	if err := audiotest.WriteMonoWAV(phoneSrc, 8000, audiotest.GenTone(8000, 440, 0.3, 40*time.Second)); err != nil {
		t.Fatal(err)
	}
	phoneRec := filepath.Join(dir, "phone-heard.wav")
	ph := phone(t, ctx, peers.BaresipOptions{T: t, Dial: "sip:1000@" + s.SIPUDP,
		PlayWAV: phoneSrc, RecordWAV: phoneRec, Codecs: []string{"PCMU"}})
	established := time.Now() // baresip's recording starts about now
	defer ph.Stop()
	waitFor(t, 5*time.Second, "the phone in room demo", func() bool { return roomParticipants(t, s, "demo") == 1 })

	// The browser: a 1000 Hz microphone (Chromium loops the file). The page
	// asks for noise suppression, which treats a steady tone as noise and
	// brings it down to about -30 dBFS within 2.5 s; a tone that pauses
	// like speech (400 ms on, 100 ms off) reaches the room at -14..-20 dB.
	browserSrc := pulsedTone(t, dir, 1000)
	shots := filepath.Join(dir, "shots")
	browserWAV := filepath.Join(dir, "browser-heard.wav")
	const captureSeconds = 6
	browserStart := time.Now()
	res, line := runRoomPage(t, ctx, "http://"+s.HTTP+"/r/demo", browserSrc, browserWAV, shots, events,
		"--seconds", fmt.Sprint(captureSeconds), "--expect-participants", "2", "--ice-restart", "--leave-and-check")

	// What the page listed.
	if len(res.Participants) != 2 {
		t.Errorf("the page lists %d participants, want 2: %s", len(res.Participants), line)
	}
	var sawPhone, sawAda bool
	ids := map[string]bool{}
	for _, p := range res.Participants {
		ids[p.ID] = true
		switch {
		case p.Kind == "phone":
			sawPhone = true
		case p.Kind == "browser" && p.Name == "Ada":
			sawAda = true
			if !p.You || p.ID != res.ParticipantID {
				t.Errorf("Ada is not marked as the page's own participant (you=%v, id %q, page's id %q)", p.You, p.ID, res.ParticipantID)
			}
		}
	}
	if !sawPhone || !sawAda {
		t.Errorf("the page does not list a phone and a browser named Ada: %s", line)
	}
	if len(res.Speaking) == 0 {
		t.Errorf("the page marks no one speaking: %s", line)
	}
	for _, id := range res.Speaking {
		if !ids[id] {
			t.Errorf("speaking id %q is not in the list", id)
		}
	}
	// The capture comes after an ICE restart (new credentials through
	// PATCH, as after a network blip): the checks below prove the audio
	// went on through it.
	if !res.ICERestarted {
		t.Errorf("room.mjs did not report the ICE restart")
	}
	if !res.Left {
		t.Errorf("room.mjs did not report leaving")
	}

	// What the browser heard.
	a, err := audiotest.ReadWAV(browserWAV)
	if err != nil {
		t.Fatal(err)
	}
	if a.Duration() < (captureSeconds-1)*time.Second {
		t.Fatalf("browser capture holds only %v", a.Duration())
	}
	bpcm := audiotest.Slice(a.Mono(), a.Rate, 500*time.Millisecond, a.Duration())
	b440, b1000 := audiotest.ToneLevelDB(bpcm, a.Rate, 440), audiotest.ToneLevelDB(bpcm, a.Rate, 1000)
	t.Logf("browser hears (%d Hz, %v): 440 Hz at %.1f dB, 1000 Hz at %.1f dB, RMS %.1f dBFS",
		a.Rate, a.Duration(), b440, b1000, audiotest.RMSdBFS(bpcm))
	if b440 < -35 {
		t.Errorf("the browser does not hear the phone's 440 Hz (%.1f dB)", b440)
	}
	if b1000 > -50 {
		t.Errorf("the browser hears its own 1000 Hz (%.1f dB): not N-1", b1000)
	}

	// The event stream showed both while both were in; once the browser
	// left, the room holds the phone alone.
	waitFor(t, 5*time.Second, "room demo back to 1 participant", func() bool { return roomParticipants(t, s, "demo") == 1 })
	waitFor(t, 3*time.Second, "the event stream's roster back to the phone alone", func() bool {
		r, _ := events.snapshot()
		return len(r) == 1 && r[0].Kind == "phone"
	})
	if _, both := events.snapshot(); !both {
		t.Errorf("the event stream never listed a phone and a browser together:\n%s", events)
	}
	joined, okJ := events.firstEvent("participant_joined", `"browser"`)
	left, okL := events.firstEvent("participant_left", res.ParticipantID)
	if !okJ || !okL {
		t.Fatalf("the event stream lacks the browser's join or leave:\n%s", events)
	}
	t.Logf("browser in the room from %.1f s to %.1f s after room.mjs started", joined.Sub(browserStart).Seconds(), left.Sub(browserStart).Seconds())

	// What the phone heard while the browser was in (its recording starts
	// about when the call was established).
	if err := ph.Stop(); err != nil {
		t.Fatal(err)
	}
	pa, err := audiotest.ReadWAV(phoneRec)
	if err != nil {
		t.Fatal(err)
	}
	from, to := joined.Sub(established)+time.Second, left.Sub(established)-500*time.Millisecond
	if to > pa.Duration() {
		to = pa.Duration()
	}
	if to-from < time.Second {
		t.Fatalf("phone recording (%v) too short for the browser's time in the room [%v, %v]", pa.Duration(), from, to)
	}
	ppcm := audiotest.Slice(pa.Mono(), pa.Rate, from, to)
	p1000, p440 := audiotest.ToneLevelDB(ppcm, pa.Rate, 1000), audiotest.ToneLevelDB(ppcm, pa.Rate, 440)
	before := audiotest.Slice(pa.Mono(), pa.Rate, 500*time.Millisecond, max(600*time.Millisecond, joined.Sub(established)-500*time.Millisecond))
	t.Logf("phone hears (recording %v, window %.1f–%.1f s): 1000 Hz at %.1f dB, 440 Hz at %.1f dB; before the browser: 1000 Hz at %.1f dB",
		pa.Duration(), from.Seconds(), to.Seconds(), p1000, p440, audiotest.ToneLevelDB(before, pa.Rate, 1000))
	if p1000 < -35 {
		t.Errorf("the phone does not hear the browser's 1000 Hz (%.1f dB)", p1000)
	}
	if p440 > -50 {
		t.Errorf("the phone hears its own 440 Hz (%.1f dB): not N-1", p440)
	}

	// Screenshots for docs/, only on request.
	for _, f := range []string{"lobby.png", "room.png"} {
		if fi, err := os.Stat(filepath.Join(shots, f)); err != nil || fi.Size() == 0 {
			t.Errorf("room.mjs made no %s", f)
		}
	}
	if os.Getenv("SETBRIDGE_UPDATE_SCREENSHOTS") == "1" {
		_, file, _, _ := runtime.Caller(0)
		dst := filepath.Join(filepath.Dir(file), "..", "docs", "screenshots")
		if err := os.MkdirAll(dst, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"lobby.png", "room.png"} {
			data, err := os.ReadFile(filepath.Join(shots, f))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dst, f), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("screenshots written to %s", dst)
	}
}

// roomParticipants is GET /api/rooms/{room}'s participant count.
func roomParticipants(t *testing.T, s *server, room string) int {
	t.Helper()
	code, body := s.get("/api/rooms/" + room)
	if code != 200 {
		t.Fatalf("GET /api/rooms/%s: %d %s", room, code, body)
	}
	var v struct{ Participants int }
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("GET /api/rooms/%s: %v: %s", room, err, body)
	}
	return v.Participants
}

// TestBrowserOnAnotherSETAndAPhone: the room is mixed on node m1; a phone
// (440 Hz) calls node p1 of SET s1 and a browser (1000 Hz) opens the page
// on node w2 of SET s2. The browser's node is a selector node of the
// room: the browser hears the phone and not itself, the phone hears the
// browser, and the page on w2 lists the phone on p1 (from the room
// services) with the browser.
func TestBrowserOnAnotherSETAndAPhone(t *testing.T) {
	browserHarness(t)
	port, err := peers.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	join := fmt.Sprintf("  nats:\n    url: nats://127.0.0.1:%d\n", port)
	fabricNode(t, "m1", "s1", "default", fmt.Sprintf("  nats:\n    listen: 127.0.0.1:%d\n", port), "interface", "retrieval", "mixer", "room")
	p1 := fabricNode(t, "p1", "s1", "default", join, "interface", "retrieval", "selector", "sip", "roomset")
	w2 := fabricNode(t, "w2", "s2", "default", join, "interface", "retrieval", "selector", "roomset")
	ctx, cancel := context.WithTimeout(context.Background(), 75*time.Second)
	defer cancel()
	dir := t.TempDir()
	ph, phoneRec := toneCaller(t, ctx, p1, "1000", 440, []string{"PCMU"})
	defer ph.Stop()
	waitFor(t, 10*time.Second, "w2 to list the phone on p1", func() bool {
		p, ok := participants(w2, "demo")
		return ok && p.Total == 1
	})
	heardWAV := filepath.Join(dir, "browser-heard.wav")
	res, line := runRoomPage(t, ctx, "http://"+w2.HTTP+"/r/demo", pulsedTone(t, dir, 1000), heardWAV, filepath.Join(dir, "shots"), nil,
		"--seconds", "5", "--expect-participants", "2")
	if len(res.Participants) != 2 {
		t.Errorf("the page on w2 lists %d participants, want the phone on p1 and the browser: %s", len(res.Participants), line)
	}
	if err := ph.Stop(); err != nil {
		t.Fatal(err)
	}
	a, err := audiotest.ReadWAV(heardWAV)
	if err != nil {
		t.Fatal(err)
	}
	b := a.Mono()[min(len(a.Mono()), a.Rate/2):]
	b440, b1000 := audiotest.ToneLevelDB(b, a.Rate, 440), audiotest.ToneLevelDB(b, a.Rate, 1000)
	t.Logf("browser on w2 hears 440 Hz at %.1f dB, its own 1000 Hz at %.1f dB", b440, b1000)
	if b440 < -35 || b1000 > -50 {
		t.Errorf("the browser on another SET does not hear the phone clearly, or hears itself")
	}
	pcm, rate := heard(t, phoneRec, 0)
	pcm = pcm[max(0, len(pcm)-3*rate):]
	p1000 := audiotest.ToneLevelDB(pcm, rate, 1000)
	t.Logf("phone on p1 hears the browser's 1000 Hz at %.1f dB (last 3 s of its call)", p1000)
	if p1000 < -35 {
		t.Errorf("the phone does not hear the browser on another SET")
	}
}
