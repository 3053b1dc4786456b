package dtmf

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// t0 is the fake clock's origin.
var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// rxStep is one input to a Receiver: a packet, or a Tick when tick is set.
type rxStep struct {
	at   time.Duration // since t0
	tick bool
	seq  uint16
	ts   uint32
	ev   Event
}

// rxDigit is a digit reported by a Receiver, with the index of the step that
// reported it and its start relative to t0.
type rxDigit struct {
	step  int
	r     rune
	dur   time.Duration
	start time.Duration
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// pk is an update packet arriving at atMS.
func pk(atMS int, seq uint16, ts uint32, code uint8, dur uint16) rxStep {
	return rxStep{at: ms(atMS), seq: seq, ts: ts, ev: Event{Code: code, Volume: 10, Duration: dur}}
}

// pkE is an end packet arriving at atMS.
func pkE(atMS int, seq uint16, ts uint32, code uint8, dur uint16) rxStep {
	s := pk(atMS, seq, ts, code, dur)
	s.ev.End = true
	return s
}

// tk is a Tick at atMS.
func tk(atMS int) rxStep { return rxStep{at: ms(atMS), tick: true} }

// runReceiver feeds steps to r and returns every digit reported, draining
// Tick completely at tick steps.
func runReceiver(t *testing.T, r *Receiver, steps []rxStep) []rxDigit {
	t.Helper()
	var got []rxDigit
	add := func(i int, d Digit) {
		got = append(got, rxDigit{step: i, r: d.Rune, dur: d.Duration, start: d.Start.Sub(t0)})
	}
	for i, s := range steps {
		now := t0.Add(s.at)
		if s.tick {
			for d, ok := r.Tick(now); ok; d, ok = r.Tick(now) {
				add(i, d)
			}
			continue
		}
		p, err := s.ev.Marshal()
		if err != nil {
			t.Fatalf("step %d: Marshal() error = %v", i, err)
		}
		d, ok, err := r.Push(s.seq, s.ts, p, now)
		if err != nil {
			t.Fatalf("step %d: Push() error = %v", i, err)
		}
		if ok {
			add(i, d)
		}
	}
	return got
}

func TestReceiver(t *testing.T) {
	tests := []struct {
		name string
		give []rxStep
		want []rxDigit
	}{
		{
			name: "three end packets yield one digit at the first of them",
			give: []rxStep{
				pk(0, 1, 1000, 5, 160),
				pk(20, 2, 1000, 5, 320),
				pk(40, 3, 1000, 5, 480),
				pk(60, 4, 1000, 5, 640),
				pkE(80, 5, 1000, 5, 800),
				pkE(100, 6, 1000, 5, 800),
				pkE(120, 7, 1000, 5, 800),
				tk(2000),
			},
			want: []rxDigit{{step: 4, r: '5', dur: ms(100)}},
		},
		{
			name: "all end packets lost yields one digit after the timeout",
			give: []rxStep{
				pk(0, 1, 1000, 7, 160),
				pk(20, 2, 1000, 7, 320),
				pk(40, 3, 1000, 7, 480),
				pk(60, 4, 1000, 7, 640),
				tk(100),
				tk(159), // 20 ms updates: 3 intervals is below the 100 ms floor
				tk(160),
				tk(170),
				pkE(200, 5, 1000, 7, 800), // a late end packet changes nothing
				tk(2000),
			},
			want: []rxDigit{{step: 6, r: '7', dur: ms(80)}},
		},
		{
			name: "a lone packet times out after three default intervals",
			give: []rxStep{
				pk(0, 1, 1000, 1, 400),
				tk(149),
				tk(150),
			},
			want: []rxDigit{{step: 2, r: '1', dur: ms(50)}},
		},
		{
			name: "a slow sender gets a longer timeout",
			give: []rxStep{
				pk(0, 1, 1000, 2, 800),
				pk(100, 2, 1000, 2, 1600), // 100 ms updates: timeout 300 ms
				tk(399),
				tk(400),
			},
			want: []rxDigit{{step: 3, r: '2', dur: ms(200)}},
		},
		{
			name: "a push after the timeout reports the timed out digit",
			give: []rxStep{
				pk(0, 1, 1000, 3, 160),
				pk(20, 2, 1000, 3, 320),
				pkE(500, 3, 1000, 3, 800), // too late: the event ended at 120 ms
			},
			want: []rxDigit{{step: 2, r: '3', dur: ms(40)}},
		},
		{
			name: "a new event ends a pending event whose end packets were lost",
			give: []rxStep{
				pk(0, 1, 1000, 4, 160),
				pk(20, 2, 1000, 4, 320),
				pk(60, 10, 2000, 6, 160),
				pkE(80, 11, 2000, 6, 320),
			},
			want: []rxDigit{
				{step: 2, r: '4', dur: ms(40)},
				{step: 3, r: '6', dur: ms(40), start: ms(60)},
			},
		},
		{
			name: "two identical digits in a row yield two digits",
			give: []rxStep{
				pk(0, 1, 1000, 9, 160),
				pkE(20, 2, 1000, 9, 320),
				pkE(40, 3, 1000, 9, 320),
				pkE(60, 4, 1000, 9, 320),
				pk(200, 5, 2600, 9, 160),
				pkE(220, 6, 2600, 9, 320),
				pkE(240, 7, 2600, 9, 320),
				pkE(260, 8, 2600, 9, 320),
			},
			want: []rxDigit{
				{step: 1, r: '9', dur: ms(40)},
				{step: 5, r: '9', dur: ms(40), start: ms(200)},
			},
		},
		{
			name: "duplicated packets yield one digit",
			give: []rxStep{
				pk(0, 1, 1000, 0, 160),
				pk(1, 1, 1000, 0, 160),
				pk(20, 2, 1000, 0, 320),
				pk(21, 2, 1000, 0, 320),
				pkE(40, 3, 1000, 0, 480),
				pkE(41, 3, 1000, 0, 480),
				pkE(60, 4, 1000, 0, 480),
				pkE(61, 4, 1000, 0, 480),
				tk(3000),
			},
			want: []rxDigit{{step: 4, r: '0', dur: ms(60)}},
		},
		{
			name: "an update reordered before the start packet joins the same event",
			give: []rxStep{
				pk(0, 2, 1000, 11, 320),
				pk(1, 1, 1000, 11, 160),
				pk(20, 3, 1000, 11, 480),
				pkE(40, 4, 1000, 11, 640),
			},
			want: []rxDigit{{step: 3, r: '#', dur: ms(80)}},
		},
		{
			name: "an end packet overtaking the updates reports the digit once",
			give: []rxStep{
				pk(0, 1, 1000, 10, 160),
				pkE(10, 4, 1000, 10, 640),
				pk(20, 2, 1000, 10, 320),
				pk(30, 3, 1000, 10, 480),
				pkE(40, 5, 1000, 10, 640),
				tk(5000),
			},
			want: []rxDigit{{step: 1, r: '*', dur: ms(80)}},
		},
		{
			name: "a late end packet of the previous event is ignored",
			give: []rxStep{
				pk(0, 1, 1000, 1, 160),
				pk(20, 2, 1000, 1, 320),
				// the end packets 3-5 are delayed past the next event
				pk(100, 6, 2000, 2, 160),
				pkE(101, 3, 1000, 1, 480),
				pkE(102, 4, 1000, 1, 480),
				pk(120, 7, 2000, 2, 320),
				pkE(121, 5, 1000, 1, 480),
				pkE(140, 8, 2000, 2, 480),
			},
			want: []rxDigit{
				{step: 2, r: '1', dur: ms(40)},
				{step: 7, r: '2', dur: ms(60), start: ms(100)},
			},
		},
		{
			name: "a late packet of an event never seen is ignored",
			give: []rxStep{
				pkE(0, 10, 5000, 8, 480),
				pk(10, 2, 4000, 3, 160),
				pkE(20, 3, 4000, 3, 480),
				tk(1000),
			},
			want: []rxDigit{{step: 0, r: '8', dur: ms(60)}},
		},
		{
			name: "an event seen only by its end packets is reported at once",
			give: []rxStep{
				pkE(0, 1, 1000, 12, 800),
				pkE(20, 2, 1000, 12, 800),
			},
			want: []rxDigit{{step: 0, r: 'A', dur: ms(100)}},
		},
		{
			name: "two digits due at once return the second from the next tick",
			give: []rxStep{
				pk(0, 1, 1000, 13, 160),
				pkE(100, 9, 3000, 14, 400), // only the end of the next digit arrived
				tk(120),
				tk(140),
			},
			want: []rxDigit{
				{step: 1, r: 'B', dur: ms(20)},
				{step: 2, r: 'C', dur: ms(50), start: ms(100)},
			},
		},
		{
			name: "a hook flash ends a pending digit but is not reported",
			give: []rxStep{
				pk(0, 1, 1000, 15, 160),
				pk(20, 2, 3000, CodeFlash, 160),
				pkE(40, 3, 3000, CodeFlash, 320),
				tk(1000),
			},
			want: []rxDigit{{step: 1, r: 'D', dur: ms(20)}},
		},
		{
			name: "a packet contradicting its event code is ignored",
			give: []rxStep{
				pk(0, 1, 1000, 5, 160),
				pkE(20, 2, 1000, 6, 320),
				pkE(40, 3, 1000, 5, 480),
			},
			want: []rxDigit{{step: 2, r: '5', dur: ms(60)}},
		},
		{
			name: "events keep their order across a timestamp wrap",
			give: []rxStep{
				pkE(0, 1, 0xffffff00, 1, 160),
				pkE(100, 2, 0x00000100, 2, 160),
				pkE(120, 3, 0xffffff00, 1, 160),
			},
			want: []rxDigit{
				{step: 0, r: '1', dur: ms(20)},
				{step: 1, r: '2', dur: ms(20), start: ms(100)},
			},
		},
		{
			name: "a long event split into segments is one digit",
			give: []rxStep{
				// (arrival times are compressed; only the order matters)
				pk(0, 1, 1000, 5, 160),
				pk(20, 2, 1000, 5, 64000),
				pk(40, 3, 1000, 5, 0xffff), // segment end, E bit clear
				pk(41, 4, 1000, 5, 0xffff),
				pk(60, 5, 1000+0xffff, 5, 160),
				pkE(80, 6, 1000+0xffff, 5, 865),
				pkE(100, 7, 1000+0xffff, 5, 865),
			},
			want: []rxDigit{{step: 5, r: '5', dur: ms(8300)}},
		},
		{
			name: "a segment whose predecessor's last packets were lost continues it",
			give: []rxStep{
				pk(0, 1, 0, 9, 160),
				pk(20, 2, 0, 9, 64000),
				pk(40, 5, 0xffff, 9, 800),
				pkE(60, 6, 0xffff, 9, 1265),
			},
			want: []rxDigit{{step: 3, r: '9', dur: ms(8350)}},
		},
		{
			name: "a contiguous same-code event after lost end packets continues it",
			give: []rxStep{
				pk(0, 1, 0, 9, 160),
				pk(20, 2, 0, 9, 320),
				pk(40, 4, 320, 9, 160),
				pkE(60, 5, 320, 9, 320),
			},
			want: []rxDigit{{step: 3, r: '9', dur: ms(80)}},
		},
		{
			name: "a segment arriving after its event timed out is not reported again",
			give: []rxStep{
				pk(0, 1, 0, 3, 60000),
				tk(500),
				pk(600, 3, 0xffff, 3, 160),
				pkE(620, 4, 0xffff, 3, 320),
				tk(5000),
			},
			want: []rxDigit{{step: 1, r: '3', dur: ms(7500)}},
		},
		{
			name: "an ended event followed by a contiguous one yields two digits",
			give: []rxStep{
				pkE(0, 1, 0, 4, 320),
				pkE(40, 2, 320, 4, 320),
			},
			want: []rxDigit{
				{step: 0, r: '4', dur: ms(40)},
				{step: 1, r: '4', dur: ms(40), start: ms(40)},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runReceiver(t, NewReceiver(8000), tt.give)
			if !slices.Equal(got, tt.want) {
				t.Errorf("digits = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestReceiverPushRejectsShortPayload(t *testing.T) {
	r := NewReceiver(8000)
	for n := 0; n < EventSize; n++ {
		_, ok, err := r.Push(1, 1000, make([]byte, n), t0)
		if ok || !errors.Is(err, ErrShortPayload) {
			t.Errorf("Push(%d bytes) = %v, %v, want ErrShortPayload", n, ok, err)
		}
	}
	// Nothing was recorded: a valid end packet is reported.
	p, _ := Event{Code: 1, End: true, Duration: 160}.Marshal()
	if d, ok, err := r.Push(2, 1000, p, t0); !ok || err != nil || d.Rune != '1' {
		t.Errorf("Push(valid) = %+v, %v, %v, want digit 1", d, ok, err)
	}
}

func TestReceiverFlushAndReset(t *testing.T) {
	tests := []struct {
		name  string
		reset bool
		want  []rune
	}{
		{name: "flush reports a pending digit without waiting", want: []rune{'6'}},
		{name: "reset forgets a pending digit", reset: true, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReceiver(0) // 0 means 8000
			p, _ := Event{Code: 6, Duration: 160}.Marshal()
			if _, ok, err := r.Push(1, 1000, p, t0); ok || err != nil {
				t.Fatalf("Push() = %v, %v", ok, err)
			}
			if tt.reset {
				r.Reset()
			}
			var got []rune
			for d, ok := r.Flush(); ok; d, ok = r.Flush() {
				got = append(got, d.Rune)
				if d.Duration != ms(20) {
					t.Errorf("Duration = %v, want 20ms", d.Duration)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Flush() digits = %q, want %q", got, tt.want)
			}
			// After a reset the same timestamp is a new event again.
			if tt.reset {
				pe, _ := Event{Code: 6, End: true, Duration: 160}.Marshal()
				if _, ok, _ := r.Push(2, 1000, pe, t0); !ok {
					t.Errorf("Push() after Reset reported nothing")
				}
			}
		})
	}
}

func TestReceiverClockRate(t *testing.T) {
	tests := []struct {
		name      string
		giveRate  uint32
		giveTicks uint16
		want      time.Duration
	}{
		{name: "8000 Hz turns 800 ticks into 100 ms", giveRate: 8000, giveTicks: 800, want: ms(100)},
		{name: "48000 Hz turns 4800 ticks into 100 ms", giveRate: 48000, giveTicks: 4800, want: ms(100)},
		{name: "16000 Hz turns 65535 ticks into about 4 s", giveRate: 16000, giveTicks: 0xffff, want: 4095937500 * time.Nanosecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReceiver(tt.giveRate)
			p, _ := Event{Code: 1, End: true, Duration: tt.giveTicks}.Marshal()
			d, ok, err := r.Push(1, 1, p, t0)
			if !ok || err != nil || d.Duration != tt.want {
				t.Errorf("Push() = %v, %v, %v, want duration %v", d.Duration, ok, err, tt.want)
			}
		})
	}
}

// benchStream returns the payloads and timestamps of ten digits as a typical
// sender emits them: 20 ms updates, three end packets.
func benchStream(b *testing.B) (payloads [][]byte, stamps []uint32) {
	s, err := NewSender(8000, 20*time.Millisecond)
	if err != nil {
		b.Fatal(err)
	}
	var pkts []Packet
	for i := range 10 {
		pkts, err = s.Packets(rune('0'+i), 100*time.Millisecond, pkts[:0])
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range pkts {
			payloads = append(payloads, append([]byte(nil), p.Payload[:]...))
			stamps = append(stamps, uint32(i)*2000)
		}
	}
	return payloads, stamps
}

func BenchmarkReceiverPush(b *testing.B) {
	payloads, stamps := benchStream(b)
	r := NewReceiver(8000)
	now := t0
	var seq uint16
	var base uint32
	digits := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		j := i % len(payloads)
		if j == 0 {
			base += 20000
		}
		seq++
		now = now.Add(20 * time.Millisecond)
		_, ok, err := r.Push(seq, base+stamps[j], payloads[j], now)
		if err != nil {
			b.Fatal(err)
		}
		if ok {
			digits++
		}
	}
	if digits == 0 {
		b.Fatal("no digit reported")
	}
}

func TestPerPacketPathsDoNotAllocate(t *testing.T) {
	r := NewReceiver(8000)
	s, err := NewSender(8000, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	var (
		buf  [EventSize]byte
		seq  uint16
		ts   uint32
		now  = t0
		sink int
	)
	allocs := testing.AllocsPerRun(200, func() {
		if !s.Active() {
			ts += 2000
			if err := s.Start('5', 100*time.Millisecond); err != nil {
				t.Fatal(err)
			}
		}
		p, _ := s.Next()
		if _, err := p.Event.MarshalTo(buf[:]); err != nil {
			t.Fatal(err)
		}
		seq++
		now = now.Add(20 * time.Millisecond)
		if _, ok, _ := r.Push(seq, ts, buf[:], now); ok {
			sink++
		}
		if _, ok := r.Tick(now); ok {
			sink++
		}
	})
	if allocs != 0 {
		t.Errorf("Sender.Next, MarshalTo, Receiver.Push and Tick allocate %v times per packet", allocs)
	}
	if sink == 0 {
		t.Error("no digit reported")
	}
}
