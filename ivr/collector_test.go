package ivr

import (
	"errors"
	"testing"
	"time"

	"github.com/setbridge/setbridge/media"
)

// press is one thing that happens to a Collector: a key after a pause, or
// only a pause (key 0), then a Poll.
type press struct {
	after time.Duration
	key   rune
}

func TestCollector(t *testing.T) {
	tests := []struct {
		name      string
		giveCfg   CollectorConfig
		giveArm   bool // Arm before the first press (the prompt has ended)
		give      []press
		want      CollectResult
		wantEntry string
		wantAfter int // presses consumed when the result came
	}{
		{
			name: "pound ends the entry", giveArm: true,
			give: []press{{0, '1'}, {time.Second, '0'}, {time.Second, '0'}, {time.Second, '0'}, {time.Second, '#'}},
			want: Complete, wantEntry: "1000", wantAfter: 5,
		},
		{
			name: "the configured length ends the entry", giveCfg: CollectorConfig{MaxDigits: 4}, giveArm: true,
			give: []press{{0, '4'}, {0, '7'}, {0, '1'}, {0, '1'}},
			want: Complete, wantEntry: "4711", wantAfter: 4,
		},
		{
			name: "pound ends a fixed-length entry early", giveCfg: CollectorConfig{MaxDigits: 6}, giveArm: true,
			give: []press{{0, '4'}, {0, '7'}, {0, '#'}},
			want: Complete, wantEntry: "47", wantAfter: 3,
		},
		{
			name: "pound alone is an empty entry", giveArm: true,
			give: []press{{time.Second, '#'}},
			want: Complete, wantEntry: "", wantAfter: 1,
		},
		{
			name: "the inter-digit timeout ends the entry with what was typed", giveArm: true,
			give: []press{{0, '1'}, {0, '2'}, {4999 * time.Millisecond, 0}, {time.Millisecond, 0}},
			want: Complete, wantEntry: "12", wantAfter: 4,
		},
		{
			name: "a configured inter-digit timeout", giveCfg: CollectorConfig{InterDigitTimeout: 2 * time.Second}, giveArm: true,
			give: []press{{0, '1'}, {1999 * time.Millisecond, 0}, {time.Millisecond, 0}},
			want: Complete, wantEntry: "1", wantAfter: 3,
		},
		{
			name: "the first-digit timeout is no input", giveArm: true,
			give: []press{{9999 * time.Millisecond, 0}, {time.Millisecond, 0}},
			want: NoInput, wantAfter: 2,
		},
		{
			name: "a configured first-digit timeout", giveCfg: CollectorConfig{FirstDigitTimeout: 3 * time.Second}, giveArm: true,
			give: []press{{3 * time.Second, 0}},
			want: NoInput, wantAfter: 1,
		},
		{
			name: "no timeout runs before Arm (the prompt is playing)",
			give: []press{{time.Minute, 0}},
			want: Collecting, wantAfter: 1,
		},
		{
			name: "keys typed before Arm count and start the inter-digit timer",
			give: []press{{0, '5'}, {5 * time.Second, 0}},
			want: Complete, wantEntry: "5", wantAfter: 2,
		},
		{
			name: "star and letters are ignored but keep the entry alive", giveArm: true,
			give: []press{{0, '1'}, {4 * time.Second, '*'}, {4 * time.Second, 'A'}, {4 * time.Second, '2'}, {0, '#'}},
			want: Complete, wantEntry: "12", wantAfter: 5,
		},
		{
			name: "another end key", giveCfg: CollectorConfig{EndKey: '*'}, giveArm: true,
			give: []press{{0, '1'}, {0, '#'}, {0, '2'}, {0, '*'}},
			want: Complete, wantEntry: "12", wantAfter: 4,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := media.NewFakeClock(testEpoch)
			c, err := NewCollector(clk, tt.giveCfg)
			if err != nil {
				t.Fatal(err)
			}
			c.Begin()
			if tt.giveArm {
				c.Arm()
			}
			got, n := Collecting, 0
			for _, p := range tt.give {
				clk.Advance(p.after)
				n++
				if got = c.Poll(); got != Collecting {
					break
				}
				if p.key != 0 {
					if got = c.Digit(p.key); got != Collecting {
						break
					}
				}
			}
			if got != tt.want || n != tt.wantAfter {
				t.Fatalf("got %v after %d presses, want %v after %d", got, n, tt.want, tt.wantAfter)
			}
			if got == Complete && c.Entry() != tt.wantEntry {
				t.Fatalf("entry %q, want %q", c.Entry(), tt.wantEntry)
			}
			if c.Active() && got != Collecting {
				t.Fatal("still active after the entry ended")
			}
		})
	}
}

func TestCollectorCountsTries(t *testing.T) {
	c, _ := NewCollector(media.NewFakeClock(testEpoch), CollectorConfig{})
	var again []bool
	for range 3 {
		c.Begin()
		c.Digit('#')
		again = append(again, c.Fail())
	}
	if want := []bool{true, true, false}; again[0] != want[0] || again[1] != want[1] || again[2] != want[2] {
		t.Fatalf("Fail reported %v, want %v", again, want)
	}
	c.Reset()
	if c.Tries() != 0 || !c.Fail() {
		t.Fatal("Reset did not forget the tries")
	}
}

func TestCollectorIgnoresKeysOutsideAnEntry(t *testing.T) {
	c, _ := NewCollector(media.NewFakeClock(testEpoch), CollectorConfig{MaxDigits: 2})
	if c.Digit('1') != Collecting || c.Len() != 0 {
		t.Fatal("a key before Begin counted")
	}
	c.Begin()
	c.Digit('1')
	c.Digit('2')
	if c.Digit('3') != Collecting || c.Entry() != "12" {
		t.Fatalf("a key after the entry ended changed it to %q", c.Entry())
	}
}

func TestNewCollectorRefusesBadConfig(t *testing.T) {
	for _, cfg := range []CollectorConfig{
		{MaxDigits: -1}, {MaxDigits: MaxEntryDigits + 1}, {EndKey: 'x'},
		{InterDigitTimeout: -time.Second}, {MaxTries: -1},
	} {
		if _, err := NewCollector(nil, cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: got %v, want ErrConfig", cfg, err)
		}
	}
}
