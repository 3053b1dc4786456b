// Package dtmf carries DTMF digits over RTP and SIP.
//
// It has four independent pieces:
//
//   - [Event]: the 4-byte RFC 4733 telephone-event payload (§2.3), with
//     [CodeToDigit] and [DigitToCode] for the DTMF event codes 0-15 (§3.2).
//   - [Receiver]: turns a stream of telephone-event RTP packets into digits,
//     reporting every key press exactly once even when packets are lost,
//     duplicated or reordered.
//   - [Sender]: produces the packet sequence for one digit, one packet per
//     packetization interval, so an RTP leg can interleave it with its audio
//     clock.
//   - [ParseInfo]: digits carried in SIP INFO bodies (application/dtmf-relay
//     and application/dtmf).
//
// Nothing in the package reads the wall clock: the receiver is driven by the
// times passed to [Receiver.Push] and [Receiver.Tick], so it can be tested on
// a fake clock. The per-packet paths ([Event.Unmarshal], [Event.MarshalTo],
// [Receiver.Push], [Receiver.Tick], [Sender.Next]) do not allocate.
//
// The types are not safe for concurrent use; an RTP leg owns one [Receiver]
// per incoming SSRC and one [Sender] per outgoing stream.
package dtmf
