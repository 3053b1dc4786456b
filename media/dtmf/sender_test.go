package dtmf

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// pktSummary is the part of a Packet a test compares.
type pktSummary struct {
	dur    uint16
	end    bool
	marker bool
	offset uint32
	last   bool
}

func summarize(t *testing.T, pkts []Packet) []pktSummary {
	t.Helper()
	out := make([]pktSummary, 0, len(pkts))
	for i, p := range pkts {
		var ev Event
		if err := ev.Unmarshal(p.Payload[:]); err != nil || ev != p.Event {
			t.Fatalf("packet %d: Payload decodes to %+v, %v, want %+v", i, ev, err, p.Event)
		}
		out = append(out, pktSummary{dur: ev.Duration, end: ev.End, marker: p.Marker, offset: p.TimestampOffset, last: p.Last})
	}
	return out
}

func TestSenderPackets(t *testing.T) {
	u := func(d uint16) pktSummary { return pktSummary{dur: d} }
	first := func(d uint16) pktSummary { return pktSummary{dur: d, marker: true} }
	e := func(d uint16) pktSummary { return pktSummary{dur: d, end: true} }
	last := func(d uint16) pktSummary { return pktSummary{dur: d, end: true, last: true} }
	tests := []struct {
		name      string
		giveRate  uint32
		givePtime time.Duration
		giveDur   time.Duration
		want      []pktSummary
	}{
		{
			name:      "a 100 ms digit at 20 ms ptime sends four updates and three end packets",
			giveRate:  8000,
			givePtime: 20 * time.Millisecond,
			giveDur:   100 * time.Millisecond,
			want:      []pktSummary{first(160), u(320), u(480), u(640), e(800), e(800), last(800)},
		},
		{
			name:      "a duration between two updates ends with the exact duration",
			giveRate:  8000,
			givePtime: 20 * time.Millisecond,
			giveDur:   90 * time.Millisecond,
			want:      []pktSummary{first(160), u(320), u(480), u(640), e(720), e(720), last(720)},
		},
		{
			name:      "a digit shorter than ptime is only end packets, the first marked",
			giveRate:  8000,
			givePtime: 20 * time.Millisecond,
			giveDur:   10 * time.Millisecond,
			want:      []pktSummary{{dur: 80, end: true, marker: true}, e(80), last(80)},
		},
		{
			name:      "a 48 kHz clock with 50 ms ptime counts in 2400 tick steps",
			giveRate:  48000,
			givePtime: 50 * time.Millisecond,
			giveDur:   120 * time.Millisecond,
			want:      []pktSummary{first(2400), u(4800), e(5760), e(5760), last(5760)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewSender(tt.giveRate, tt.givePtime)
			if err != nil {
				t.Fatalf("NewSender() error = %v", err)
			}
			pkts, err := s.Packets('5', tt.giveDur, nil)
			if err != nil {
				t.Fatalf("Packets() error = %v", err)
			}
			got := summarize(t, pkts)
			if !slices.Equal(got, tt.want) {
				t.Errorf("packets = %+v\nwant %+v", got, tt.want)
			}
			for i, p := range pkts {
				if p.Event.Code != 5 || p.Event.Volume != DefaultVolume {
					t.Errorf("packet %d: code %d volume %d, want 5 and %d", i, p.Event.Code, p.Event.Volume, DefaultVolume)
				}
			}
		})
	}
}

func TestSenderSplitsLongDigitsIntoSegments(t *testing.T) {
	s, err := NewSender(8000, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	// 9 s is 72000 ticks: one full segment of 0xffff and one of 6465.
	pkts, err := s.Packets('#', 9*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := summarize(t, pkts)
	var bySegment [2][]pktSummary
	for _, p := range got {
		switch p.offset {
		case 0:
			bySegment[0] = append(bySegment[0], p)
		case 0xffff:
			bySegment[1] = append(bySegment[1], p)
		default:
			t.Fatalf("unexpected timestamp offset %d", p.offset)
		}
	}
	first, second := bySegment[0], bySegment[1]
	if len(first) == 0 || len(second) == 0 {
		t.Fatalf("segments have %d and %d packets", len(first), len(second))
	}
	if !first[0].marker || slices.ContainsFunc(got[1:], func(p pktSummary) bool { return p.marker }) {
		t.Errorf("only the first packet may carry the marker")
	}
	wantSegEnd := pktSummary{dur: 0xffff}
	if !slices.Equal(first[len(first)-3:], []pktSummary{wantSegEnd, wantSegEnd, wantSegEnd}) {
		t.Errorf("first segment ends with %+v, want three 0xffff packets without E", first[len(first)-3:])
	}
	for i, p := range first[:len(first)-3] {
		if p.end || p.dur != uint16(160*(i+1)) {
			t.Fatalf("first segment packet %d = %+v, want duration %d", i, p, 160*(i+1))
		}
	}
	// The second segment starts with the time elapsed since the boundary,
	// which includes the two repeats of the first segment's end.
	if second[0].dur != 410*160+3*160-0xffff {
		t.Errorf("second segment starts at duration %d", second[0].dur)
	}
	wantEnd := []pktSummary{{dur: 6465, end: true}, {dur: 6465, end: true}, {dur: 6465, end: true, last: true, offset: 0xffff}}
	wantEnd[0].offset, wantEnd[1].offset = 0xffff, 0xffff
	if !slices.Equal(second[len(second)-3:], wantEnd) {
		t.Errorf("second segment ends with %+v, want %+v", second[len(second)-3:], wantEnd)
	}
}

func TestSenderNextMatchesPackets(t *testing.T) {
	s, err := NewSender(8000, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if s.Ptime() != 20*time.Millisecond {
		t.Errorf("Ptime() = %v, want 20ms", s.Ptime())
	}
	s.Volume = 7
	want, err := s.Packets('C', 150*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Active() {
		t.Fatal("Packets() left the sender active")
	}
	if err := s.Start('c', 150*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	// Packets does not disturb a digit in progress.
	if _, err := s.Packets('1', 40*time.Millisecond, nil); err != nil {
		t.Fatal(err)
	}
	var got []Packet
	for s.Active() {
		p, ok := s.Next()
		if !ok {
			t.Fatal("Next() not ok while Active()")
		}
		got = append(got, p)
	}
	if _, ok := s.Next(); ok {
		t.Error("Next() ok after the last packet")
	}
	if !slices.Equal(got, want) {
		t.Errorf("Next() sequence = %+v\nwant %+v", got, want)
	}
	if got[0].Event.Volume != 7 || got[0].Event.Code != CodeC {
		t.Errorf("first event = %+v, want code C at volume 7", got[0].Event)
	}
}

func TestSenderErrors(t *testing.T) {
	tests := []struct {
		name      string
		giveRate  uint32
		givePtime time.Duration
		wantErr   error
	}{
		{name: "a zero clock rate is rejected", giveRate: 0, givePtime: 20 * time.Millisecond, wantErr: ErrClockRate},
		{name: "a zero ptime is rejected", giveRate: 8000, givePtime: 0, wantErr: ErrPtime},
		{name: "a ptime below one tick is rejected", giveRate: 8000, givePtime: 50 * time.Microsecond, wantErr: ErrPtime},
		{name: "a ptime beyond the duration field is rejected", giveRate: 48000, givePtime: 2 * time.Second, wantErr: ErrPtime},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewSender(tt.giveRate, tt.givePtime)
			if !errors.Is(err, tt.wantErr) || s != nil {
				t.Errorf("NewSender() = %v, %v, want nil, %v", s, err, tt.wantErr)
			}
		})
	}

	startTests := []struct {
		name       string
		giveDigit  rune
		giveDur    time.Duration
		giveVolume uint8
		wantErr    error
	}{
		{name: "a letter outside A-D is not a digit", giveDigit: 'E', giveDur: time.Second, wantErr: ErrInvalidDigit},
		{name: "a zero duration is rejected", giveDigit: '1', giveDur: 0, wantErr: ErrDurationRange},
		{name: "a duration below one tick is rejected", giveDigit: '1', giveDur: 50 * time.Microsecond, wantErr: ErrDurationRange},
		{name: "a duration beyond the maximum is rejected", giveDigit: '1', giveDur: MaxSendDuration + time.Millisecond, wantErr: ErrDurationRange},
		{name: "a volume beyond 63 is rejected", giveDigit: '1', giveDur: time.Second, giveVolume: 64, wantErr: ErrVolumeRange},
	}
	for _, tt := range startTests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewSender(8000, 20*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			s.Volume = tt.giveVolume
			if err := s.Start(tt.giveDigit, tt.giveDur); !errors.Is(err, tt.wantErr) {
				t.Errorf("Start() error = %v, want %v", err, tt.wantErr)
			}
			if s.Active() {
				t.Error("sender active after a failed Start()")
			}
			if pkts, err := s.Packets(tt.giveDigit, tt.giveDur, nil); !errors.Is(err, tt.wantErr) || len(pkts) != 0 {
				t.Errorf("Packets() = %d packets, %v, want %v", len(pkts), err, tt.wantErr)
			}
		})
	}

	t.Run("starting while a digit is being sent is rejected", func(t *testing.T) {
		s, err := NewSender(8000, 20*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start('1', time.Second); err != nil {
			t.Fatal(err)
		}
		if err := s.Start('2', time.Second); !errors.Is(err, ErrSenderBusy) {
			t.Errorf("Start() error = %v, want ErrSenderBusy", err)
		}
	})
}

// leg simulates an RTP leg sending digits with a Sender and a receiving
// Receiver on the far side of a network modelled by deliver.
type leg struct {
	rate    uint32
	ptime   time.Duration
	gap     time.Duration // silence between digits
	deliver func(pkts []wirePacket) []wirePacket
}

type wirePacket struct {
	seq     uint16
	ts      uint32
	payload [EventSize]byte
	at      time.Time
	end     bool
}

// send plays digits through a Sender tick by tick, as an RTP leg would, and
// returns the telephone-event packets put on the wire.
func (l leg) send(t *testing.T, digits string, dur time.Duration) []wirePacket {
	t.Helper()
	s, err := NewSender(l.rate, l.ptime)
	if err != nil {
		t.Fatal(err)
	}
	step := uint32(uint64(l.rate) * uint64(l.ptime) / uint64(time.Second))
	var (
		out     []wirePacket
		seq     uint16 = 0xfff0 // wraps during the test
		audioTS uint32 = 0xffff_0000
		eventTS uint32
		now     = t0
		silence time.Duration
		next    = 0
	)
	for next < len(digits) || s.Active() {
		switch {
		case s.Active():
			p, _ := s.Next()
			if p.Marker {
				eventTS = audioTS
			}
			out = append(out, wirePacket{seq: seq, ts: eventTS + p.TimestampOffset, payload: p.Payload, at: now, end: p.Event.End})
			if p.Last {
				silence = 0
			}
		case silence >= l.gap:
			if err := s.Start(rune(digits[next]), dur); err != nil {
				t.Fatal(err)
			}
			next++
			continue // the first packet goes out at this tick
		default:
			silence += l.ptime // an audio packet
		}
		seq++
		audioTS += step
		now = now.Add(l.ptime)
	}
	return out
}

// receive feeds packets to a Receiver, ticking every ptime, and returns the
// digits and their durations.
func (l leg) receive(t *testing.T, pkts []wirePacket) (string, []time.Duration) {
	t.Helper()
	r := NewReceiver(l.rate)
	var (
		got  strings.Builder
		durs []time.Duration
	)
	add := func(d Digit) {
		got.WriteRune(d.Rune)
		durs = append(durs, d.Duration)
	}
	last := t0
	for _, p := range pkts {
		for ; last.Before(p.at); last = last.Add(l.ptime) {
			for d, ok := r.Tick(last); ok; d, ok = r.Tick(last) {
				add(d)
			}
		}
		d, ok, err := r.Push(p.seq, p.ts, p.payload[:], p.at)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			add(d)
		}
	}
	end := last.Add(MaxEventTimeout)
	for d, ok := r.Tick(end); ok; d, ok = r.Tick(end) {
		add(d)
	}
	return got.String(), durs
}

func TestSenderIntoReceiver(t *testing.T) {
	const all = "0123456789*#ABCD"
	rng := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		name      string
		giveLeg   leg
		giveDur   time.Duration
		giveDigit string
		want      string
		wantDur   time.Duration // 0: do not check
	}{
		{
			name:      "every digit at 8 kHz and 20 ms comes back once with its duration",
			giveLeg:   leg{rate: 8000, ptime: 20 * time.Millisecond, gap: 60 * time.Millisecond},
			giveDur:   100 * time.Millisecond,
			giveDigit: all,
			want:      all,
			wantDur:   100 * time.Millisecond,
		},
		{
			name:      "repeated digits at 48 kHz and 50 ms come back as separate digits",
			giveLeg:   leg{rate: 48000, ptime: 50 * time.Millisecond, gap: 50 * time.Millisecond},
			giveDur:   130 * time.Millisecond,
			giveDigit: "5555##",
			want:      "5555##",
			wantDur:   130 * time.Millisecond,
		},
		{
			name: "digits whose end packets are all lost still come back once",
			giveLeg: leg{rate: 8000, ptime: 20 * time.Millisecond, gap: 60 * time.Millisecond,
				deliver: func(in []wirePacket) []wirePacket {
					return slices.DeleteFunc(in, func(p wirePacket) bool { return p.end })
				}},
			giveDur:   100 * time.Millisecond,
			giveDigit: "1199",
			want:      "1199",
			wantDur:   80 * time.Millisecond, // the last update before the end
		},
		{
			name: "duplicated and reordered packets still give each digit once",
			giveLeg: leg{rate: 8000, ptime: 20 * time.Millisecond, gap: 60 * time.Millisecond,
				deliver: func(in []wirePacket) []wirePacket {
					var out []wirePacket
					for _, p := range in {
						out = append(out, p)
						if rng.IntN(3) == 0 {
							out = append(out, p)
						}
					}
					// Swap neighbours now and then, keeping arrival
					// times monotonic.
					for i := 0; i+1 < len(out); i++ {
						if rng.IntN(4) == 0 {
							out[i].seq, out[i+1].seq = out[i+1].seq, out[i].seq
							out[i].ts, out[i+1].ts = out[i+1].ts, out[i].ts
							out[i].payload, out[i+1].payload = out[i+1].payload, out[i].payload
						}
					}
					return out
				}},
			giveDur:   100 * time.Millisecond,
			giveDigit: all + all,
			want:      all + all,
		},
		{
			name:      "a 3 s press at 48 kHz spans three segments and is one digit",
			giveLeg:   leg{rate: 48000, ptime: 20 * time.Millisecond, gap: 60 * time.Millisecond},
			giveDur:   3 * time.Second,
			giveDigit: "7",
			want:      "7",
			wantDur:   3 * time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkts := tt.giveLeg.send(t, tt.giveDigit, tt.giveDur)
			if tt.giveLeg.deliver != nil {
				pkts = tt.giveLeg.deliver(pkts)
			}
			got, durs := tt.giveLeg.receive(t, pkts)
			if got != tt.want {
				t.Errorf("received %q, want %q", got, tt.want)
			}
			if tt.wantDur == 0 {
				return
			}
			for i, d := range durs {
				if d != tt.wantDur {
					t.Errorf("digit %d duration = %v, want %v", i, d, tt.wantDur)
				}
			}
		})
	}
}
