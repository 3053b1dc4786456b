package dtmf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"time"
)

// Seed corpora live in testdata/fuzz/<FuzzName>/.

func FuzzEventUnmarshal(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		var ev Event
		err := ev.Unmarshal(b)
		if len(b) < EventSize {
			if !errors.Is(err, ErrShortPayload) {
				t.Fatalf("Unmarshal(%d bytes) error = %v, want ErrShortPayload", len(b), err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Unmarshal() error = %v", err)
		}
		if ev.Volume > MaxVolume {
			t.Fatalf("Volume = %d", ev.Volume)
		}
		out, err := ev.Marshal()
		if err != nil {
			t.Fatalf("Marshal(%+v) error = %v", ev, err)
		}
		want := []byte{b[0], b[1] &^ 0x40, b[2], b[3]} // reserved bit cleared
		if !bytes.Equal(out, want) {
			t.Fatalf("Marshal(Unmarshal(% x)) = % x, want % x", b[:EventSize], out, want)
		}
	})
}

// FuzzReceiver decodes the input as a sequence of 9-byte records, each a
// packet or a tick:
//
//	[0] op: op&3 == 3 is a Tick; otherwise a Push whose payload is 4 bytes,
//	    or op>>3%6 bytes (too short or with trailing bytes) if op&4 is set
//	[1:3] sequence number, little endian
//	[3] timestamp selector: base + (sel&0x7f)*800, plus 0xffff if sel&0x80
//	[4] event code, mod 18 (digits, flash and one other event)
//	[5] second payload byte (E, R, volume)
//	[6:8] duration, big endian
//	[8] milliseconds to advance the clock
//
// Timestamps stay within a 2^31 window, with the base just below the wrap,
// so serial-number order is a total order here and each distinct timestamp
// can be reported at most once. (Over a full 2^32 wrap cycle a timestamp
// legitimately recurs; that is outside what a fuzz run can mean.)
func FuzzReceiver(f *testing.F) {
	const base = 0xffff_f000
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReceiver(8000)
		now := t0
		stamps := make(map[uint32]bool) // timestamps of valid digit packets
		digits := 0
		check := func(d Digit) {
			if _, ok := DigitToCode(d.Rune); !ok {
				t.Fatalf("reported rune %q", d.Rune)
			}
			if d.Duration < 0 || d.Start.After(now) || d.Start.Before(t0) {
				t.Fatalf("reported %+v at %v", d, now)
			}
			digits++
		}
		for ; len(data) >= 9; data = data[9:] {
			rec := data[:9]
			now = now.Add(time.Duration(rec[8]) * time.Millisecond)
			op := rec[0]
			if op&3 == 3 {
				for d, ok := r.Tick(now); ok; d, ok = r.Tick(now) {
					check(d)
				}
				continue
			}
			seq := binary.LittleEndian.Uint16(rec[1:3])
			ts := base + uint32(rec[3]&0x7f)*800
			if rec[3]&0x80 != 0 {
				ts += 0xffff
			}
			payload := []byte{rec[4] % 18, rec[5], rec[6], rec[7], 0xaa}
			n := EventSize
			if op&4 != 0 {
				n = int(op>>3) % 6
			}
			payload = payload[:n]
			d, ok, err := r.Push(seq, ts, payload, now)
			if n < EventSize {
				if !errors.Is(err, ErrShortPayload) || ok {
					t.Fatalf("Push(%d bytes) = %v, %v", n, ok, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("Push() error = %v", err)
			}
			if payload[0] <= CodeD {
				stamps[ts] = true
			}
			if ok {
				check(d)
			}
		}
		for d, ok := r.Flush(); ok; d, ok = r.Flush() {
			check(d)
		}
		if digits > len(stamps) {
			t.Fatalf("reported %d digits for %d distinct timestamps", digits, len(stamps))
		}
	})
}

func FuzzParseInfo(f *testing.F) {
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		r, d, err := ParseInfo(contentType, body)
		if err != nil {
			if r != 0 || d != 0 {
				t.Fatalf("ParseInfo() = %q, %v with error %v", r, d, err)
			}
			if !errors.Is(err, ErrMalformedInfo) && !errors.Is(err, ErrUnsupportedContentType) && !errors.Is(err, ErrUnsupportedEvent) {
				t.Fatalf("ParseInfo() error %v wraps no package error", err)
			}
			return
		}
		code, ok := DigitToCode(r)
		if !ok {
			t.Fatalf("ParseInfo() = %q, not a digit", r)
		}
		if back, _ := CodeToDigit(code); back != r {
			t.Fatalf("ParseInfo() = %q, not in canonical case", r)
		}
		if d < 0 || d > time.Duration(1<<32-1)*time.Millisecond {
			t.Fatalf("ParseInfo() duration = %v", d)
		}
	})
}
