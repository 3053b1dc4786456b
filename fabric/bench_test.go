package fabric

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"
)

// BenchmarkRelayForward: one op is one packet received by a retrieval
// node and sent to each of its subscribers (real UDP sends on loopback to
// sockets nobody reads). It reports sends per second per core, the
// figure that sizes a retrieval node, and allocations per packet (0).
func BenchmarkRelayForward(b *testing.B) {
	for _, subs := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("subscribers=%d", subs), func(b *testing.B) {
			c := newCluster(&testing.T{})
			nc, err := Connect(c.srv, "", "bench")
			if err != nil {
				b.Fatal(err)
			}
			n, err := Start(Config{Info: NodeInfo{ID: "ret", Set: "s", Roles: []string{RoleRetrieval}}, Conn: nc, Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			defer func() { n.Close(); nc.Close(); c.srv.Shutdown() }()
			r := &relay{id: StreamID{Room: "r", Kind: KindMix}, ssrc: 7, subs: map[string]*remoteSub{}}
			for i := range subs {
				sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
				if err != nil {
					b.Fatal(err)
				}
				defer sink.Close()
				_ = sink.SetReadBuffer(64 << 10)
				r.subs[fmt.Sprint(i)] = &remoteSub{media: sink.LocalAddr().(*net.UDPAddr).AddrPort()}
			}
			r.publishSubsLocked()
			from := netip.MustParseAddrPort("127.0.0.1:40000")
			r.up = upstream{node: "x", media: from, ssrc: 99}
			n.mu.Lock()
			n.addInboundLocked(r)
			n.mu.Unlock()
			pkt := make([]byte, 172) // 20 ms of G.711
			pkt[0] = 0x80
			b.ReportAllocs()
			start := time.Now()
			for b.Loop() {
				binary.BigEndian.PutUint32(pkt[8:], 99)
				n.handle(pkt, from)
			}
			el := time.Since(start).Seconds()
			b.ReportMetric(float64(b.N*subs)/el, "sends/s")
			b.ReportMetric(float64(b.N)/el, "packets/s")
		})
	}
}
