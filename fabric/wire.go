package fabric

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// WireVersion is the version of the control messages. A node refuses
// messages of a newer major version with a clear error rather than
// misreading them; fields are only ever added within a version.
const WireVersion = 1

// Roles a node may have.
const (
	RoleInterface = "interface" // turns callers and browsers into participants
	RoleRetrieval = "retrieval" // pulls streams once per SET and fans them out
	RoleTransit   = "transit"   // carries pulls between networks
	RoleSelector  = "selector"
	RoleMixer     = "mixer"
	RoleSIP       = "sip"
)

// NodeInfo is what a node's heartbeat says about it.
type NodeInfo struct {
	ID      string `json:"id"`
	Set     string `json:"set"`
	Network string `json:"network"`
	// Networks are the networks a transit node joins (Network among them).
	Networks []string `json:"networks,omitempty"`
	Roles    []string `json:"roles"`
	// Media is the node's RTP socket as host:port.
	Media string `json:"media"`
	// HTTP is the node's HTTP server, if any, for operators.
	HTTP string `json:"http,omitempty"`
}

// Has reports whether n has role r.
func (n NodeInfo) Has(r string) bool { return slices.Contains(n.Roles, r) }

// Joins reports whether n is on network net.
func (n NodeInfo) Joins(net string) bool {
	return n.Network == net || slices.Contains(n.Networks, net)
}

// heartbeat is published on "sb.hb.<set>" every Config.Heartbeat.
type heartbeat struct {
	V    int      `json:"v"`
	Node NodeInfo `json:"node"`
	// Leaving says the node is stopping: drop it now.
	Leaving bool `json:"leaving,omitempty"`
}

// pullRequest asks a node ("sb.node.<id>.pull") to send a stream to the
// subscriber's media socket. Sent again every Config.Refresh as a lease.
type pullRequest struct {
	V          int      `json:"v"`
	Stream     StreamID `json:"stream"`
	Subscriber string   `json:"subscriber"` // node id
	Media      string   `json:"media"`      // where to send, host:port
	// Origin is the origin node, when the subscriber knows it; a transit
	// node pulls from it directly.
	Origin string `json:"origin,omitempty"`
}

// pullReply answers a pullRequest.
type pullReply struct {
	V     int    `json:"v"`
	Error string `json:"error,omitempty"`
	// SSRC is what the stream's packets carry from this upstream.
	SSRC uint32 `json:"ssrc"`
	// Cached says the node already had the stream: no new upstream pull.
	Cached bool `json:"cached,omitempty"`
}

// releaseRequest ("sb.node.<id>.release") ends a subscriber's pull.
type releaseRequest struct {
	V          int      `json:"v"`
	Stream     StreamID `json:"stream"`
	Subscriber string   `json:"subscriber"`
}

// whereReply answers "sb.stream.<token>.where" from the stream's origin.
type whereReply struct {
	V    int      `json:"v"`
	Node NodeInfo `json:"node"`
}

func encode(v any) []byte { return Encode(v) }

// decode reads a fabric control message and checks its version.
func decode(data []byte, v any) error { return Decode(data, v, WireVersion, "fabric") }

// Encode encodes a control message as JSON. It is the codec of every
// message on the control plane (the fabric's, the split mixer's, the room
// services'); each message carries its package's version in "v".
func Encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("fabric: encoding %T: %v", v, err)) // our own types: cannot fail
	}
	return b
}

// ErrVersion is returned by Decode for a message of another version.
var ErrVersion = errors.New("message version")

// Decode reads a control message of what ("fabric", "mixnet", ...) into v
// and checks that its "v" is version, so that a node refuses a message it
// would misread.
func Decode(data []byte, v any, version int, what string) error {
	var h struct {
		V int `json:"v"`
	}
	if err := json.Unmarshal(data, &h); err != nil {
		return fmt.Errorf("%s message: %w", what, err)
	}
	if h.V != version {
		return fmt.Errorf("%s %w %d, this node speaks %d", what, ErrVersion, h.V, version)
	}
	return json.Unmarshal(data, v)
}
