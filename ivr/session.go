package ivr

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/setbridge/setbridge/media"
	"github.com/setbridge/setbridge/media/dtmf"
)

// RoomID names a room, as the rest of setbridge does.
type RoomID string

// Room is what a Directory knows about a room reachable by a conference
// number.
type Room struct {
	ID RoomID
	// ParticipantPINHash and ModeratorPINHash are PIN hashes (see HashPIN),
	// or "" for no such PIN. The caller is asked for a PIN if either is
	// set. A participant PIN admits as RoleParticipant, a moderator PIN as
	// RoleModerator. With only a moderator PIN, an empty entry (# alone, or
	// nothing until the first-digit timeout) admits as a participant.
	ParticipantPINHash string
	ModeratorPINHash   string
	// Locked rooms admit moderators only. It is the state at lookup; Join
	// has the last word (by returning ErrRoomLocked).
	Locked bool
}

func (r Room) needsPIN() bool { return r.ParticipantPINHash != "" || r.ModeratorPINHash != "" }

// Directory finds rooms by conference number. The consumer implements it
// (config and HTTP API rooms). Lookup is called on the goroutine that calls
// Session.ReadFrame: it must answer from memory, without blocking. The
// number must not be logged.
type Directory interface {
	Lookup(confNumber string) (Room, bool)
}

// DirectoryFunc adapts a function to Directory.
type DirectoryFunc func(confNumber string) (Room, bool)

// Lookup calls f.
func (f DirectoryFunc) Lookup(confNumber string) (Room, bool) { return f(confNumber) }

// Role is what a caller may do in a room.
type Role int

const (
	RoleParticipant Role = iota
	RoleModerator
)

func (r Role) String() string {
	if r == RoleModerator {
		return "moderator"
	}
	return "participant"
}

// Action is an in-call DTMF command.
type Action int

const (
	// ActionToggleMute mutes or unmutes the caller; the caller hears
	// conf-muted or conf-unmuted, after CommandResult.Muted.
	ActionToggleMute Action = iota + 1
	// ActionCount announces the number of participants, from
	// CommandResult.Participants.
	ActionCount
	// ActionHelp plays conf-help.
	ActionHelp
	// ActionToggleLock locks or unlocks the room (moderators only); the
	// caller hears conf-locked or conf-unlocked, after
	// CommandResult.Locked.
	ActionToggleLock
	// ActionToggleRecord starts or stops the room's recording (moderators
	// only); the caller hears conf-recordingstarted or
	// conf-recordingstopped, after CommandResult.Recording.
	ActionToggleRecord
	// ActionDialOut calls a number into the room (moderators only). Its
	// key does not run it at once: the caller hears conf-getnumber and
	// types the number, ended by '#' ('*' cancels, and so does a timeout:
	// see Config.DialOut). Command then gets the number in
	// Command.Number, and the caller hears conf-calling, or
	// conf-cannotcall if Command returns an error.
	ActionDialOut
)

func (a Action) String() string {
	switch a {
	case ActionToggleMute:
		return "toggle_mute"
	case ActionCount:
		return "count"
	case ActionHelp:
		return "help"
	case ActionToggleLock:
		return "toggle_lock"
	case ActionToggleRecord:
		return "toggle_record"
	case ActionDialOut:
		return "dial_out"
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// ModeratorOnly reports whether only moderators may use a.
func (a Action) ModeratorOnly() bool {
	return a == ActionToggleLock || a == ActionToggleRecord || a == ActionDialOut
}

func (a Action) valid() bool { return a >= ActionToggleMute && a <= ActionDialOut }

// DefaultCommands returns the default in-call command map: *6 mute/unmute,
// *# participant count, *0 help, and for moderators *1 lock/unlock, *9
// recording on/off and *2 call a number into the room. The stock conf-help
// prompt describes the commands everyone has (*6, *#, *0); an operator who
// changes the map should record a conf-help to match.
func DefaultCommands() map[string]Action {
	return map[string]Action{
		"*6": ActionToggleMute,
		"*#": ActionCount,
		"*0": ActionHelp,
		"*1": ActionToggleLock,
		"*9": ActionToggleRecord,
		"*2": ActionDialOut,
	}
}

// Command is an in-call command for the consumer to carry out.
type Command struct {
	Action Action
	Room   RoomID
	Role   Role
	// Number is what ActionDialOut calls: the digits 0-9 the moderator
	// typed, never empty ("" for the other actions). The Session never
	// logs it.
	Number string
}

// CommandResult is the state after a command, which the caller hears.
// Only the field of the command's action is read (ActionDialOut has none:
// a nil error means the call is being placed).
type CommandResult struct {
	Muted        bool // ActionToggleMute: the caller is now muted
	Locked       bool // ActionToggleLock: the room is now locked
	Recording    bool // ActionToggleRecord: the room is now being recorded
	Participants int  // ActionCount: participants in the room, the caller included
}

// HangupReason says why a Session ended the call; the values suit metric
// labels.
type HangupReason string

const (
	HangupNumberTries HangupReason = "number_tries" // no valid conference number in MaxTries
	HangupPINTries    HangupReason = "pin_tries"    // no valid PIN in MaxTries
	HangupRoomLocked  HangupReason = "room_locked"  // the room admits moderators only
	HangupJoinFailed  HangupReason = "join_failed"  // Handler.Join returned an error
)

// Handler receives a Session's outputs; the consumer (the SIP gateway's
// wiring) implements it. Every method is called on the goroutine calling
// Session.ReadFrame, during that call, without any lock of the Session
// held (except PINEntry(false) after Close, see Close), in the order the
// events happen. Methods may call Session.Digit and Session.Close, but not
// ReadFrame. Each call delays the frame being produced, so they should
// return within a few milliseconds.
type Handler interface {
	// Join puts the caller into room with role, and returns the number of
	// participants in the room after joining, the caller included. An error
	// wrapping ErrRoomLocked plays conf-roomlocked, any error then goodbye,
	// then Hangup.
	Join(room RoomID, role Role) (participants int, err error)
	// Command carries out an in-call command and returns the state the
	// caller should hear. On error the caller hears nothing, except for
	// ActionDialOut (conf-cannotcall). ActionDialOut must only start the
	// call (on a goroutine of the consumer's) and return: its outcome comes
	// too late for this frame.
	Command(cmd Command) (CommandResult, error)
	// PINEntry(true) is called when the caller is asked for a PIN, and
	// PINEntry(false) exactly once after each true, when the PIN step ends
	// for any reason (accepted, tries exhausted, Close). A recording of the
	// room pauses in between.
	PINEntry(active bool)
	// Hangup asks the consumer to end the call (send BYE). It is called
	// once, after the goodbye prompt has been read out in full and
	// Config.HangupDelay has passed; the Session is silent from then on.
	Hangup(reason HangupReason)
}

// HandlerFuncs adapts functions to Handler; a nil function does nothing
// (OnJoin nil fails the join with ErrNoHandler; OnCommand nil returns a
// zero result).
type HandlerFuncs struct {
	OnJoin     func(room RoomID, role Role) (int, error)
	OnCommand  func(cmd Command) (CommandResult, error)
	OnPINEntry func(active bool)
	OnHangup   func(reason HangupReason)
}

// Join calls OnJoin.
func (h HandlerFuncs) Join(room RoomID, role Role) (int, error) {
	if h.OnJoin == nil {
		return 0, ErrNoHandler
	}
	return h.OnJoin(room, role)
}

// Command calls OnCommand.
func (h HandlerFuncs) Command(cmd Command) (CommandResult, error) {
	if h.OnCommand == nil {
		return CommandResult{}, nil
	}
	return h.OnCommand(cmd)
}

// PINEntry calls OnPINEntry.
func (h HandlerFuncs) PINEntry(active bool) {
	if h.OnPINEntry != nil {
		h.OnPINEntry(active)
	}
}

// Hangup calls OnHangup.
func (h HandlerFuncs) Hangup(reason HangupReason) {
	if h.OnHangup != nil {
		h.OnHangup(reason)
	}
}

// Defaults of Config.
const (
	DefaultCommandTimeout = 3 * time.Second
	DefaultHangupDelay    = 200 * time.Millisecond
	// maxCommandLen bounds a command key sequence.
	maxCommandLen = 8
	// inboxSize bounds the digits queued between two frames.
	inboxSize = 64
)

// Config configures a Session. Prompts and Handler are required, and
// Directory unless Room is set.
type Config struct {
	// Prompts is the set to play, at the rate the Session's frames are
	// produced (see LoadPrompts).
	Prompts *PromptSet
	// Handler receives the Session's outputs.
	Handler Handler
	// Directory finds the room for a conference number.
	Directory Directory
	// Room, if set, is the room the dispatch rule already chose: the caller
	// hears the welcome, then the PIN prompt if the room has a PIN, and
	// joins; no conference number is asked.
	Room *Room
	// Clock times the digit and command timeouts; default the system
	// clock. Prompts are timed by frames, not by the clock.
	Clock media.Clock
	// Logger gets the Session's log lines (never a digit); default none.
	Logger *slog.Logger
	// Number configures the conference number entry (ended by '#' or after
	// Number.MaxDigits digits; 5 s inter-digit and 10 s first-digit
	// timeouts; 3 tries by default).
	Number CollectorConfig
	// PIN configures the PIN entry, with the same defaults.
	PIN CollectorConfig
	// DialOut configures the entry of a number to call (ActionDialOut),
	// with the same defaults, except that only EndKey (or MaxDigits) ends
	// it with a call: the first-digit and inter-digit timeouts cancel it,
	// as '*' does, rather than call part of a number. MaxTries is not used.
	DialOut CollectorConfig
	// Commands maps in-call key sequences ("*6") to actions; nil means
	// DefaultCommands, an empty map no commands. No key may be a prefix of
	// another.
	Commands map[string]Action
	// CommandTimeout is how long a partly typed command waits for its next
	// key. Default 3 s.
	CommandTimeout time.Duration
	// VerifyPIN checks an entered PIN against a stored hash; default
	// VerifyPIN. Both of a room's hashes are always checked, so the time
	// taken does not tell which one matched.
	VerifyPIN func(hash, pin string) bool
	// HangupDelay is the silence after the goodbye prompt before Hangup,
	// so the caller's jitter buffer plays the prompt out before the BYE.
	// Default 200 ms; negative means none.
	HangupDelay time.Duration
}

// Session runs one caller through the dial-in IVR: welcome, conference
// number, PIN, join, then in-call DTMF commands. It is driven by two
// inputs, Digit (from any goroutine) and ReadFrame (once per 20 ms frame,
// from one goroutine), and reports through Config.Handler. It starts no
// goroutines and sets no timers: its timeouts are checked against
// Config.Clock on each ReadFrame.
type Session struct {
	log      *slog.Logger
	clock    media.Clock
	h        Handler
	dir      Directory
	prompts  *PromptSet
	preset   *Room
	cmds     map[string]Action
	prefixes map[string]bool // proper prefixes of the command keys
	verify   func(hash, pin string) bool
	cmdWait  time.Duration
	hangWait time.Duration
	player   *Player

	inMu    sync.Mutex
	inbox   [inboxSize]rune // guarded by inMu
	inHead  int             // guarded by inMu
	inN     int             // guarded by inMu
	dropped int             // guarded by inMu; digits lost to a full inbox

	closed atomic.Bool
	roomID atomic.Pointer[RoomID] // the room found, for Room()

	// runMu is held by ReadFrame for its whole run (and by Close when
	// ReadFrame is not running); it guards everything below.
	runMu       sync.Mutex
	number, pin *Collector
	dial        *Collector // the number to call (ActionDialOut)
	started     bool
	state       state
	room        Room
	role        Role
	pinActive   bool
	cmdBuf      [maxCommandLen]byte
	cmdN        int
	cmdDeadline time.Time
	hangupAt    time.Time
	reason      HangupReason
	scratch     []*Prompt
	names       []string
}

type state int

const (
	stNumber  state = iota // asking for the conference number
	stPIN                  // asking for the PIN
	stInCall               // joined; in-call commands
	stDialOut              // joined; a moderator types a number to call
	stGoodbye              // goodbye playing; Hangup when it is out
	stDone                 // hung up or closed: silent
)

// sessionPrompts are the prompts a Session may play, besides numbers.
var sessionPrompts = []string{
	PromptWelcome, PromptGetConfNo, PromptGetPIN, PromptInvalid, PromptInvalidPIN,
	PromptOnlyPerson, PromptOnlyOne, PromptThereAre, PromptOtherInParty,
	PromptMuted, PromptUnmuted, PromptLocked, PromptUnlocked, PromptRoomLocked,
	PromptRecordingStarted, PromptRecordingStopped,
	PromptGetNumber, PromptCalling, PromptCannotCall,
	PromptHelp, PromptGoodbye,
}

// NewSession returns a Session ready for its first ReadFrame, which starts
// the flow; NewSession itself calls nothing.
func NewSession(cfg Config) (*Session, error) {
	switch {
	case cfg.Prompts == nil:
		return nil, fmt.Errorf("%w: no prompt set", ErrConfig)
	case cfg.Handler == nil:
		return nil, fmt.Errorf("%w: no handler", ErrConfig)
	case cfg.Directory == nil && cfg.Room == nil:
		return nil, fmt.Errorf("%w: neither a directory nor a room", ErrConfig)
	}
	if missing := missingPrompts(cfg.Prompts); len(missing) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrMissingPrompt, strings.Join(missing, ", "))
	}
	player, err := NewPlayer(cfg.Prompts.Rate())
	if err != nil {
		return nil, err
	}
	clock := cfg.Clock
	if clock == nil {
		clock = media.SystemClock{}
	}
	number, err := NewCollector(clock, cfg.Number)
	if err != nil {
		return nil, fmt.Errorf("number entry: %w", err)
	}
	pin, err := NewCollector(clock, cfg.PIN)
	if err != nil {
		return nil, fmt.Errorf("pin entry: %w", err)
	}
	dial, err := NewCollector(clock, cfg.DialOut)
	if err != nil {
		return nil, fmt.Errorf("dial-out entry: %w", err)
	}
	if dial.Config().EndKey == '*' {
		return nil, fmt.Errorf("%w: dial-out entry: '*' cancels it and cannot end it", ErrConfig)
	}
	cmds := cfg.Commands
	if cmds == nil {
		cmds = DefaultCommands()
	}
	prefixes, err := commandPrefixes(cmds)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Session{
		log: log.With("component", "ivr"), clock: clock, h: cfg.Handler, dir: cfg.Directory,
		prompts: cfg.Prompts, cmds: cmds, prefixes: prefixes, verify: cfg.VerifyPIN,
		cmdWait: cfg.CommandTimeout, hangWait: cfg.HangupDelay, player: player,
		number: number, pin: pin, dial: dial, scratch: make([]*Prompt, 0, 16), names: make([]string, 0, 16),
	}
	if cfg.Room != nil {
		r := *cfg.Room
		s.preset = &r
	}
	if s.verify == nil {
		s.verify = VerifyPIN
	}
	if s.cmdWait == 0 {
		s.cmdWait = DefaultCommandTimeout
	}
	if s.hangWait == 0 {
		s.hangWait = DefaultHangupDelay
	} else if s.hangWait < 0 {
		s.hangWait = 0
	}
	return s, nil
}

func missingPrompts(set *PromptSet) []string {
	var missing []string
	need := slices.Clone(sessionPrompts)
	for i := range digitPrompts {
		if digitPrompts[i] != "" {
			need = append(need, digitPrompts[i])
		}
	}
	need = append(need, "digits/hundred", "digits/thousand")
	for _, n := range need {
		if _, ok := set.Get(n); !ok {
			missing = append(missing, n)
		}
	}
	return missing
}

// commandPrefixes checks a command map and returns the proper prefixes of
// its keys.
func commandPrefixes(cmds map[string]Action) (map[string]bool, error) {
	prefixes := make(map[string]bool)
	for k, a := range cmds {
		if len(k) == 0 || len(k) > maxCommandLen {
			return nil, fmt.Errorf("%w: command %q: 1 to %d keys", ErrConfig, k, maxCommandLen)
		}
		for _, r := range k {
			if !isKey(r) {
				return nil, fmt.Errorf("%w: command %q: %q is not a DTMF key", ErrConfig, k, r)
			}
		}
		if !a.valid() {
			return nil, fmt.Errorf("%w: command %q: unknown action %d", ErrConfig, k, int(a))
		}
		for i := 1; i < len(k); i++ {
			prefixes[k[:i]] = true
		}
	}
	for k := range cmds {
		if prefixes[k] {
			return nil, fmt.Errorf("%w: command %q is the start of a longer one", ErrConfig, k)
		}
	}
	return prefixes, nil
}

// Rate returns the sample rate of the frames ReadFrame produces.
func (s *Session) Rate() int { return s.player.rate }

// Room returns the room the caller chose (or was sent to), once known; it
// is safe from any goroutine, callbacks included.
func (s *Session) Room() (RoomID, bool) {
	if id := s.roomID.Load(); id != nil {
		return *id, true
	}
	return "", false
}

// FrameSamples returns the number of samples in a frame.
func (s *Session) FrameSamples() int { return s.player.frame }

// Digit delivers a key press, from any goroutine (the RTP read loop, a SIP
// INFO handler, the tick). It only queues the digit, never calls out and
// never blocks on ReadFrame; the next ReadFrame acts on it, so a prompt it
// interrupts stops within one frame. Each call is one key press: a leg
// with several digit sources must deliver each press once. Keys other than
// 0-9 * # A-D are ignored.
func (s *Session) Digit(d dtmf.Digit) {
	if !isKey(d.Rune) || s.closed.Load() {
		return
	}
	s.inMu.Lock()
	defer s.inMu.Unlock()
	if s.inN == len(s.inbox) {
		s.dropped++
		return
	}
	s.inbox[(s.inHead+s.inN)%len(s.inbox)] = d.Rune
	s.inN++
}

func (s *Session) popDigit() (rune, bool) {
	s.inMu.Lock()
	defer s.inMu.Unlock()
	if s.inN == 0 {
		return 0, false
	}
	r := s.inbox[s.inHead]
	s.inbox[s.inHead] = 0
	s.inHead = (s.inHead + 1) % len(s.inbox)
	s.inN--
	return r, true
}

// Read produces the next frame of the caller's audio into
// dst[:FrameSamples()] and describes it (see Frame): first it acts on the
// digits that arrived since the last frame and on the timeouts due, then
// reads the frame from the prompt queue. When nothing plays the frame is
// zeros and Frame.Audio false. A dst shorter than a frame gets nothing.
func (s *Session) Read(dst []int16) Frame {
	if len(dst) < s.player.frame {
		return Frame{}
	}
	s.runMu.Lock()
	f := s.readLocked(dst)
	s.runMu.Unlock()
	if s.closed.Load() {
		s.finishClose()
	}
	return f
}

// ReadFrame is Read reporting only Frame.Audio, in the shape of
// media.Uplink.
func (s *Session) ReadFrame(dst []int16) bool { return s.Read(dst).Audio }

// ReadFrameMarker is Read reporting Frame.Audio and Frame.Marker, so that
// the SIP side can declare the interface it needs without importing this
// package:
//
//	type promptSource interface {
//		ReadFrameMarker(dst []int16) (audio, marker bool)
//	}
func (s *Session) ReadFrameMarker(dst []int16) (audio, marker bool) {
	f := s.Read(dst)
	return f.Audio, f.Marker
}

var _ media.Uplink = (*Session)(nil)

// Close ends the Session when the call ends for another reason (BYE,
// timeout): it stops the prompts, drops pending digits, and makes every
// later ReadFrame silent; no Handler method is called afterwards, except
// PINEntry(false) if a PIN entry was in progress. That call comes from
// Close itself, or, if a ReadFrame is running at that moment (including a
// Handler method calling Close), from that ReadFrame just before it
// returns. Close may be called from any goroutine, more than once.
func (s *Session) Close() {
	s.closed.Store(true)
	s.finishClose()
}

// finishClose does Close's work if no ReadFrame is running; otherwise the
// running ReadFrame does it when it ends (it checks closed after releasing
// runMu).
func (s *Session) finishClose() {
	if !s.runMu.TryLock() {
		return
	}
	defer s.runMu.Unlock()
	if s.state != stDone {
		s.log.Debug("ivr closed")
	}
	s.state = stDone
	s.player.Stop()
	s.number.Reset()
	s.pin.Reset()
	s.dial.Reset()
	s.inMu.Lock()
	clear(s.inbox[:])
	s.inN = 0
	s.inMu.Unlock()
	if s.pinActive {
		s.pinActive = false
		s.h.PINEntry(false)
	}
}
