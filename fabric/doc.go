// Package fabric is the forwarding fabric of the design (the seed's first
// claim, [0008]-[0045]): nodes grouped into device groups (SETs), a
// retrieval node per stream and SET that pulls the stream once from its
// origin and fans it out to the SET's other nodes, and transit nodes that
// carry pulls between networks.
//
// Control runs on NATS: every node publishes a heartbeat on
// "sb.hb.<set>" (its NodeInfo) and keeps a registry of the live nodes from
// the heartbeats it hears; a node that misses heartbeats for Config.Expiry
// leaves every ring. Pulls, releases and origin lookups are NATS requests
// with JSON payloads that carry a version (see wire.go).
//
// Media between nodes is RTP over UDP: one socket per node. An upstream
// node answers a pull with the SSRC it will send the stream with, and the
// subscriber tells streams apart by that SSRC and the upstream's address.
// A relay forwards a packet to every subscriber after rewriting its SSRC,
// without allocating.
//
// How a node gets a stream it needs (Node.Subscribe):
//
//  1. It is the stream's origin: the packets go straight to the handler.
//  2. It ranks the SET's live retrieval nodes by rendezvous hashing of the
//     stream id (Rank) and pulls from the first, unless it is that node.
//  3. A retrieval node (or a node asked by a subscriber) already relaying
//     the stream adds the subscriber: a cache hit, no new upstream pull.
//  4. Otherwise it locates the origin ("sb.stream.<id>.where") and pulls
//     from it, through a transit node when the origin is in another
//     network: the transit configured for that pair, else the first by
//     rank of the live transit nodes joined to both networks.
//
// Subscribers refresh their pulls every Config.Refresh; an upstream drops a
// subscriber it has not heard from for Config.Expiry, and a relay with no
// subscribers left releases its own upstream. When a retrieval node dies,
// its SET's nodes see it leave the ring and pull from the next in rank.
package fabric
