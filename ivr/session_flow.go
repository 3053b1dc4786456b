package ivr

import (
	"errors"
	"time"

	"github.com/setbridge/setbridge/media"
)

// The dial-in flow. Everything here runs inside ReadFrame with runMu held,
// on the one goroutine that reads frames; Handler methods are called
// inline. Nothing here may log a digit, an entry, a PIN or a conference
// number.
//
//	start ─► [welcome] ─► number ──► PIN ──► join ──► in call
//	           (Room set)    │  ▲       │  ▲      │
//	              │          ▼  │       ▼  │      ▼ error
//	              └─► PIN   invalid    invalidpin  roomlocked?
//	                         │ 3 tries    │ 3 tries  │
//	                         ▼            ▼          ▼
//	                        goodbye ─► (HangupDelay) ─► Hangup ─► done
//
// In call, a moderator's dial-out command (*2) asks for a number:
//
//	in call ─► getnumber ─► digits … '#' ─► Command(Number) ─► calling ─► in call
//	                           │                   └─ error ─► cannotcall ─┘
//	                           └─ '*', '#' alone, timeout ─► in call (silently)

func (s *Session) readLocked(dst []int16) Frame {
	dst = dst[:s.player.frame]
	if s.closed.Load() || s.state == stDone {
		clear(dst)
		return Frame{}
	}
	now := s.clock.Now()
	if !s.started {
		s.started = true
		s.begin()
	}
	for s.state != stDone {
		r, ok := s.popDigit()
		if !ok {
			break
		}
		s.digit(r, now)
	}
	s.poll(now)
	if s.state == stDone || s.closed.Load() {
		clear(dst)
		return Frame{}
	}
	f := s.player.Read(dst)
	if f.Drained {
		s.drained(now)
	}
	return f
}

// begin starts the flow on the first frame.
func (s *Session) begin() {
	s.log.Debug("ivr started", "preset_room", s.preset != nil)
	if s.preset != nil {
		s.enterRoom(*s.preset, PromptWelcome)
		return
	}
	s.state = stNumber
	s.number.Reset()
	s.number.Begin()
	s.play(PromptWelcome, PromptGetConfNo)
}

// digit acts on one key press. During entries and in call a key stops the
// prompt playing (barge-in) and then counts; during goodbye it is ignored.
func (s *Session) digit(r rune, now time.Time) {
	switch s.state {
	case stNumber:
		s.player.Stop()
		if s.number.Digit(r) == Complete {
			s.numberEntered()
		}
	case stPIN:
		s.player.Stop()
		if s.pin.Digit(r) == Complete {
			s.pinEntered()
		}
	case stInCall:
		s.player.Stop()
		s.command(r, now)
	case stDialOut:
		s.player.Stop()
		if r == '*' {
			s.endDialOut("cancelled")
			return
		}
		if s.dial.Digit(r) == Complete {
			s.dialEntered()
		}
	}
}

// poll acts on the timeouts due at now.
func (s *Session) poll(now time.Time) {
	switch s.state {
	case stNumber:
		switch s.number.Poll() {
		case Complete:
			s.numberEntered()
		case NoInput:
			s.log.Info("no conference number entered", "try", s.number.Tries()+1)
			if s.number.Fail() {
				s.number.Begin()
				s.play(PromptGetConfNo)
			} else {
				s.goodbye(HangupNumberTries)
			}
		}
	case stPIN:
		switch s.pin.Poll() {
		case Complete:
			s.pinEntered()
		case NoInput:
			if s.room.ParticipantPINHash == "" {
				// Only a moderator PIN: no entry admits as a participant.
				s.pinAccepted(RoleParticipant)
				return
			}
			s.log.Info("no pin entered", "room", s.room.ID, "try", s.pin.Tries()+1)
			if s.pin.Fail() {
				s.pin.Begin()
				s.play(PromptGetPIN)
			} else {
				s.endPINEntry()
				s.goodbye(HangupPINTries)
			}
		}
	case stInCall:
		if s.cmdN > 0 && !now.Before(s.cmdDeadline) {
			s.cmdN = 0
		}
	case stDialOut:
		// A timeout never calls part of a number.
		if s.dial.Poll() != Collecting {
			s.endDialOut("timeout")
		}
	case stGoodbye:
		if !s.hangupAt.IsZero() && !now.Before(s.hangupAt) {
			s.state = stDone
			s.log.Info("ivr hangup", "reason", string(s.reason))
			if !s.closed.Load() {
				s.h.Hangup(s.reason)
			}
		}
	}
}

// drained acts on the end of the queued prompts.
func (s *Session) drained(now time.Time) {
	switch s.state {
	case stNumber:
		s.number.Arm()
	case stPIN:
		s.pin.Arm()
	case stDialOut:
		s.dial.Arm()
	case stGoodbye:
		// The frame just read is out on the wire by now+FrameDuration.
		s.hangupAt = now.Add(media.FrameDuration + s.hangWait)
	}
}

func (s *Session) numberEntered() {
	var room Room
	ok := false
	if s.number.Len() > 0 {
		room, ok = s.dir.Lookup(s.number.Entry())
	}
	if !ok {
		s.log.Info("conference number rejected", "try", s.number.Tries()+1)
		if s.number.Fail() {
			s.number.Begin()
			s.play(PromptInvalid, PromptGetConfNo)
		} else {
			s.goodbye(HangupNumberTries, PromptInvalid)
		}
		return
	}
	s.log.Info("conference number accepted", "room", room.ID)
	s.number.Reset()
	s.enterRoom(room)
}

// enterRoom goes on with a room found by number or preset: PIN, or join.
// first are prompts to play before (the welcome).
func (s *Session) enterRoom(room Room, first ...string) {
	s.room = room
	s.roomID.Store(&room.ID)
	switch {
	case room.Locked && room.ModeratorPINHash == "":
		s.log.Info("room locked", "room", room.ID)
		s.goodbye(HangupRoomLocked, append(first, PromptRoomLocked)...)
	case room.needsPIN():
		s.state = stPIN
		s.pin.Reset()
		s.pin.Begin()
		s.play(append(first, PromptGetPIN)...)
		s.pinActive = true
		s.h.PINEntry(true)
	default:
		s.join(RoleParticipant, first...)
	}
}

func (s *Session) pinEntered() {
	role, ok := s.checkPIN()
	if ok {
		s.pinAccepted(role)
		return
	}
	s.log.Info("pin rejected", "room", s.room.ID, "try", s.pin.Tries()+1)
	if s.pin.Fail() {
		s.pin.Begin()
		s.play(PromptInvalidPIN, PromptGetPIN)
		return
	}
	s.endPINEntry()
	s.goodbye(HangupPINTries, PromptInvalidPIN)
}

// checkPIN checks the entry against both of the room's hashes, always both
// when both are set, so that the time taken does not tell which matched.
func (s *Session) checkPIN() (Role, bool) {
	entry := s.pin.Entry()
	r := s.room
	mod, part := false, false
	if r.ModeratorPINHash != "" && entry != "" {
		mod = s.verify(r.ModeratorPINHash, entry)
		s.checkHash(r.ModeratorPINHash, "moderator")
	}
	if r.ParticipantPINHash != "" && entry != "" {
		part = s.verify(r.ParticipantPINHash, entry)
		s.checkHash(r.ParticipantPINHash, "participant")
	}
	s.pin.wipe()
	switch {
	case mod:
		return RoleModerator, true
	case part:
		return RoleParticipant, true
	case r.ParticipantPINHash == "" && entry == "":
		return RoleParticipant, true // only a moderator PIN: # alone joins
	}
	return RoleParticipant, false
}

// checkHash logs a stored hash no PIN can match, once per check, so that
// an operator sees why every PIN fails. It logs the kind, never the hash.
func (s *Session) checkHash(hash, kind string) {
	if !ValidPINHash(hash) {
		s.log.Error("room pin hash is malformed: no pin can match", "room", s.room.ID, "pin", kind)
	}
}

func (s *Session) pinAccepted(role Role) {
	s.endPINEntry()
	s.pin.Reset()
	s.log.Info("pin accepted", "room", s.room.ID, "role", role.String())
	if s.room.Locked && role != RoleModerator {
		s.log.Info("room locked", "room", s.room.ID)
		s.goodbye(HangupRoomLocked, PromptRoomLocked)
		return
	}
	s.join(role)
}

func (s *Session) endPINEntry() {
	if s.pinActive {
		s.pinActive = false
		if !s.closed.Load() {
			s.h.PINEntry(false)
		}
	}
}

// join asks the Handler to join the room and announces who is there.
func (s *Session) join(role Role, first ...string) {
	if s.closed.Load() {
		s.state = stDone
		return
	}
	s.role = role
	n, err := s.h.Join(s.room.ID, role)
	if err != nil {
		if errors.Is(err, ErrRoomLocked) {
			s.log.Info("room locked", "room", s.room.ID)
			s.goodbye(HangupRoomLocked, append(first, PromptRoomLocked)...)
			return
		}
		s.log.Warn("join failed", "room", s.room.ID, "error", err)
		s.goodbye(HangupJoinFailed, first...)
		return
	}
	s.state = stInCall
	s.cmdN = 0
	s.log.Info("joined", "room", s.room.ID, "role", role.String(), "participants", n)
	s.play(first...)
	s.announceCount(n)
}

// announceCount says how many others are in the room.
func (s *Session) announceCount(participants int) {
	switch others := participants - 1; {
	case others <= 0:
		s.play(PromptOnlyPerson)
	case others == 1:
		s.play(PromptOnlyOne)
	default:
		s.names = append(s.names[:0], PromptThereAre)
		s.names = NumberPrompts(s.names, others)
		s.names = append(s.names, PromptOtherInParty)
		s.play(s.names...)
	}
}

// command adds an in-call key to the command being typed and runs it when
// it matches. A key that continues no command starts a new one.
func (s *Session) command(r rune, now time.Time) {
	if s.cmdN == len(s.cmdBuf) {
		s.cmdN = 0
	}
	s.cmdBuf[s.cmdN] = byte(r)
	s.cmdN++
	for {
		key := s.cmdBuf[:s.cmdN]
		if a, ok := s.cmds[string(key)]; ok {
			s.cmdN = 0
			s.run(a)
			return
		}
		if s.prefixes[string(key)] {
			s.cmdDeadline = now.Add(s.cmdWait)
			return
		}
		if s.cmdN == 1 {
			s.cmdN = 0
			return
		}
		s.cmdBuf[0] = byte(r)
		s.cmdN = 1
	}
}

func (s *Session) run(a Action) {
	if a.ModeratorOnly() && s.role != RoleModerator {
		s.log.Info("command refused: moderators only", "room", s.room.ID, "action", a.String())
		return
	}
	if a == ActionDialOut {
		// The number comes first; Command follows in dialEntered.
		s.log.Debug("dial-out number entry", "room", s.room.ID)
		s.state = stDialOut
		s.dial.Reset()
		s.dial.Begin()
		s.play(PromptGetNumber)
		return
	}
	s.log.Debug("command", "room", s.room.ID, "action", a.String())
	res, err := s.h.Command(Command{Action: a, Room: s.room.ID, Role: s.role})
	if err != nil {
		s.log.Warn("command failed", "room", s.room.ID, "action", a.String(), "error", err)
		return
	}
	switch a {
	case ActionToggleMute:
		if res.Muted {
			s.play(PromptMuted)
		} else {
			s.play(PromptUnmuted)
		}
	case ActionCount:
		s.announceCount(res.Participants)
	case ActionHelp:
		s.play(PromptHelp)
	case ActionToggleLock:
		if res.Locked {
			s.play(PromptLocked)
		} else {
			s.play(PromptUnlocked)
		}
	case ActionToggleRecord:
		if res.Recording {
			s.play(PromptRecordingStarted)
		} else {
			s.play(PromptRecordingStopped)
		}
	}
}

// dialEntered acts on a number ended by EndKey (or by length): an empty
// one cancels, any other is handed to Command.
func (s *Session) dialEntered() {
	if s.dial.Len() == 0 {
		s.endDialOut("empty")
		return
	}
	number := s.dial.Entry()
	s.dial.Reset()
	s.state = stInCall
	s.cmdN = 0
	_, err := s.h.Command(Command{Action: ActionDialOut, Room: s.room.ID, Role: s.role, Number: number})
	if err != nil {
		s.log.Warn("command failed", "room", s.room.ID, "action", ActionDialOut.String(), "error", err)
		s.play(PromptCannotCall)
		return
	}
	s.log.Info("dial-out requested", "room", s.room.ID)
	s.play(PromptCalling)
}

// endDialOut drops the number being typed and goes back to the call,
// without a prompt.
func (s *Session) endDialOut(why string) {
	s.log.Info("dial-out cancelled", "room", s.room.ID, "why", why)
	s.dial.Reset()
	s.state = stInCall
	s.cmdN = 0
}

// goodbye plays prompts then goodbye, without barge-in, and hangs up once
// they are out.
func (s *Session) goodbye(reason HangupReason, prompts ...string) {
	s.player.Stop()
	s.state = stGoodbye
	s.reason = reason
	s.hangupAt = time.Time{}
	s.log.Info("ivr ending call", "reason", string(reason))
	s.play(append(prompts, PromptGoodbye)...)
}

// play queues prompts by name after what is playing.
func (s *Session) play(names ...string) {
	s.scratch = s.scratch[:0]
	for _, n := range names {
		if p, ok := s.prompts.Get(n); ok {
			s.scratch = append(s.scratch, p)
		}
	}
	if err := s.player.Enqueue(s.scratch...); err != nil {
		s.log.Error("cannot play prompts", "error", err)
	}
	clear(s.scratch)
}
