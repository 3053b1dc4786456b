// Package roomsvc is the two-level room service of the design ([0046]-[0066]
// of the seed): a central service (role "room") that knows which SETs hold
// a room, and per SET one or more SET room services (role "roomset") that
// know which machines of their SET hold it and cache participant pages.
//
// Every machine runs an Agent. The agent registers the room's local
// participants with its SET's room service for that room, the first by
// rendezvous rank of the room id over the SET's live roomset nodes; the
// SET service registers the room with the central service, the first by
// rank of "central" over the live room nodes. Every level sends the level
// above the same three kinds of message for a room:
//
//   - a registration: the full membership of the machines it covers, in
//     chunks; the receiver replaces what it held for those machines and
//     turns the difference into events;
//   - deltas: events with a sequence number, so that a gap (a lost message)
//     is noticed;
//   - a heartbeat (a NATS request) listing its rooms and their last
//     sequence number; the answer names the rooms the receiver does not
//     know or has lost track of, and the sender registers those in full.
//
// That one mechanism rebuilds everything after a crash: a restarted or
// standby central service knows no room, so every SET service registers
// all of its rooms at its next heartbeat; when a SET service dies, its
// machines' heartbeats fail at once (NATS has no responder), they rank the
// room over the SET's other roomset nodes and register in full with the
// next one. Live membership is only ever in memory.
//
// Changes travel machine → SET service → central → every SET service
// holding the room → its machines. A SET service coalesces its machines'
// deltas per room over Window (default 150 ms) into one message upward;
// the central service applies a batch and sends it, once, to each SET
// service holding the room, which passes it to each of its machines in one
// message. Moderation takes the same path down as a NATS request.
//
// Participant pages are ordered by joined_at, then id; a page token is the
// position after the last participant of the previous page, so a page
// stays right while participants join and leave elsewhere in the list. A
// SET service caches pages for Expiry (default 2 s) and drops only the
// cached pages whose range a change falls into; totals come from counts
// that every batch carries.
//
// Subjects: sb.room.agent.<node> and sb.room.set.<node> (ordered: state
// and events), with ".q" for queries and commands (answered concurrently);
// sb.room.central.<node> and sb.room.central.<node>.q; sb.room.hello.<set>
// and sb.room.hello.central, which a starting service publishes so that
// the level below registers at once rather than at its next heartbeat;
// ".alive" on a service's subject takes signs of life on a subscription of
// their own, so that a service busy with bulk registrations does not
// expire the level below.
//
// A room stays with the service it is registered with while that service
// answers, even if a node's view of the live set lacks it for a moment; it
// is registered with a service, or moves to a better-ranked one, only once
// that one answered a heartbeat. A machine's registration carries an epoch
// (the time, kept increasing), so that the central service tells which SET
// service holds a machine that moved, whatever order their messages arrive
// in; the old service lets the machine go quietly (a bye marked moved). A
// machine or SET service that registers again after being served elsewhere
// is sent EventResync: it may have missed events.
package roomsvc
