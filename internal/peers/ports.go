package peers

import (
	"fmt"
	"net"
	"sync"
)

// Ports handed out by this process are not handed out again, so parallel
// tests in one binary never collide; between processes the kernel's
// ephemeral port choice keeps collisions unlikely, and the drivers retry on a
// bind failure.
var (
	portsMu   sync.Mutex
	portsUsed = map[int]bool{}
)

// FreePort returns a port on 127.0.0.1 that is free for both UDP and TCP
// right now (so it can carry SIP over either).
func FreePort() (int, error) { return freePorts(1, 1) }

// FreeRTPPort returns an even port P such that P, P+1, P+2 and P+3 are free
// for UDP on 127.0.0.1: room for RTP/RTCP, and for sipp, which binds the
// -mp port and -mp+2.
func FreeRTPPort() (int, error) { return freePorts(4, 2) }

// freePorts finds a free run of n ports starting at a multiple of align.
func freePorts(n, align int) (int, error) {
	portsMu.Lock()
	defer portsMu.Unlock()
	for attempt := 0; attempt < 200; attempt++ {
		// Let the kernel suggest a port from its ephemeral range.
		c, err := net.ListenPacket("udp4", LoopbackIP+":0")
		if err != nil {
			return 0, err
		}
		base := c.LocalAddr().(*net.UDPAddr).Port
		c.Close()
		base -= base % align
		if base < 1024 || base+n > 65535 {
			continue
		}
		ok := true
		for p := base; p < base+n && ok; p++ {
			ok = !portsUsed[p] && portFree(p)
		}
		if !ok {
			continue
		}
		for p := base; p < base+n; p++ {
			portsUsed[p] = true
		}
		return base, nil
	}
	return 0, fmt.Errorf("no free run of %d ports found", n)
}

// portFree checks that UDP and TCP port p can be bound on 127.0.0.1.
func portFree(p int) bool {
	addr := fmt.Sprintf("%s:%d", LoopbackIP, p)
	u, err := net.ListenPacket("udp4", addr)
	if err != nil {
		return false
	}
	u.Close()
	l, err := net.Listen("tcp4", addr)
	if err != nil {
		return false
	}
	l.Close()
	return true
}
