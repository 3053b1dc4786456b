package sip

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
)

// portAllocator hands out even RTP ports (with RTCP on the next odd port)
// from a range, round robin, so a port just freed is not reused at once.
type portAllocator struct {
	bind     netip.Addr
	min, max int

	mu    sync.Mutex
	next  int          // guarded by mu
	inUse map[int]bool // guarded by mu
}

func newPortAllocator(bind netip.Addr, min, max int) *portAllocator {
	min += min & 1
	return &portAllocator{bind: bind, min: min, max: max, next: min, inUse: map[int]bool{}}
}

// listen binds an RTP and an RTCP socket on the next free pair.
func (p *portAllocator) listen() (rtp, rtcp *net.UDPConn, port int, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := (p.max - p.min + 1) / 2
	for range n {
		port = p.next
		p.next += 2
		if p.next+1 > p.max {
			p.next = p.min
		}
		if p.inUse[port] {
			continue
		}
		rtp, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.bind, uint16(port))))
		if err != nil {
			continue
		}
		rtcp, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.bind, uint16(port+1))))
		if err != nil {
			rtp.Close()
			continue
		}
		p.inUse[port] = true
		return rtp, rtcp, port, nil
	}
	return nil, nil, 0, fmt.Errorf("%w in %d-%d", ErrNoPorts, p.min, p.max)
}

func (p *portAllocator) release(port int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.inUse, port)
}
