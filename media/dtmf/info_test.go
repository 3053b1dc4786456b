package dtmf

import (
	"errors"
	"testing"
	"time"
)

func TestParseInfo(t *testing.T) {
	const relay, plain = ContentTypeDTMFRelay, ContentTypeDTMF
	tests := []struct {
		name     string
		giveType string
		giveBody string
		want     rune
		wantDur  time.Duration
	}{
		{
			name:     "a dtmf-relay body gives the signal and the duration in ms",
			giveType: relay,
			giveBody: "Signal=5\r\nDuration=160\r\n",
			want:     '5',
			wantDur:  160 * time.Millisecond,
		},
		{
			name:     "dtmf-relay keys are case-insensitive",
			giveType: relay,
			giveBody: "SIGNAL=#\r\nduration=250\r\n",
			want:     '#',
			wantDur:  250 * time.Millisecond,
		},
		{
			name:     "spaces around keys and values are tolerated",
			giveType: relay,
			giveBody: "  Signal = * \r\n Duration= 100\r\n",
			want:     '*',
			wantDur:  100 * time.Millisecond,
		},
		{
			name:     "bare newlines and blank lines are tolerated",
			giveType: relay,
			giveBody: "\nSignal=1\n\nDuration=80",
			want:     '1',
			wantDur:  80 * time.Millisecond,
		},
		{
			name:     "a missing duration gives zero",
			giveType: relay,
			giveBody: "Signal=9\r\n",
			want:     '9',
		},
		{
			name:     "unknown keys are ignored",
			giveType: relay,
			giveBody: "Signal=0\r\nDuration=200\r\nVolume=10\r\n",
			want:     '0',
			wantDur:  200 * time.Millisecond,
		},
		{
			name:     "a lower case letter signal is returned in upper case",
			giveType: relay,
			giveBody: "Signal=b\r\nDuration=160\r\n",
			want:     'B',
			wantDur:  160 * time.Millisecond,
		},
		{
			name:     "event code 11 as a signal is pound",
			giveType: relay,
			giveBody: "Signal=11\r\nDuration=160\r\n",
			want:     '#',
			wantDur:  160 * time.Millisecond,
		},
		{
			name:     "the content type is case-insensitive and its parameters are ignored",
			giveType: " Application/DTMF-Relay ; charset=UTF-8",
			giveBody: "Signal=4\r\nDuration=100\r\n",
			want:     '4',
			wantDur:  100 * time.Millisecond,
		},
		{
			name:     "an application/dtmf body is the bare digit",
			giveType: plain,
			giveBody: "5",
			want:     '5',
		},
		{
			name:     "an application/dtmf body may end with a line break",
			giveType: plain,
			giveBody: "#\r\n",
			want:     '#',
		},
		{
			name:     "an application/dtmf body may be an event code",
			giveType: plain,
			giveBody: "10",
			want:     '*',
		},
		{
			name:     "an application/dtmf body in key=value form is parsed as dtmf-relay",
			giveType: plain,
			giveBody: "Signal=7\r\nDuration=120\r\n",
			want:     '7',
			wantDur:  120 * time.Millisecond,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, gotDur, err := ParseInfo(tt.giveType, []byte(tt.giveBody))
			if err != nil {
				t.Fatalf("ParseInfo() error = %v", err)
			}
			if got != tt.want || gotDur != tt.wantDur {
				t.Errorf("ParseInfo() = %q, %v, want %q, %v", got, gotDur, tt.want, tt.wantDur)
			}
		})
	}
}

func TestParseInfoErrors(t *testing.T) {
	const relay, plain = ContentTypeDTMFRelay, ContentTypeDTMF
	tests := []struct {
		name     string
		giveType string
		giveBody string
		wantErr  error
	}{
		{name: "another content type is unsupported", giveType: "application/sdp", giveBody: "Signal=5", wantErr: ErrUnsupportedContentType},
		{name: "an empty content type is unsupported", giveType: "", giveBody: "5", wantErr: ErrUnsupportedContentType},
		{name: "an empty dtmf-relay body has no signal", giveType: relay, giveBody: "", wantErr: ErrMalformedInfo},
		{name: "a dtmf-relay body without Signal is malformed", giveType: relay, giveBody: "Duration=160\r\n", wantErr: ErrMalformedInfo},
		{name: "a line without an equals sign is malformed", giveType: relay, giveBody: "Signal=5\r\nDuration 160\r\n", wantErr: ErrMalformedInfo},
		{name: "an empty signal is malformed", giveType: relay, giveBody: "Signal=\r\nDuration=160\r\n", wantErr: ErrMalformedInfo},
		{name: "a two-digit signal is an event code and 55 is not a digit", giveType: relay, giveBody: "Signal=55\r\n", wantErr: ErrUnsupportedEvent},
		{name: "a letter signal outside A-D is malformed", giveType: relay, giveBody: "Signal=E\r\n", wantErr: ErrMalformedInfo},
		{name: "a word signal is malformed", giveType: relay, giveBody: "Signal=five\r\n", wantErr: ErrMalformedInfo},
		{name: "a hook flash signal is not a digit", giveType: relay, giveBody: "Signal=!\r\nDuration=500\r\n", wantErr: ErrUnsupportedEvent},
		{name: "event code 16 is not a digit", giveType: relay, giveBody: "Signal=16\r\n", wantErr: ErrUnsupportedEvent},
		{name: "an event code beyond 255 is malformed", giveType: relay, giveBody: "Signal=300\r\n", wantErr: ErrMalformedInfo},
		{name: "a negative duration is malformed", giveType: relay, giveBody: "Signal=5\r\nDuration=-160\r\n", wantErr: ErrMalformedInfo},
		{name: "a duration with a unit is malformed", giveType: relay, giveBody: "Signal=5\r\nDuration=160ms\r\n", wantErr: ErrMalformedInfo},
		{name: "a duration beyond 32 bits is malformed", giveType: relay, giveBody: "Signal=5\r\nDuration=99999999999\r\n", wantErr: ErrMalformedInfo},
		{name: "a signal given twice is malformed", giveType: relay, giveBody: "Signal=5\r\nSignal=6\r\n", wantErr: ErrMalformedInfo},
		{name: "a duration given twice is malformed", giveType: relay, giveBody: "Signal=5\r\nDuration=1\r\nDuration=2\r\n", wantErr: ErrMalformedInfo},
		{name: "an empty application/dtmf body is malformed", giveType: plain, giveBody: " \r\n", wantErr: ErrMalformedInfo},
		{name: "an application/dtmf body of two digits is an event code and 55 is not a digit", giveType: plain, giveBody: "55", wantErr: ErrUnsupportedEvent},
		{name: "an application/dtmf body of two lines is malformed", giveType: plain, giveBody: "5\r\n6", wantErr: ErrMalformedInfo},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, gotDur, err := ParseInfo(tt.giveType, []byte(tt.giveBody))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ParseInfo() error = %v, want %v", err, tt.wantErr)
			}
			if got != 0 || gotDur != 0 {
				t.Errorf("ParseInfo() = %q, %v on error, want zero values", got, gotDur)
			}
		})
	}
}
