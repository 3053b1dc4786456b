package peers

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/setbridge/setbridge/internal/audiotest"
)

// RTPPacket is one RTP packet read from a pcap file.
type RTPPacket struct {
	At          time.Duration // since the first packet of the file
	PayloadType uint8
	Marker      bool
	Seq         uint16
	Timestamp   uint32
	SSRC        uint32
	Payload     []byte
}

// ReadPcapRTP reads the UDP payloads of a classic pcap file (Ethernet or
// Linux cooked capture, IPv4) as RTP packets; non-RTP packets are skipped.
// It is meant for sip-tester's g711a.pcap and dtmf_2833_*.pcap, to know
// what a scenario sends.
func ReadPcapRTP(path string) ([]RTPPacket, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) < 24 {
		return nil, errors.New("pcap: short file")
	}
	var bo binary.ByteOrder
	nanos := false
	switch binary.LittleEndian.Uint32(data) {
	case 0xa1b2c3d4:
		bo = binary.LittleEndian
	case 0xa1b23c4d:
		bo, nanos = binary.LittleEndian, true
	default:
		switch binary.BigEndian.Uint32(data) {
		case 0xa1b2c3d4:
			bo = binary.BigEndian
		case 0xa1b23c4d:
			bo, nanos = binary.BigEndian, true
		default:
			return nil, errors.New("pcap: not a pcap file (pcapng is not supported)")
		}
	}
	link := bo.Uint32(data[20:24])
	var out []RTPPacket
	var first time.Duration
	for p := 24; p+16 <= len(data); {
		sec, frac := bo.Uint32(data[p:]), bo.Uint32(data[p+4:])
		incl := int(bo.Uint32(data[p+8:]))
		p += 16
		if p+incl > len(data) {
			break
		}
		frame := data[p : p+incl]
		p += incl
		at := time.Duration(sec) * time.Second
		if nanos {
			at += time.Duration(frac)
		} else {
			at += time.Duration(frac) * time.Microsecond
		}
		udp, ok := udpPayload(link, frame)
		if !ok || len(udp) < 12 || udp[0]>>6 != 2 {
			continue
		}
		cc := int(udp[0] & 0x0f)
		hdr := 12 + 4*cc
		if udp[0]&0x10 != 0 { // extension
			if len(udp) < hdr+4 {
				continue
			}
			hdr += 4 + 4*int(binary.BigEndian.Uint16(udp[hdr+2:]))
		}
		if len(udp) < hdr {
			continue
		}
		payload := udp[hdr:]
		if udp[0]&0x20 != 0 && len(payload) > 0 { // padding
			pad := int(payload[len(payload)-1])
			if pad <= len(payload) {
				payload = payload[:len(payload)-pad]
			}
		}
		if len(out) == 0 {
			first = at
		}
		out = append(out, RTPPacket{
			At:          at - first,
			PayloadType: udp[1] & 0x7f,
			Marker:      udp[1]&0x80 != 0,
			Seq:         binary.BigEndian.Uint16(udp[2:]),
			Timestamp:   binary.BigEndian.Uint32(udp[4:]),
			SSRC:        binary.BigEndian.Uint32(udp[8:]),
			Payload:     append([]byte(nil), payload...),
		})
	}
	return out, nil
}

// udpPayload extracts the UDP payload of an IPv4 frame.
func udpPayload(link uint32, frame []byte) ([]byte, bool) {
	var ip []byte
	switch link {
	case 1: // Ethernet
		if len(frame) < 14 {
			return nil, false
		}
		etype, off := binary.BigEndian.Uint16(frame[12:]), 14
		if etype == 0x8100 && len(frame) >= 18 { // VLAN tag
			etype, off = binary.BigEndian.Uint16(frame[16:]), 18
		}
		if etype != 0x0800 {
			return nil, false
		}
		ip = frame[off:]
	case 113: // Linux cooked
		if len(frame) < 16 || binary.BigEndian.Uint16(frame[14:]) != 0x0800 {
			return nil, false
		}
		ip = frame[16:]
	case 101: // raw IP
		ip = frame
	default:
		return nil, false
	}
	if len(ip) < 20 || ip[0]>>4 != 4 || ip[9] != 17 {
		return nil, false
	}
	ihl := int(ip[0]&0x0f) * 4
	if len(ip) < ihl+8 {
		return nil, false
	}
	udp := ip[ihl:]
	n := int(binary.BigEndian.Uint16(udp[4:]))
	if n < 8 || n > len(udp) {
		n = len(udp)
	}
	return udp[8:n], true
}

// PcapAudio decodes the G.711 audio (payload type 0 PCMU or 8 PCMA) of a
// pcap file, in packet order, as 8000 Hz mono: the reference signal for
// what a sipp scenario plays with play_pcap_audio.
func PcapAudio(path string) (*audiotest.Audio, error) {
	pkts, err := ReadPcapRTP(path)
	if err != nil {
		return nil, err
	}
	a := &audiotest.Audio{Rate: 8000, Channels: 1}
	for _, p := range pkts {
		switch p.PayloadType {
		case 0:
			a.Samples = append(a.Samples, audiotest.DecodeULaw(p.Payload)...)
		case 8:
			a.Samples = append(a.Samples, audiotest.DecodeALaw(p.Payload)...)
		}
	}
	if len(a.Samples) == 0 {
		return nil, fmt.Errorf("%s: no PCMU/PCMA packets", path)
	}
	return a, nil
}
