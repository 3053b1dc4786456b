package sip

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/setbridge/setbridge/media"
)

const offerPCMAFirst = "v=0\r\n" +
	"o=- 1 1 IN IP4 192.0.2.10\r\n" +
	"s=-\r\n" +
	"c=IN IP4 192.0.2.10\r\n" +
	"t=0 0\r\n" +
	"m=audio 40000 RTP/AVP 8 0 9 101\r\n" +
	"a=rtpmap:8 PCMA/8000\r\n" +
	"a=rtpmap:0 PCMU/8000\r\n" +
	"a=rtpmap:101 telephone-event/8000\r\n" +
	"a=fmtp:101 0-15\r\n" +
	"a=ptime:30\r\n" +
	"a=sendrecv\r\n"

func TestNegotiate(t *testing.T) {
	tests := []struct {
		name      string
		give      string
		pref      []media.Codec
		wantCodec string
		wantPT    uint8
		wantDTMF  int
		wantPtime int
		wantErr   error
	}{
		{
			name: "the trunk's preference wins over the offer's order",
			give: offerPCMAFirst, pref: []media.Codec{media.PCMU, media.PCMA},
			wantCodec: "PCMU", wantPT: 0, wantDTMF: 101, wantPtime: 30,
		},
		{
			name: "a static payload type without rtpmap is understood",
			give: offerPCMAFirst, pref: []media.Codec{media.G722},
			wantCodec: "G722", wantPT: 9, wantDTMF: 101, wantPtime: 30,
		},
		{
			name: "opus on a dynamic payload type is found by name",
			give: strings.Replace(strings.Replace(offerPCMAFirst, "8 0 9 101", "96 101", 1), "a=rtpmap:8 PCMA/8000", "a=rtpmap:96 opus/48000/2", 1),
			pref: []media.Codec{media.PCMU, media.Opus}, wantCodec: "opus", wantPT: 96, wantDTMF: 101, wantPtime: 20,
		},
		{
			name: "no common codec is refused",
			give: offerPCMAFirst, pref: []media.Codec{media.Opus},
			wantErr: ErrNoCommonCodec,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rm, err := parseSDP([]byte(tt.give))
			if err != nil {
				t.Fatal(err)
			}
			got, err := negotiate(rm, tt.pref)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Codec.Name != tt.wantCodec || got.PT != tt.wantPT || got.DTMFPT != tt.wantDTMF || got.Ptime != tt.wantPtime {
				t.Fatalf("got %s/%d dtmf %d ptime %d, want %s/%d dtmf %d ptime %d",
					got.Codec.Name, got.PT, got.DTMFPT, got.Ptime, tt.wantCodec, tt.wantPT, tt.wantDTMF, tt.wantPtime)
			}
		})
	}
}

func TestParseSDPDirections(t *testing.T) {
	tests := []struct {
		name       string
		give       string
		wantDir    Direction
		wantAnswer Direction
	}{
		{"sendonly is answered recvonly", strings.Replace(offerPCMAFirst, "a=sendrecv", "a=sendonly", 1), SendOnly, RecvOnly},
		{"inactive is answered inactive", strings.Replace(offerPCMAFirst, "a=sendrecv", "a=inactive", 1), Inactive, Inactive},
		{"c=0.0.0.0 is the old hold", strings.ReplaceAll(offerPCMAFirst, "192.0.2.10", "0.0.0.0"), SendOnly, RecvOnly},
		{"sendrecv is answered sendrecv", offerPCMAFirst, SendRecv, SendRecv},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rm, err := parseSDP([]byte(tt.give))
			if err != nil {
				t.Fatal(err)
			}
			if rm.Direction != tt.wantDir || rm.Direction.answerTo() != tt.wantAnswer {
				t.Fatalf("direction %s answered %s, want %s answered %s", rm.Direction, rm.Direction.answerTo(), tt.wantDir, tt.wantAnswer)
			}
		})
	}
}

func TestParseSDPRejectsBadInput(t *testing.T) {
	tests := []struct {
		name string
		give string
	}{
		{"garbage", "hello"},
		{"no audio", "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=video 5000 RTP/AVP 96\r\n"},
		{"no connection", "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n"},
		{"bad address", "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 nowhere\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := parseSDP([]byte(tt.give)); err == nil {
				t.Fatal("parsed without error")
			}
		})
	}
}

func TestLocalSDPRoundTrips(t *testing.T) {
	l := localMedia{SessionID: 7, Version: 2, Addr: netip.MustParseAddrPort("127.0.0.1:10000"),
		Formats: formatsFor([]media.Codec{media.PCMU, media.Opus}, 101), Ptime: 20, Direction: RecvOnly}
	rm, err := parseSDP(l.marshal())
	if err != nil {
		t.Fatalf("our own SDP does not parse: %v\n%s", err, l.marshal())
	}
	if rm.Addr != l.Addr || rm.Direction != RecvOnly || len(rm.Formats) != 3 || rm.Formats[1].Name != "opus" || rm.Formats[1].Channels != 2 {
		t.Fatalf("round trip: %+v\n%s", rm, l.marshal())
	}
}

func FuzzParseSDP(f *testing.F) {
	f.Add([]byte(offerPCMAFirst))
	f.Add([]byte("v=0\r\nm=audio 1 RTP/AVP 0\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rm, err := parseSDP(b)
		if err != nil {
			return
		}
		if !rm.Addr.IsValid() {
			t.Fatalf("accepted SDP without a valid address")
		}
		_, _ = negotiate(rm, media.AudioCodecs)
	})
}
