// Package mixnet puts the mixer engine on the wire: a room's audio is mixed
// on one node, its mixer, while its participants sit on any node of the
// fabric ([0070]–[0074] of the seed).
//
// The mixer of a room is chosen by rendezvous hashing of the room id over
// the live nodes with the mixer role, so every node agrees on it without
// asking, and a room is mixed in the one SET its mixer belongs to ([0071]).
// When a participant joins a room on a node that is not the room's mixer,
// that node becomes one of the room's selector nodes:
//
//   - Each 20 ms it measures every local participant's uplink (a local
//     selector.Selector does the caching and measuring) and publishes one
//     energy report for all of them on the control plane
//     ("sb.room.<room>.energy").
//   - It forwards, as RTP (Opus) uplink streams of the fabric, the frames
//     of the participants the mixer may select: the ones the mixer's last
//     selection notice named, and the ones loud enough to qualify. A room
//     of open but quiet microphones sends energies, not audio.
//   - The mixer ranks every participant by those energies (a remote
//     participant is a selector.LevelReader on the mixer node, so it is
//     ranked like a local browser leg, without decoding), mixes the selected
//     frames, and publishes the selection ("sb.room.<room>.selection"), the
//     room's common mix (one stream, encoded once) and each remote talker's
//     N-1 mix as fabric streams, which the selector node pulls through its
//     SET's retrieval node like any other stream.
//   - The selector node plays each local participant its N-1 mix while it
//     is a talker and the common mix otherwise.
//
// Both sides play the other's frames out with a short fixed delay (a
// jitter buffer of two frames on each side), keyed by the sender's tick,
// so reports, frames and mixes that travel different paths line up.
package mixnet
