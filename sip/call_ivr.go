package sip

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

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
	c.lobbyM = &lobbyMember{leg: &lobbyLeg{leg: c.leg}, source: sess}
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

// lobbyLeg is a call's leg as the lobby sees it: it goes quiet once the
// call is in a room. The session joins the room from inside the lobby's
// tick, between the tick's ReadFrame and WriteFrame of the leg; without
// this the room's tick and that WriteFrame would use the leg at once. The
// frame dropped is the first of the join announcement, inside its 50 ms
// lead-in of silence.
type lobbyLeg struct {
	leg  *rtpLeg
	gone atomic.Bool
}

func (l *lobbyLeg) ReadFrame(dst []int16) bool {
	if l.gone.Load() {
		clear(dst)
		return false
	}
	return l.leg.ReadFrame(dst)
}

func (l *lobbyLeg) WriteFrame(pcm []int16) {
	if !l.gone.Load() {
		l.leg.WriteFrame(pcm)
	}
}

// ivrHandler carries out what the IVR session decides. Its methods run on
// the lobby's or the room's tick and must not block.
type ivrHandler struct{ c *call }

func (h ivrHandler) Join(room ivr.RoomID, role ivr.Role) (int, error) {
	c := h.c
	// Join runs inside the lobby's tick, which has yet to write this
	// tick's frame to the leg; once in the room, only the room's tick may.
	c.mu.Lock()
	lm := c.lobbyM
	c.mu.Unlock()
	var ll *lobbyLeg
	if lm != nil {
		ll, _ = lm.leg.(*lobbyLeg)
	}
	if ll != nil {
		ll.gone.Store(true)
	}
	n, err := c.join(string(room))
	if err != nil {
		if ll != nil {
			ll.gone.Store(false) // the goodbye plays from the lobby
		}
		return 0, err
	}
	c.mu.Lock()
	lm = c.lobbyM
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
	case ivr.ActionDialOut:
		return ivr.CommandResult{}, c.dialOut(room, cmd.Number)
	}
	return ivr.CommandResult{}, fmt.Errorf("%v is not supported yet", cmd.Action)
}

// dialOut starts calling number into room for a moderator (*2): through
// the first trunk with outbound settings, as the API's dial-out does by
// default. It runs on the tick, so it only checks what it can at once (an
// error makes the moderator hear conf-cannotcall) and places the call on a
// goroutine of the server's; the outcome is logged. Once placed, the call
// is like any dial-out: it joins the room when answered, and lives on if
// the moderator hangs up; the server ends it on shutdown. The number is
// not logged here (Dial logs it once) nor put in an error (the IVR logs
// those).
func (c *call) dialOut(room, number string) error {
	if c.ended.Load() {
		return errCallEnded
	}
	if c.s.draining.Load() {
		return ErrDraining
	}
	trunk := c.s.dialOutTrunk()
	if trunk == "" {
		return fmt.Errorf("%w: no trunk has outbound settings", ErrNoOutbound)
	}
	req := DialRequest{Room: room, Trunk: trunk, Number: number}
	if strings.Trim(number, "0123456789") != "" || req.check() != nil {
		return fmt.Errorf("%w: not a number of digits", ErrBadDialRequest)
	}
	log := c.log.With("room", room, "outbound_trunk", trunk)
	c.s.wg.Add(1)
	go func() {
		defer c.s.wg.Done()
		o, err := c.s.Dial(context.Background(), req, func(e DialEvent) {
			switch e.State {
			case DialTrying, DialRinging, DialEarlyMedia:
				return
			}
			log.Info("moderator's dial-out", "outbound_call_id", e.CallID, "state", e.State, "code", e.Code, "reason", e.Reason)
		})
		if err != nil {
			log.Warn("moderator's dial-out not placed", "error", err)
			return
		}
		log.Info("moderator's dial-out placed", "outbound_call_id", o.ID())
	}()
	return nil
}

// dialOutTrunk names the first trunk with outbound settings, or "".
func (s *Server) dialOutTrunk() string {
	for i := range s.cfg.Trunks {
		if s.cfg.Trunks[i].Outbound != nil {
			return s.cfg.Trunks[i].Name
		}
	}
	return ""
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
