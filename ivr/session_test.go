package ivr

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/setbridge/setbridge/media"
	"github.com/setbridge/setbridge/media/dtmf"
)

// Test rooms. Their PIN hashes are made once; hashing takes milliseconds.
var (
	partPIN = "2468"
	modPIN  = "9753"
)

func testDirectory(t testing.TB) testDir {
	t.Helper()
	part, mod := mustHash(t, partPIN), mustHash(t, modPIN)
	return testDir{
		"1000": {ID: "demo"},
		"2000": {ID: "board", ParticipantPINHash: part, ModeratorPINHash: mod},
		"3000": {ID: "closed", Locked: true},
		"4000": {ID: "vault", Locked: true, ParticipantPINHash: part, ModeratorPINHash: mod},
		"5000": {ID: "townhall", ModeratorPINHash: mod},
	}
}

// step is one thing the caller does.
type step struct {
	idle  bool          // listen until the prompts end
	keys  string        // type keys, 100 ms apart
	burst string        // type keys at once
	wait  time.Duration // listen
}

func TestSessionFlows(t *testing.T) {
	dir := testDirectory(t)
	preset := dir["2000"]
	presetOpen := dir["1000"]
	tests := []struct {
		name         string
		giveCfg      Config
		giveInRoom   int   // participants already in the room
		giveJoinErr  error // Join's answer
		steps        []step
		wantPrompts  []string
		wantEvents   []string
		wantNoHangup bool
	}{
		{
			name:        "a caller joins a room without a PIN by number and pound",
			steps:       []step{{idle: true}, {keys: "1000#"}, {idle: true}},
			wantPrompts: []string{PromptWelcome, PromptGetConfNo, PromptOnlyPerson},
			wantEvents:  []string{"join demo participant"},
		},
		{
			name:        "a caller joins with the participant PIN and hears one other",
			giveInRoom:  1,
			steps:       []step{{idle: true}, {keys: "2000#"}, {idle: true}, {keys: partPIN + "#"}, {idle: true}},
			wantPrompts: []string{PromptWelcome, PromptGetConfNo, PromptGetPIN, PromptOnlyOne},
			wantEvents:  []string{"pin true", "pin false", "join board participant"},
		},
		{
			name:        "the moderator PIN joins as moderator and hears the count",
			giveInRoom:  25,
			steps:       []step{{idle: true}, {keys: "2000#"}, {idle: true}, {keys: modPIN + "#"}, {idle: true}},
			wantPrompts: []string{PromptWelcome, PromptGetConfNo, PromptGetPIN, PromptThereAre, "digits/20", "digits/5", PromptOtherInParty},
			wantEvents:  []string{"pin true", "pin false", "join board moderator"},
		},
		{
			name:        "a fixed-length number needs no pound",
			giveCfg:     Config{Number: CollectorConfig{MaxDigits: 4}},
			steps:       []step{{idle: true}, {keys: "1000"}, {idle: true}},
			wantPrompts: []string{PromptWelcome, PromptGetConfNo, PromptOnlyPerson},
			wantEvents:  []string{"join demo participant"},
		},
		{
			name:        "a fixed-length PIN needs no pound",
			giveCfg:     Config{PIN: CollectorConfig{MaxDigits: 4}},
			steps:       []step{{idle: true}, {keys: "2000#"}, {idle: true}, {keys: partPIN}, {idle: true}},
			wantPrompts: []string{PromptWelcome, PromptGetConfNo, PromptGetPIN, PromptOnlyPerson},
			wantEvents:  []string{"pin true", "pin false", "join board participant"},
		},
		{
			name:        "a number without pound is taken after the inter-digit timeout",
			steps:       []step{{idle: true}, {keys: "1000"}, {wait: 4800 * time.Millisecond}, {wait: time.Second}, {idle: true}},
			wantPrompts: []string{PromptWelcome, PromptGetConfNo, PromptOnlyPerson},
			wantEvents:  []string{"join demo participant"},
		},
		{
			name:         "nothing happens before the inter-digit timeout",
			steps:        []step{{idle: true}, {keys: "1000"}, {wait: 4800 * time.Millisecond}},
			wantPrompts:  []string{PromptWelcome, PromptGetConfNo},
			wantEvents:   nil,
			wantNoHangup: true,
		},
		{
			name:        "a wrong number is retried",
			steps:       []step{{idle: true}, {keys: "9999#"}, {idle: true}, {keys: "1000#"}, {idle: true}},
			wantPrompts: []string{PromptWelcome, PromptGetConfNo, PromptInvalid, PromptGetConfNo, PromptOnlyPerson},
			wantEvents:  []string{"join demo participant"},
		},
		{
			name:        "pound alone is a wrong number",
			steps:       []step{{idle: true}, {keys: "#"}, {idle: true}, {keys: "1000#"}, {idle: true}},
			wantPrompts: []string{PromptWelcome, PromptGetConfNo, PromptInvalid, PromptGetConfNo, PromptOnlyPerson},
			wantEvents:  []string{"join demo participant"},
		},
		{
			name: "three wrong numbers hear goodbye and hang up",
			steps: []step{{idle: true}, {keys: "1#"}, {idle: true}, {keys: "2#"}, {idle: true}, {keys: "3#"},
				{idle: true}, {wait: time.Second}},
			wantPrompts: []string{PromptWelcome, PromptGetConfNo, PromptInvalid, PromptGetConfNo, PromptInvalid,
				PromptGetConfNo, PromptInvalid, PromptGoodbye},
			wantEvents: []string{"hangup number_tries"},
		},
		{
			name: "no input three times hears goodbye and hangs up",
			steps: []step{{idle: true}, {wait: 10 * time.Second}, {idle: true}, {wait: 10 * time.Second},
				{idle: true}, {wait: 10 * time.Second}, {idle: true}, {wait: time.Second}},
			wantPrompts: []string{PromptWelcome, PromptGetConfNo, PromptGetConfNo, PromptGetConfNo, PromptGoodbye},
			wantEvents:  []string{"hangup number_tries"},
		},
		{
			name: "three wrong PINs hear goodbye and hang up",
			steps: []step{{idle: true}, {keys: "2000#"}, {idle: true}, {keys: "1111#"}, {idle: true},
				{keys: "2222#"}, {idle: true}, {keys: "3333#"}, {idle: true}, {wait: time.Second}},
			wantPrompts: []string{PromptWelcome, PromptGetConfNo, PromptGetPIN, PromptInvalidPIN, PromptGetPIN,
				PromptInvalidPIN, PromptGetPIN, PromptInvalidPIN, PromptGoodbye},
			wantEvents: []string{"pin true", "pin false", "hangup pin_tries"},
		},
		{
			name:        "a preset room with a PIN skips the number",
			giveCfg:     Config{Room: &preset},
			steps:       []step{{idle: true}, {keys: partPIN + "#"}, {idle: true}},
			wantPrompts: []string{PromptWelcome, PromptGetPIN, PromptOnlyPerson},
			wantEvents:  []string{"pin true", "pin false", "join board participant"},
		},
		{
			name:        "a preset room without a PIN joins at once",
			giveCfg:     Config{Room: &presetOpen},
			steps:       []step{{idle: true}},
			wantPrompts: []string{PromptWelcome, PromptOnlyPerson},
			wantEvents:  []string{"join demo participant"},
		},
		{
			name:        "a locked room without a moderator PIN turns callers away",
			steps:       []step{{idle: true}, {keys: "3000#"}, {idle: true}, {wait: time.Second}},
			wantPrompts: []string{PromptWelcome, PromptGetConfNo, PromptRoomLocked, PromptGoodbye},
			wantEvents:  []string{"hangup room_locked"},
		},
		{
			name:        "a locked room turns participants away after their PIN",
			steps:       []step{{idle: true}, {keys: "4000#"}, {idle: true}, {keys: partPIN + "#"}, {idle: true}, {wait: time.Second}},
			wantPrompts: []string{PromptWelcome, PromptGetConfNo, PromptGetPIN, PromptRoomLocked, PromptGoodbye},
			wantEvents:  []string{"pin true", "pin false", "hangup room_locked"},
		},
		{
			name:        "a locked room admits its moderator",
			steps:       []step{{idle: true}, {keys: "4000#"}, {idle: true}, {keys: modPIN + "#"}, {idle: true}},
			wantPrompts: []string{PromptWelcome, PromptGetConfNo, PromptGetPIN, PromptOnlyPerson},
			wantEvents:  []string{"pin true", "pin false", "join vault moderator"},
		},
		{
			name:        "a room with only a moderator PIN admits participants on pound alone",
			steps:       []step{{idle: true}, {keys: "5000#"}, {idle: true}, {keys: "#"}, {idle: true}},
			wantPrompts: []string{PromptWelcome, PromptGetConfNo, PromptGetPIN, PromptOnlyPerson},
			wantEvents:  []string{"pin true", "pin false", "join townhall participant"},
		},
		{
			name:        "a room with only a moderator PIN admits participants who type nothing",
			steps:       []step{{idle: true}, {keys: "5000#"}, {idle: true}, {wait: 10 * time.Second}, {idle: true}},
			wantPrompts: []string{PromptWelcome, PromptGetConfNo, PromptGetPIN, PromptOnlyPerson},
			wantEvents:  []string{"pin true", "pin false", "join townhall participant"},
		},
		{
			name:        "a room locked at join time hears so and hangs up",
			giveJoinErr: ErrRoomLocked,
			steps:       []step{{idle: true}, {keys: "1000#"}, {idle: true}, {wait: time.Second}},
			wantPrompts: []string{PromptWelcome, PromptGetConfNo, PromptRoomLocked, PromptGoodbye},
			wantEvents:  []string{"join demo participant", "hangup room_locked"},
		},
		{
			name:        "a failed join hears goodbye and hangs up",
			giveJoinErr: errors.New("room full"),
			steps:       []step{{idle: true}, {keys: "1000#"}, {idle: true}, {wait: time.Second}},
			wantPrompts: []string{PromptWelcome, PromptGetConfNo, PromptGoodbye},
			wantEvents:  []string{"join demo participant", "hangup join_failed"},
		},
		{
			name:        "keys typed ahead during the welcome all count",
			steps:       []step{{wait: 40 * time.Millisecond}, {burst: "2000#" + partPIN + "#"}, {idle: true}},
			wantPrompts: []string{PromptWelcome, PromptOnlyPerson},
			wantEvents:  []string{"pin true", "pin false", "join board participant"},
		},
		{
			name:        "star and letters inside an entry are ignored",
			steps:       []step{{idle: true}, {keys: "10*A00#"}, {idle: true}},
			wantPrompts: []string{PromptWelcome, PromptGetConfNo, PromptOnlyPerson},
			wantEvents:  []string{"join demo participant"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.giveCfg
			cfg.Directory = dir
			hs := newHarness(t, cfg)
			hs.h.participants = tt.giveInRoom
			hs.h.joinErr = tt.giveJoinErr
			for _, st := range tt.steps {
				switch {
				case st.idle:
					hs.idle()
				case st.keys != "":
					hs.keys(st.keys)
				case st.burst != "":
					hs.burst(st.burst)
				default:
					hs.wait(st.wait)
				}
			}
			if got := hs.started(); !slices.Equal(got, tt.wantPrompts) {
				t.Errorf("prompts:\n got  %s\n want %s", join(got), join(tt.wantPrompts))
			}
			if got := hs.h.list(); !slices.Equal(got, tt.wantEvents) {
				t.Errorf("events:\n got  %s\n want %s", join(got), join(tt.wantEvents))
			}
		})
	}
}

// A hang-up must come only after the goodbye prompt has gone out in full:
// the last talk-spurt is exactly "invalid PIN, goodbye", and Hangup is
// called after its last frame plus HangupDelay.
func TestSessionGoodbyePlaysInFullBeforeHangup(t *testing.T) {
	for _, delay := range []time.Duration{-1, DefaultHangupDelay} {
		t.Run("with hang-up delay "+delay.String(), func(t *testing.T) {
			hs := newHarness(t, Config{Directory: testDirectory(t), HangupDelay: delay})
			hs.idle()
			hs.keys("2000#")
			hs.idle()
			for _, pin := range []string{"1111#", "2222#"} {
				hs.keys(pin)
				hs.idle()
			}
			hs.keys("3333#")
			// Keys during the goodbye must not cut it short.
			hs.keys("123")
			hs.wait(2 * time.Second)

			spurts, first := hs.spurts()
			last := spurts[len(spurts)-1]
			if d := firstDiff(last, hs.concat(PromptInvalidPIN, PromptGoodbye)); d != "" {
				t.Fatalf("last talk-spurt is not invalid PIN + goodbye in full: %s", d)
			}
			lastFrame := first[len(first)-1] + len(last)/len(hs.buf) - 1
			e, ok := hs.h.find("hangup")
			if !ok {
				t.Fatal("no hangup")
			}
			wantFrame := lastFrame + 1 + int(max(delay, 0)/media.FrameDuration)
			if e.frame != wantFrame {
				t.Errorf("hangup during frame %d, want %d (goodbye's last frame %d, delay %v)", e.frame, wantFrame, lastFrame, delay)
			}
			for i := lastFrame + 1; i < len(hs.frames); i++ {
				if hs.frames[i].Audio {
					t.Fatalf("frame %d after the goodbye holds audio", i)
				}
			}
		})
	}
}

// Every talk-spurt holds its prompts back to back, sample for sample: no
// gap, no clipping at the start, nothing lost at a prompt boundary.
func TestSessionPromptsPlayContinuously(t *testing.T) {
	hs := newHarness(t, Config{Directory: testDirectory(t)})
	hs.h.participants = 6
	hs.idle()
	hs.keys("9#")
	hs.idle()
	hs.keys("1000#")
	hs.idle()
	spurts, _ := hs.spurts()
	want := [][]int16{
		hs.concat(PromptWelcome, PromptGetConfNo),
		hs.concat(PromptInvalid, PromptGetConfNo),
		hs.concat(PromptThereAre, "digits/6", PromptOtherInParty),
	}
	if len(spurts) != len(want) {
		t.Fatalf("got %d talk-spurts, want %d", len(spurts), len(want))
	}
	for i := range want {
		if d := firstDiff(spurts[i], want[i]); d != "" {
			t.Errorf("talk-spurt %d: %s", i, d)
		}
	}
	for i, f := range hs.frames {
		wantMarker := f.Audio && (i == 0 || !hs.frames[i-1].Audio)
		if f.Marker != wantMarker {
			t.Errorf("frame %d: marker %v, want %v", i, f.Marker, wantMarker)
		}
	}
}

// The first frame a new Session produces is the first frame of the
// welcome prompt, with the real stock prompts at every rate.
func TestSessionFirstFrameIsFirstFrameOfWelcome(t *testing.T) {
	for _, rate := range []int{8000, 16000, 48000} {
		t.Run(rateName(rate), func(t *testing.T) {
			set := stockSet(t, rate)
			hs := newHarness(t, Config{Prompts: set, Directory: testDirectory(t)})
			f := hs.tick()
			welcome, _ := set.Get(PromptWelcome)
			if !f.Audio || !f.Marker || f.Started != PromptWelcome {
				t.Fatalf("first frame: %+v, want audio, marker, started %s", f, PromptWelcome)
			}
			if d := firstDiff(hs.audio, welcome.Samples()[:len(hs.buf)]); d != "" {
				t.Fatalf("first frame is not the welcome's first frame: %s", d)
			}
		})
	}
}

// Barge-in: a key typed during a prompt silences it from the very next
// frame, and the key is the first digit of the entry.
func TestSessionBargeIn(t *testing.T) {
	tests := []struct {
		name       string
		giveFrames int // frames of the prompts heard before the key
		giveKeys   string
		wantEvents []string
	}{
		{"a key during the welcome stops it and counts", 2, "1000#", []string{"join demo participant"}},
		{"a key during the number prompt stops it and counts", 4, "1000#", []string{"join demo participant"}},
		{"a fixed-length entry typed over a prompt completes", 3, "1000", []string{"join demo participant"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, Config{Directory: testDirectory(t), Number: CollectorConfig{MaxDigits: 4}})
			hs.ticks(tt.giveFrames)
			if !hs.frames[len(hs.frames)-1].Audio {
				t.Fatal("test set-up: the prompt should still be playing")
			}
			hs.s.Digit(dtmf.Digit{Rune: rune(tt.giveKeys[0])})
			if f := hs.tick(); f.Audio {
				t.Fatalf("the frame after the key still holds prompt audio: %+v", f)
			}
			hs.keys(tt.giveKeys[1:])
			hs.idle()
			if got := hs.h.list(); !slices.Equal(got, tt.wantEvents) {
				t.Errorf("events: got %s, want %s", join(got), join(tt.wantEvents))
			}
		})
	}
}

// A key delivered from another goroutine while frames are being read (as
// the RTP read loop does) is neither lost nor doubled.
func TestSessionDigitsFromAnotherGoroutine(t *testing.T) {
	hs := newHarness(t, Config{Directory: testDirectory(t)})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, r := range "2000#" + partPIN + "#" {
			hs.s.Digit(dtmf.Digit{Rune: r})
		}
	}()
	for range 5 {
		hs.tick()
	}
	<-done
	hs.idle()
	if got, want := hs.h.list(), []string{"pin true", "pin false", "join board participant"}; !slices.Equal(got, want) {
		t.Fatalf("events: got %s, want %s", join(got), join(want))
	}
}

func TestSessionInCallCommands(t *testing.T) {
	tests := []struct {
		name        string
		giveRole    string // PIN to join with
		giveSteps   []step
		wantPrompts []string // after the join announcement
		wantEvents  []string // after the join
	}{
		{
			name:        "star six mutes and unmutes",
			giveRole:    partPIN,
			giveSteps:   []step{{keys: "*6"}, {idle: true}, {keys: "*6"}, {idle: true}},
			wantPrompts: []string{PromptMuted, PromptUnmuted},
			wantEvents:  []string{"command toggle_mute", "command toggle_mute"},
		},
		{
			name:        "star pound counts the participants",
			giveRole:    partPIN,
			giveSteps:   []step{{keys: "*#"}, {idle: true}},
			wantPrompts: []string{PromptThereAre, "digits/2", PromptOtherInParty},
			wantEvents:  []string{"command count"},
		},
		{
			name:        "star zero plays the help",
			giveRole:    partPIN,
			giveSteps:   []step{{keys: "*0"}, {idle: true}},
			wantPrompts: []string{PromptHelp},
			wantEvents:  []string{"command help"},
		},
		{
			name:        "star one is refused to a participant",
			giveRole:    partPIN,
			giveSteps:   []step{{keys: "*1"}, {idle: true}},
			wantPrompts: nil,
			wantEvents:  nil,
		},
		{
			name:        "star one locks and unlocks for a moderator",
			giveRole:    modPIN,
			giveSteps:   []step{{keys: "*1"}, {idle: true}, {keys: "*1"}, {idle: true}},
			wantPrompts: []string{PromptLocked, PromptUnlocked},
			wantEvents:  []string{"command toggle_lock", "command toggle_lock"},
		},
		{
			name:        "a stray key before a command is dropped",
			giveRole:    partPIN,
			giveSteps:   []step{{keys: "5*6"}, {idle: true}},
			wantPrompts: []string{PromptMuted},
			wantEvents:  []string{"command toggle_mute"},
		},
		{
			name:        "a command left unfinished times out",
			giveRole:    partPIN,
			giveSteps:   []step{{keys: "*"}, {wait: DefaultCommandTimeout}, {keys: "6"}, {idle: true}},
			wantPrompts: nil,
			wantEvents:  nil,
		},
		{
			name:        "a key stops an announcement and starts a command",
			giveRole:    partPIN,
			giveSteps:   []step{{keys: "*0"}, {wait: 200 * time.Millisecond}, {keys: "*6"}, {idle: true}},
			wantPrompts: []string{PromptHelp, PromptMuted},
			wantEvents:  []string{"command help", "command toggle_mute"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := testDirectory(t)
			room := dir["2000"]
			hs := newHarness(t, Config{Directory: dir, Room: &room})
			hs.h.participants = 2
			hs.idle()
			hs.keys(tt.giveRole + "#")
			hs.idle()
			nPrompts, nEvents := len(hs.started()), len(hs.h.list())
			for _, st := range tt.giveSteps {
				switch {
				case st.idle:
					hs.idle()
				case st.keys != "":
					hs.keys(st.keys)
				default:
					hs.wait(st.wait)
				}
			}
			if got := hs.started()[nPrompts:]; !slices.Equal(got, tt.wantPrompts) {
				t.Errorf("prompts: got %s, want %s", join(got), join(tt.wantPrompts))
			}
			if got := hs.h.list()[nEvents:]; !slices.Equal(got, tt.wantEvents) {
				t.Errorf("events: got %s, want %s", join(got), join(tt.wantEvents))
			}
		})
	}
}

func TestSessionCloseEndsPINEntry(t *testing.T) {
	tests := []struct {
		name       string
		giveInside bool // Close from inside a Handler call
	}{
		{"close from another goroutine", false},
		{"close from inside the handler", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := testDirectory(t)
			room := dir["2000"]
			var hs *harness
			rec := &recHandler{}
			h := HandlerFuncs{
				OnPINEntry: func(active bool) {
					rec.PINEntry(active)
					if active && tt.giveInside {
						hs.s.Close()
					}
				},
				OnJoin: rec.Join,
			}
			hs = newHarness(t, Config{Directory: dir, Room: &room, Handler: h})
			rec.frame = &hs.n
			hs.tick()
			if !tt.giveInside {
				hs.ticks(3)
				done := make(chan struct{})
				go func() { defer close(done); hs.s.Close() }()
				<-done
			}
			closedAt := len(hs.frames)
			hs.keys(partPIN + "#")
			hs.wait(time.Second)
			if got, want := rec.list(), []string{"pin true", "pin false"}; !slices.Equal(got, want) {
				t.Fatalf("events: got %s, want %s", join(got), join(want))
			}
			for i, f := range hs.frames[closedAt:] {
				if f.Audio {
					t.Fatalf("frame %d after Close holds audio", closedAt+i)
				}
			}
		})
	}
}

// Close racing with ReadFrame (run with -race): PINEntry(false) still
// comes exactly once.
func TestSessionCloseRacesWithRead(t *testing.T) {
	dir := testDirectory(t)
	room := dir["2000"]
	for range 50 {
		hs := newHarness(t, Config{Directory: dir, Room: &room})
		hs.tick()
		done := make(chan struct{})
		go func() { defer close(done); hs.s.Close() }()
		for range 5 {
			hs.s.Read(hs.buf)
		}
		<-done
		if got, want := hs.h.list(), []string{"pin true", "pin false"}; !slices.Equal(got, want) {
			t.Fatalf("events: got %s, want %s", join(got), join(want))
		}
	}
}

func TestNewSessionRefusesBadConfig(t *testing.T) {
	set := testPrompts(t)
	partial, _ := NewPromptSet(testRate, map[string][]int16{PromptWelcome: {1}})
	h := &recHandler{}
	dir := testDir{}
	tests := []struct {
		name    string
		giveCfg Config
		wantErr error
	}{
		{"no prompts", Config{Handler: h, Directory: dir}, ErrConfig},
		{"no handler", Config{Prompts: set, Directory: dir}, ErrConfig},
		{"no directory and no room", Config{Prompts: set, Handler: h}, ErrConfig},
		{"prompts missing from the set", Config{Prompts: partial, Handler: h, Directory: dir}, ErrMissingPrompt},
		{"a command that is the start of another", Config{Prompts: set, Handler: h, Directory: dir,
			Commands: map[string]Action{"*1": ActionHelp, "*12": ActionCount}}, ErrConfig},
		{"a command with a bad key", Config{Prompts: set, Handler: h, Directory: dir,
			Commands: map[string]Action{"*x": ActionHelp}}, ErrConfig},
		{"an unknown action", Config{Prompts: set, Handler: h, Directory: dir,
			Commands: map[string]Action{"*9": Action(99)}}, ErrConfig},
		{"a too long number", Config{Prompts: set, Handler: h, Directory: dir,
			Number: CollectorConfig{MaxDigits: 33}}, ErrConfig},
		{"a dial-out entry ended by star", Config{Prompts: set, Handler: h, Directory: dir,
			DialOut: CollectorConfig{EndKey: '*'}}, ErrConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewSession(tt.giveCfg); !errors.Is(err, tt.wantErr) {
				t.Fatalf("got %v, want %v", err, tt.wantErr)
			}
		})
	}
}
