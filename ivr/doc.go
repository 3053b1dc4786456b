// Package ivr is setbridge's dial-in IVR: the prompts a phone caller
// hears, the digits the caller types, and the flow from welcome to joining
// a room, then in-call DTMF commands. It knows nothing of SIP or RTP: it
// sees a leg that can play audio and that delivers digits.
//
// # Parts
//
//   - PromptSet (LoadPrompts): the stock prompts embedded from
//     ivr/prompts, overlaid by an operator's directory of WAV files, all
//     converted once, at load, to one rate (8000, 16000 or 48000 Hz).
//   - Player: plays queued prompts as 20 ms frames, one per Read, with no
//     gap and no clipping, reports talk-spurt starts and the queue running
//     dry, and stops within one frame.
//   - Collector: one digit entry (ended by '#', by length or by timeout) and
//     its tries, on an injected media.Clock.
//   - Session: the dial-in flow, driven by Digit and ReadFrame, reporting
//     through a Handler the consumer implements; it finds rooms through a
//     Directory the consumer implements.
//   - HashPIN / VerifyPIN: how PINs are stored and checked.
//
// # Wiring a phone leg to a Session
//
// At start-up, load one PromptSet at the rate the leg's downlink takes
// (the room's rate, since the RTP leg resamples from it to the codec):
//
//	set, err := ivr.LoadPrompts(ivr.PromptConfig{Rate: roomRate, Dir: cfg.PromptDir})
//
// Per call routed to the IVR, after the INVITE has been answered:
//
//	sess, err := ivr.NewSession(ivr.Config{Prompts: set, Handler: h, Directory: dir,
//		Room: presetRoomOrNil, Clock: clock, Logger: log})
//
// Then the leg does exactly this:
//
//  1. Every digit, from every source (RFC 4733 Receiver.Push and Tick,
//     SIP INFO, the in-band detector), goes to sess.Digit(d), once per
//     key press: dedupe across sources before, not after. Digit only
//     queues, so it may be called under the leg's own locks and from any
//     goroutine.
//  2. On every 20 ms tick of the leg's playout clock (the lobby's shared
//     tick before the call is in a room, the room's tick afterwards), call
//     sess.Read(buf) (or ReadFrameMarker, or ReadFrame, which fits the
//     lobby's source media.Uplink) with buf of sess.FrameSamples()
//     samples, after the leg's own ReadFrame of that tick (which delivers
//     the digits that arrived), and send buf as that tick's audio: as is
//     before joining, mixed over the room's audio after joining, when it
//     reports audio; silence (or nothing) when it does not. Set the RTP
//     marker bit on the packet carrying the first sample of a frame whose
//     marker is set (with 20 ms packets: that packet). Advance the RTP
//     timestamp by one frame per tick whether or not a packet is sent, so
//     timestamps stay continuous.
//  3. Call Read only for frames that will go on the wire: start with the
//     first packet after the call is answered (or in early media, if the
//     trunk is set up for it), once the leg is sending, so that the first
//     frame sent is the first frame of the welcome prompt. A frame read but
//     not sent is a clipped prompt.
//  4. When the call ends for any reason other than Handler.Hangup (BYE,
//     RTP timeout), call sess.Close().
//
// The Handler is called from inside Read, on the tick's goroutine:
//
//   - Join(room, role): put the leg into the room (conf.Join) and return
//     the participant count including the caller, or an error (one
//     wrapping ErrRoomLocked if the room is locked). The caller then hears
//     "you are the only person in this conference" or how many others are
//     there; keep calling Read on the room's tick for that announcement and
//     later ones (mute, count, help). A room plays beep-join/beep-leave
//     (PromptBeepJoin, PromptBeepLeave) to the others itself, with its own
//     Player.
//   - Command(cmd): toggle the caller's mute, the room's lock or its
//     recording, or count participants, and return the resulting state,
//     which the caller hears; for ActionDialOut (a moderator's *2 and the
//     number typed after it), start calling cmd.Number into the room in
//     the background and return at once.
//   - PINEntry(active): pause and resume the room's recording.
//   - Hangup(reason): send BYE. It comes after the goodbye prompt has been
//     read in full plus Config.HangupDelay; map the reason to metrics.
//
// Handler methods must not block on the goroutine that calls Read (for
// example on the room's tick when Read is called from it).
//
// # Secrets
//
// Conference numbers, PINs and digits never reach a log line: the Session
// logs rooms, roles, tries and reasons only. Directory and Handler
// implementations must do the same.
package ivr
