package dtmf

import (
	"bytes"
	"errors"
	"testing"
)

func TestEventMarshal(t *testing.T) {
	// Wire bytes written by hand from the RFC 4733 §2.3 layout:
	// event | E R volume(6) | duration (16, big endian).
	tests := []struct {
		name string
		give Event
		want []byte
	}{
		{
			name: "digit 5 at volume 10 and duration 160 starts an event",
			give: Event{Code: 5, Volume: 10, Duration: 160},
			want: []byte{0x05, 0x0a, 0x00, 0xa0},
		},
		{
			name: "pound with the end bit sets the top bit of the second byte",
			give: Event{Code: CodePound, End: true, Volume: 10, Duration: 800},
			want: []byte{0x0b, 0x8a, 0x03, 0x20},
		},
		{
			name: "maximum volume and duration fill their fields",
			give: Event{Code: CodeFlash, End: true, Volume: MaxVolume, Duration: 0xffff},
			want: []byte{0x10, 0xbf, 0xff, 0xff},
		},
		{
			name: "zero event encodes as zero bytes",
			give: Event{},
			want: []byte{0, 0, 0, 0},
		},
		{
			name: "star at full volume uses code 10",
			give: Event{Code: CodeStar, Volume: 0, Duration: 0x1234},
			want: []byte{0x0a, 0x00, 0x12, 0x34},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.give.Marshal()
			if err != nil {
				t.Fatalf("Marshal() error = %v", err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Errorf("Marshal() = % x, want % x", got, tt.want)
			}
			if n := tt.give.MarshalSize(); n != len(tt.want) {
				t.Errorf("MarshalSize() = %d, want %d", n, len(tt.want))
			}
			var back Event
			if err := back.Unmarshal(got); err != nil {
				t.Fatalf("Unmarshal() error = %v", err)
			}
			if back != tt.give {
				t.Errorf("round trip = %+v, want %+v", back, tt.give)
			}
		})
	}
}

func TestEventUnmarshal(t *testing.T) {
	tests := []struct {
		name    string
		give    []byte
		want    Event
		wantErr error
	}{
		{
			name: "a plain update decodes every field",
			give: []byte{0x01, 0x0a, 0x01, 0x00},
			want: Event{Code: 1, Volume: 10, Duration: 256},
		},
		{
			name: "the reserved bit is ignored",
			give: []byte{0x01, 0x4a, 0x01, 0x00},
			want: Event{Code: 1, Volume: 10, Duration: 256},
		},
		{
			name: "the end bit is decoded alongside the reserved bit",
			give: []byte{0x0f, 0xff, 0x00, 0x50},
			want: Event{Code: CodeD, End: true, Volume: 63, Duration: 80},
		},
		{
			name: "bytes after the first block are ignored",
			give: []byte{0x03, 0x85, 0x03, 0x20, 0x04, 0x05, 0x00, 0xa0},
			want: Event{Code: 3, End: true, Volume: 5, Duration: 800},
		},
		{
			name:    "an empty payload is too short",
			give:    nil,
			wantErr: ErrShortPayload,
		},
		{
			name:    "a three byte payload is too short",
			give:    []byte{0x05, 0x0a, 0x00},
			wantErr: ErrShortPayload,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Event
			err := got.Unmarshal(tt.give)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Unmarshal() error = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("Unmarshal() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestEventMarshalToErrors(t *testing.T) {
	tests := []struct {
		name    string
		give    Event
		giveBuf int
		wantErr error
	}{
		{
			name:    "a three byte buffer is too short",
			give:    Event{Code: 1},
			giveBuf: 3,
			wantErr: ErrShortBuffer,
		},
		{
			name:    "volume 64 does not fit six bits",
			give:    Event{Code: 1, Volume: 64},
			giveBuf: 4,
			wantErr: ErrVolumeRange,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf := bytes.Repeat([]byte{0xee}, tt.giveBuf)
			n, err := tt.give.MarshalTo(buf)
			if !errors.Is(err, tt.wantErr) || n != 0 {
				t.Fatalf("MarshalTo() = %d, %v, want 0, %v", n, err, tt.wantErr)
			}
			if !bytes.Equal(buf, bytes.Repeat([]byte{0xee}, tt.giveBuf)) {
				t.Errorf("MarshalTo() wrote % x on error", buf)
			}
			if _, err := tt.give.Marshal(); tt.giveBuf >= EventSize && !errors.Is(err, tt.wantErr) {
				t.Errorf("Marshal() error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestEventRoundTripAllFields(t *testing.T) {
	buf := make([]byte, EventSize)
	for code := 0; code < 256; code += 7 {
		for vol := uint8(0); vol <= MaxVolume; vol += 9 {
			for _, end := range []bool{false, true} {
				for _, dur := range []uint16{0, 1, 160, 0x8000, 0xffff} {
					give := Event{Code: uint8(code), End: end, Volume: vol, Duration: dur}
					if _, err := give.MarshalTo(buf); err != nil {
						t.Fatalf("MarshalTo(%+v) error = %v", give, err)
					}
					var got Event
					if err := got.Unmarshal(buf); err != nil || got != give {
						t.Fatalf("round trip of %+v = %+v, %v", give, got, err)
					}
				}
			}
		}
	}
}

func TestCodeToDigit(t *testing.T) {
	tests := []struct {
		name   string
		give   uint8
		want   rune
		wantOK bool
	}{
		{name: "code 0 is the digit 0", give: 0, want: '0', wantOK: true},
		{name: "code 9 is the digit 9", give: 9, want: '9', wantOK: true},
		{name: "code 10 is star", give: 10, want: '*', wantOK: true},
		{name: "code 11 is pound", give: 11, want: '#', wantOK: true},
		{name: "code 12 is A", give: 12, want: 'A', wantOK: true},
		{name: "code 15 is D", give: 15, want: 'D', wantOK: true},
		{name: "code 16 hook flash is not a digit", give: 16, wantOK: false},
		{name: "code 255 is not a digit", give: 255, wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := CodeToDigit(tt.give)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("CodeToDigit(%d) = %q, %v, want %q, %v", tt.give, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestDigitToCode(t *testing.T) {
	tests := []struct {
		name   string
		give   rune
		want   uint8
		wantOK bool
	}{
		{name: "digit 0 is code 0", give: '0', want: 0, wantOK: true},
		{name: "digit 7 is code 7", give: '7', want: 7, wantOK: true},
		{name: "star is code 10", give: '*', want: 10, wantOK: true},
		{name: "pound is code 11", give: '#', want: 11, wantOK: true},
		{name: "upper case B is code 13", give: 'B', want: 13, wantOK: true},
		{name: "lower case d is code 15", give: 'd', want: 15, wantOK: true},
		{name: "E is not a digit", give: 'E', wantOK: false},
		{name: "a space is not a digit", give: ' ', wantOK: false},
		{name: "a full-width digit is not a digit", give: '５', wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := DigitToCode(tt.give)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("DigitToCode(%q) = %d, %v, want %d, %v", tt.give, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestDigitCodeMappingIsABijection(t *testing.T) {
	for code := uint8(0); code < 16; code++ {
		r, ok := CodeToDigit(code)
		if !ok {
			t.Fatalf("CodeToDigit(%d) not ok", code)
		}
		back, ok := DigitToCode(r)
		if !ok || back != code {
			t.Errorf("DigitToCode(CodeToDigit(%d)) = %d, %v", code, back, ok)
		}
	}
}
