package ivr

import (
	"fmt"
	"time"

	"github.com/setbridge/setbridge/media"
)

// Defaults of CollectorConfig.
const (
	DefaultEndKey            = '#'
	DefaultInterDigitTimeout = 5 * time.Second
	DefaultFirstDigitTimeout = 10 * time.Second
	DefaultMaxTries          = 3
	// MaxEntryDigits is the most digits one entry holds; the entry ends
	// when it is reached even if MaxDigits is larger or 0.
	MaxEntryDigits = 32
)

// CollectorConfig configures a Collector. Zero values take the defaults.
type CollectorConfig struct {
	// MaxDigits ends the entry as soon as that many digits are typed,
	// without waiting for EndKey. 0: only EndKey or a timeout ends it (up
	// to MaxEntryDigits).
	MaxDigits int
	// EndKey ends the entry; it is not part of it. Default '#'.
	EndKey rune
	// FirstDigitTimeout is how long to wait, once armed (the prompt asking
	// for the entry has finished), for the first digit. Default 10 s.
	FirstDigitTimeout time.Duration
	// InterDigitTimeout is how long to wait for the next digit; when it
	// passes, the digits typed so far are the entry (the caller forgot
	// EndKey). Default 5 s.
	InterDigitTimeout time.Duration
	// MaxTries is how many entries a caller gets; see Fail. Default 3.
	MaxTries int
}

func (c CollectorConfig) withDefaults() (CollectorConfig, error) {
	if c.EndKey == 0 {
		c.EndKey = DefaultEndKey
	}
	if c.FirstDigitTimeout == 0 {
		c.FirstDigitTimeout = DefaultFirstDigitTimeout
	}
	if c.InterDigitTimeout == 0 {
		c.InterDigitTimeout = DefaultInterDigitTimeout
	}
	if c.MaxTries == 0 {
		c.MaxTries = DefaultMaxTries
	}
	switch {
	case c.MaxDigits < 0 || c.MaxDigits > MaxEntryDigits:
		return c, fmt.Errorf("%w: max digits %d (0 … %d)", ErrConfig, c.MaxDigits, MaxEntryDigits)
	case c.FirstDigitTimeout < 0 || c.InterDigitTimeout < 0:
		return c, fmt.Errorf("%w: negative timeout", ErrConfig)
	case c.MaxTries < 0:
		return c, fmt.Errorf("%w: max tries %d", ErrConfig, c.MaxTries)
	case !isKey(c.EndKey):
		return c, fmt.Errorf("%w: end key %q is not a DTMF key", ErrConfig, c.EndKey)
	}
	return c, nil
}

func isKey(r rune) bool {
	return r >= '0' && r <= '9' || r == '*' || r == '#' || r >= 'A' && r <= 'D'
}

// CollectResult says where an entry stands after a digit or a Poll.
type CollectResult int

const (
	// Collecting: the entry goes on.
	Collecting CollectResult = iota
	// Complete: the entry ended by EndKey, by length or by the
	// inter-digit timeout; Entry holds it (it may be empty: EndKey alone).
	Complete
	// NoInput: the first-digit timeout passed with nothing typed.
	NoInput
)

func (r CollectResult) String() string {
	switch r {
	case Collecting:
		return "collecting"
	case Complete:
		return "complete"
	case NoInput:
		return "no input"
	}
	return fmt.Sprintf("CollectResult(%d)", int(r))
}

// Collector gathers one digit entry at a time (a conference number, a
// PIN) on an injected clock, and counts the tries.
//
// The caller starts an entry with Begin while the prompt asking for it
// plays, Arms it when the prompt has finished (the first-digit timeout runs
// from then), feeds it digits, and Polls it on its tick for the timeouts.
// Digits typed before Arm (during the prompt) count: typing ahead is
// allowed. Only 0-9 are part of an entry; EndKey ends it; other keys
// (*, A-D, and # when it is not EndKey) are ignored but restart the
// inter-digit timeout.
//
// A Collector is not safe for concurrent use, and does not allocate except
// in Entry.
type Collector struct {
	clock media.Clock
	cfg   CollectorConfig

	buf      [MaxEntryDigits]byte
	n        int
	active   bool      // between Begin and the end of the entry
	typed    bool      // a key was pressed in this entry
	deadline time.Time // zero: no timer running
	tries    int
}

// NewCollector returns a Collector reading the time from clock.
func NewCollector(clock media.Clock, cfg CollectorConfig) (*Collector, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if clock == nil {
		clock = media.SystemClock{}
	}
	return &Collector{clock: clock, cfg: cfg}, nil
}

// Config returns the configuration with defaults applied.
func (c *Collector) Config() CollectorConfig { return c.cfg }

// Begin starts a new entry: it forgets the digits of the previous one and
// stops the timers until Arm or the first digit.
func (c *Collector) Begin() {
	c.wipe()
	c.active, c.typed, c.deadline = true, false, time.Time{}
}

// Arm starts the first-digit timeout, unless a key has already been
// pressed in this entry (whose inter-digit timeout then runs instead).
func (c *Collector) Arm() {
	if c.active && !c.typed {
		c.deadline = c.clock.Now().Add(c.cfg.FirstDigitTimeout)
	}
}

// Active reports whether an entry is in progress.
func (c *Collector) Active() bool { return c.active }

// Digit adds a key press to the entry and reports whether it ended it.
// Outside an entry (before Begin, after it ended) it is ignored.
func (c *Collector) Digit(r rune) CollectResult {
	if !c.active {
		return Collecting
	}
	c.typed = true
	c.deadline = c.clock.Now().Add(c.cfg.InterDigitTimeout)
	switch {
	case r == c.cfg.EndKey:
		return c.end(Complete)
	case r < '0' || r > '9':
		return Collecting
	}
	c.buf[c.n] = byte(r)
	c.n++
	if c.n == c.cfg.MaxDigits || c.n == len(c.buf) {
		return c.end(Complete)
	}
	return Collecting
}

// Poll checks the timeouts against the clock.
func (c *Collector) Poll() CollectResult {
	if !c.active || c.deadline.IsZero() || c.clock.Now().Before(c.deadline) {
		return Collecting
	}
	if !c.typed {
		return c.end(NoInput)
	}
	return c.end(Complete)
}

func (c *Collector) end(r CollectResult) CollectResult {
	c.active, c.deadline = false, time.Time{}
	return r
}

// Entry returns the digits of the last entry. It is meant to be checked and
// dropped: never log it.
func (c *Collector) Entry() string { return string(c.buf[:c.n]) }

// Len returns the number of digits in the current or last entry.
func (c *Collector) Len() int { return c.n }

// Fail counts a failed try (a wrong entry or no input) and reports whether
// the caller gets another one.
func (c *Collector) Fail() (again bool) {
	c.tries++
	return c.tries < c.cfg.MaxTries
}

// Tries returns the number of failed tries so far.
func (c *Collector) Tries() int { return c.tries }

// Reset forgets the entry and the failed tries, for a new question.
func (c *Collector) Reset() {
	c.wipe()
	c.active, c.typed, c.deadline, c.tries = false, false, time.Time{}, 0
}

func (c *Collector) wipe() {
	clear(c.buf[:])
	c.n = 0
}
