package ivr

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// A moderator's *2 asks for a number and hands it to Command; '*', '#'
// alone and the timeouts cancel without a call; participants are refused.
func TestSessionDialOut(t *testing.T) {
	errNoTrunk := errors.New("no outbound trunk")
	tests := []struct {
		name        string
		giveRole    string // PIN to join with
		giveCmdErr  error  // returned by Command
		giveSteps   []step
		wantPrompts []string // after the join announcement
		wantEvents  []string // after the join
	}{
		{
			name:        "a moderator calls a number",
			giveRole:    modPIN,
			giveSteps:   []step{{keys: "*2"}, {idle: true}, {keys: "1234#"}, {idle: true}},
			wantPrompts: []string{PromptGetNumber, PromptCalling},
			wantEvents:  []string{"command dial_out 1234"},
		},
		{
			name:        "the number may be typed during the prompt",
			giveRole:    modPIN,
			giveSteps:   []step{{keys: "*2"}, {wait: 200 * time.Millisecond}, {keys: "5551234#"}, {idle: true}},
			wantPrompts: []string{PromptGetNumber, PromptCalling},
			wantEvents:  []string{"command dial_out 5551234"},
		},
		{
			name:        "the number may come in one burst with the command",
			giveRole:    modPIN,
			giveSteps:   []step{{burst: "*2987#"}, {idle: true}},
			wantPrompts: []string{PromptCalling},
			wantEvents:  []string{"command dial_out 987"},
		},
		{
			name:        "a participant is refused and the digits do nothing",
			giveRole:    partPIN,
			giveSteps:   []step{{keys: "*2"}, {idle: true}, {keys: "1234#"}, {idle: true}},
			wantPrompts: nil,
			wantEvents:  nil,
		},
		{
			name:        "star cancels and the call goes on",
			giveRole:    modPIN,
			giveSteps:   []step{{keys: "*2"}, {idle: true}, {keys: "12*"}, {keys: "6#"}, {idle: true}, {keys: "*6"}, {idle: true}},
			wantPrompts: []string{PromptGetNumber, PromptMuted},
			wantEvents:  []string{"command toggle_mute"},
		},
		{
			name:        "pound alone cancels",
			giveRole:    modPIN,
			giveSteps:   []step{{keys: "*2"}, {idle: true}, {keys: "#"}, {idle: true}, {keys: "*6"}, {idle: true}},
			wantPrompts: []string{PromptGetNumber, PromptMuted},
			wantEvents:  []string{"command toggle_mute"},
		},
		{
			name:     "nothing typed: the first-digit timeout cancels",
			giveRole: modPIN,
			giveSteps: []step{{keys: "*2"}, {idle: true}, {wait: DefaultFirstDigitTimeout + time.Second},
				{keys: "1234#"}, {idle: true}, {keys: "*6"}, {idle: true}},
			wantPrompts: []string{PromptGetNumber, PromptMuted},
			wantEvents:  []string{"command toggle_mute"},
		},
		{
			name:     "no pound: the inter-digit timeout cancels, calling no part of a number",
			giveRole: modPIN,
			giveSteps: []step{{keys: "*2"}, {idle: true}, {keys: "1234"}, {wait: DefaultInterDigitTimeout + time.Second},
				{keys: "#"}, {idle: true}, {keys: "*6"}, {idle: true}},
			wantPrompts: []string{PromptGetNumber, PromptMuted},
			wantEvents:  []string{"command toggle_mute"},
		},
		{
			name:     "just before the timeouts the entry goes on",
			giveRole: modPIN,
			giveSteps: []step{{keys: "*2"}, {idle: true}, {wait: DefaultFirstDigitTimeout - time.Second},
				{keys: "12"}, {wait: DefaultInterDigitTimeout - time.Second}, {keys: "3#"}, {idle: true}},
			wantPrompts: []string{PromptGetNumber, PromptCalling},
			wantEvents:  []string{"command dial_out 123"},
		},
		{
			name:        "a failed command says the number cannot be called",
			giveRole:    modPIN,
			giveCmdErr:  errNoTrunk,
			giveSteps:   []step{{keys: "*2"}, {idle: true}, {keys: "1234#"}, {idle: true}},
			wantPrompts: []string{PromptGetNumber, PromptCannotCall},
			wantEvents:  []string{"command dial_out 1234"},
		},
		{
			name:     "a second number after the first",
			giveRole: modPIN,
			giveSteps: []step{{keys: "*2"}, {idle: true}, {keys: "1234#"}, {idle: true},
				{keys: "*2"}, {idle: true}, {keys: "5678#"}, {idle: true}},
			wantPrompts: []string{PromptGetNumber, PromptCalling, PromptGetNumber, PromptCalling},
			wantEvents:  []string{"command dial_out 1234", "command dial_out 5678"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := testDirectory(t)
			room := dir["2000"]
			hs := newHarness(t, Config{Directory: dir, Room: &room})
			hs.h.participants = 2
			hs.h.cmdErr = tt.giveCmdErr
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
				case st.burst != "":
					hs.burst(st.burst)
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

// The command carries the room and the moderator's role with the number.
func TestSessionDialOutCommand(t *testing.T) {
	dir := testDirectory(t)
	room := dir["5000"] // moderator PIN only
	var got []Command
	h := HandlerFuncs{
		OnJoin:    func(RoomID, Role) (int, error) { return 1, nil },
		OnCommand: func(c Command) (CommandResult, error) { got = append(got, c); return CommandResult{}, nil },
	}
	hs := newHarness(t, Config{Directory: dir, Room: &room, Handler: h})
	hs.idle()
	hs.keys(modPIN + "#")
	hs.idle()
	hs.keys("*2")
	hs.idle()
	hs.keys("0044207#")
	hs.idle()
	want := []Command{{Action: ActionDialOut, Room: "townhall", Role: RoleModerator, Number: "0044207"}}
	if !slices.Equal(got, want) {
		t.Fatalf("commands: got %+v, want %+v", got, want)
	}
	if a := ActionDialOut; !a.ModeratorOnly() || a.String() != "dial_out" || DefaultCommands()["*2"] != a {
		t.Fatalf("%v: moderator only %v, default key *2 %v", a, a.ModeratorOnly(), DefaultCommands()["*2"] == a)
	}
}
