package sip

import (
	"errors"
	"fmt"

	sipmsg "github.com/emiago/sipgo/sip"

	"github.com/setbridge/setbridge/ivr"
)

var errNoIVR = errors.New("no ivr configured")

// startIVR hands an answered call to a dial-in IVR session: the call sits
// in the lobby, hearing prompts on the lobby's tick, until the session
// joins it to a room.
func (c *call) startIVR(rule DispatchRule) error {
	if c.s.ivr == nil {
		return errNoIVR
	}
	cfg := ivr.Config{Prompts: c.s.ivr.Prompts, Handler: ivrHandler{c}, Directory: c.s.ivr.Directory,
		Clock: c.s.clock, Logger: c.s.base.With("call_id", c.callID)}
	if !rule.IVR {
		r, ok := c.s.ivr.Room(rule.Room)
		if !ok {
			return fmt.Errorf("room %q unknown to the ivr", rule.Room)
		}
		cfg.Room = &r
	}
	sess, err := ivr.NewSession(cfg)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended.Load() {
		sess.Close()
		return errCallEnded
	}
	c.session = sess
	c.lobbyM = &lobbyMember{leg: c.leg, source: sess}
	c.leg.sending.Store(c.dir.weSend())
	c.s.lobby.add(c.lobbyM)
	return nil
}

// earlyIVR runs the IVR in early media: 183 Session Progress with our SDP
// answer, prompts and digits before the call is answered. It reports true
// once the caller has joined a room (the caller then sends the 200), and
// false after it has ended the call: 480 after the IVR's goodbye, or a
// CANCEL (answered 487 by the transaction layer).
func (c *call) earlyIVR(rule DispatchRule, sdp []byte, tx sipmsg.ServerTransaction) bool {
	c.earlyCh = make(chan bool, 1)
	prog := sipmsg.NewResponseFromRequest(c.dialog.InviteRequest, 183, "Session Progress", sdp)
	prog.AppendHeader(sipmsg.NewHeader("Content-Type", "application/sdp"))
	prog.AppendHeader(&sipmsg.ContactHeader{Address: sipmsg.Uri{Scheme: "sip", User: "setbridge",
		Host: c.local.String(), Port: c.s.portFor(c.dialog.InviteRequest.Transport())}, Params: transportParam(c.dialog.InviteRequest.Transport())})
	if err := c.dialog.WriteResponse(prog); err != nil {
		c.end("not established")
		return false
	}
	if err := c.startIVR(rule); err != nil {
		c.log.Error("call refused: ivr failed", "error", err)
		_ = c.dialog.Respond(500, "Server Internal Error", nil)
		c.end("ivr failed")
		return false
	}
	select {
	case joined := <-c.earlyCh:
		if joined {
			return true
		}
		_ = c.dialog.Respond(480, "Temporarily Unavailable", nil)
		c.end("ivr")
	case <-tx.Done():
		c.log.Info("call cancelled in early media")
		c.end("cancelled")
	}
	return false
}

// ivrHandler carries out what the IVR session decides. Its methods run on
// the lobby's or the room's tick and must not block.
type ivrHandler struct{ c *call }

func (h ivrHandler) Join(room ivr.RoomID, role ivr.Role) (int, error) {
	c := h.c
	n, err := c.join(string(room))
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	lm := c.lobbyM
	c.lobbyM = nil
	c.mu.Unlock()
	if lm != nil {
		c.s.lobby.remove(lm)
	}
	// From now on the session's announcements and in-call prompts are
	// mixed over the room's audio by the leg.
	c.leg.overlay.Store(c.session)
	c.log.Info("caller joined through the ivr", "room", string(room), "role", role.String())
	if c.earlyCh != nil {
		select {
		case c.earlyCh <- true: // answer the call now
		default:
		}
	}
	return n, nil
}

func (h ivrHandler) Command(cmd ivr.Command) (ivr.CommandResult, error) {
	c := h.c
	c.mu.Lock()
	m, room := c.member, c.room
	c.mu.Unlock()
	if m == nil {
		return ivr.CommandResult{}, errCallEnded
	}
	switch cmd.Action {
	case ivr.ActionToggleMute:
		muted := !m.Muted()
		m.SetMuted(muted)
		return ivr.CommandResult{Muted: muted}, nil
	case ivr.ActionCount:
		return ivr.CommandResult{Participants: c.s.conf.Participants(room)}, nil
	case ivr.ActionToggleLock:
		if c.s.ivr.SetLocked == nil || c.s.ivr.Room == nil {
			break
		}
		r, ok := c.s.ivr.Room(room)
		if !ok {
			return ivr.CommandResult{}, fmt.Errorf("room %q is not in the directory", room)
		}
		if err := c.s.ivr.SetLocked(room, !r.Locked); err != nil {
			return ivr.CommandResult{}, err
		}
		c.log.Info("room lock toggled by a moderator", "room", room, "locked", !r.Locked)
		return ivr.CommandResult{Locked: !r.Locked}, nil
	case ivr.ActionToggleRecord:
		if c.s.ivr.ToggleRecording == nil || c.s.ivr.Recording == nil {
			break
		}
		// Starting or stopping a recording touches the disk: not on the tick.
		go func() {
			on, err := c.s.ivr.ToggleRecording(room)
			c.log.Info("recording toggled by a moderator", "room", room, "recording", on, "error", err)
		}()
		return ivr.CommandResult{Recording: !c.s.ivr.Recording(room)}, nil
	}
	return ivr.CommandResult{}, fmt.Errorf("%v is not supported yet", cmd.Action)
}

func (h ivrHandler) PINEntry(active bool) {
	c := h.c
	room := ""
	if c.session != nil {
		if r, ok := c.session.Room(); ok {
			room = string(r)
		}
	}
	c.log.Debug("pin entry", "active", active, "room", room)
	if c.s.ivr.PINEntry != nil && room != "" {
		c.s.ivr.PINEntry(room, active)
	}
}

func (h ivrHandler) Hangup(reason ivr.HangupReason) {
	c := h.c
	c.log.Info("ivr hangs up", "reason", fmt.Sprint(reason))
	c.mu.Lock()
	inRoom := c.member != nil
	c.mu.Unlock()
	if c.earlyCh != nil && !inRoom {
		select {
		case c.earlyCh <- false: // still in early media: refuse the call
		default:
		}
		return
	}
	go c.hangup("ivr")
}
