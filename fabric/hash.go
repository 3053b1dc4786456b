package fabric

import (
	"hash/fnv"
	"slices"
)

// Rank orders nodes by rendezvous (highest random weight) hashing of key:
// every node that sees the same set of live nodes ranks them the same way,
// so all of a SET's nodes ask the same retrieval node for a stream
// ([0041]), and when the first dies only the streams it held move, each to
// its own next in rank. nodes is not changed.
func Rank(key string, nodes []NodeInfo) []NodeInfo {
	type scored struct {
		n NodeInfo
		w uint64
	}
	s := make([]scored, len(nodes))
	for i, n := range nodes {
		s[i] = scored{n, weight(key, n.ID)}
	}
	slices.SortFunc(s, func(a, b scored) int {
		switch {
		case a.w > b.w:
			return -1
		case a.w < b.w:
			return 1
		}
		return cmpString(a.n.ID, b.n.ID)
	})
	out := make([]NodeInfo, len(s))
	for i := range s {
		out[i] = s[i].n
	}
	return out
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// weight is FNV-1a of key and node, finished with the SplitMix64 mixer so
// that similar ids (node-1, node-2) still get independent weights.
func weight(key, node string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(key))
	h.Write([]byte{0})
	h.Write([]byte(node))
	z := h.Sum64() + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
