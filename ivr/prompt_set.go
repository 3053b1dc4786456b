package ivr

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/setbridge/setbridge/ivr/prompts"
	"github.com/setbridge/setbridge/media/wav"
)

// Names of the prompts a Session plays, and of the tones a room plays to
// the others when someone joins or leaves. They follow Asterisk's stock
// prompts, so operators can drop in recordings they already have. Numbers
// are spoken from digits/0 … digits/20, digits/30 … digits/90,
// digits/hundred and digits/thousand (see NumberPrompts).
const (
	PromptWelcome      = "conf-welcome"      // "Welcome to Set Bridge."
	PromptGetConfNo    = "conf-getconfno"    // "Please enter the conference number, followed by the pound key."
	PromptGetPIN       = "conf-getpin"       // "Please enter the conference PIN, followed by the pound key."
	PromptInvalid      = "conf-invalid"      // "That conference number is not valid."
	PromptInvalidPIN   = "conf-invalidpin"   // "That PIN is not valid."
	PromptOnlyPerson   = "conf-onlyperson"   // "You are currently the only person in this conference."
	PromptOnlyOne      = "conf-onlyone"      // "There is one other participant in this conference."
	PromptThereAre     = "conf-thereare"     // "There are" (then a number)
	PromptOtherInParty = "conf-otherinparty" // "other participants in this conference."
	PromptMuted        = "conf-muted"        // "You are now muted."
	PromptUnmuted      = "conf-unmuted"      // "You are no longer muted."
	PromptLocked       = "conf-locked"       // "The conference is now locked."
	PromptUnlocked     = "conf-unlocked"     // "The conference is now unlocked."

	PromptRecordingStarted = "conf-recordingstarted" // "This conference is now being recorded."
	PromptRecordingStopped = "conf-recordingstopped" // "Recording has stopped."
	PromptRoomLocked       = "conf-roomlocked"       // "This conference is locked."
	PromptGetNumber        = "conf-getnumber"        // "Please enter the number to call, followed by the pound key."
	PromptCalling          = "conf-calling"          // "Calling."
	PromptCannotCall       = "conf-cannotcall"       // "That number cannot be called."
	PromptHelp             = "conf-help"             // *6 mute/unmute, *# count, *0 help
	PromptGoodbye          = "vm-goodbye"            // "Goodbye."
	PromptBeepJoin         = "beep-join"             // rising two-tone beep
	PromptBeepLeave        = "beep-leave"            // falling two-tone beep
)

// MaxPromptDuration is the longest prompt LoadPrompts accepts.
const MaxPromptDuration = 2 * time.Minute

// silentPeak is the peak below which a prompt counts as silent: -60 dBFS.
const silentPeak = 33

// Prompt is one prompt's audio at its set's rate. It is immutable and may
// be shared by any number of players.
type Prompt struct {
	name    string
	rate    int
	samples []int16
	source  string
}

// Name returns the prompt's name, e.g. "conf-getpin" or "digits/7".
func (p *Prompt) Name() string { return p.name }

// Rate returns the sample rate of Samples.
func (p *Prompt) Rate() int { return p.rate }

// Samples returns the prompt's mono samples. The caller must not modify
// them.
func (p *Prompt) Samples() []int16 { return p.samples }

// Duration returns the prompt's playing time.
func (p *Prompt) Duration() time.Duration {
	return time.Duration(int64(len(p.samples)) * int64(time.Second) / int64(p.rate))
}

// Source returns where the prompt came from: "embedded", or the path of
// the operator's file that replaced it.
func (p *Prompt) Source() string { return p.source }

// PromptSet is a set of prompts converted to one sample rate. It is
// immutable and safe for concurrent use; load it once at start-up and share
// it between sessions.
type PromptSet struct {
	rate    int
	prompts map[string]*Prompt
}

// PromptConfig configures LoadPrompts.
type PromptConfig struct {
	// Rate is the sample rate every prompt is converted to, once, at load:
	// the rate at which the players will read them (the room's rate, or a
	// leg's codec rate). 8000, 16000 or 48000; 0 means 16000, the rate of
	// the stock set, which then needs no conversion.
	Rate int
	// Dir, if set, is a directory of operator recordings that replace stock
	// prompts: <Dir>/conf-getpin.wav, <Dir>/digits/7.wav, ... Each must be
	// named after a stock prompt (StockPromptNames) and be a 16-bit PCM WAV,
	// mono or stereo (averaged to mono), at any rate from 8000 to 192000 Hz
	// (8000, 16000 and 48000 Hz are converted with media/resample, any
	// other rate, such as 44100 or 22050 Hz, with this package's windowed
	// sinc converter). Other files and directories are ignored, except that
	// a stock prompt's name with another extension (conf-getpin.ulaw) is an
	// error: only WAV is read.
	Dir string
}

// LoadPrompts loads the stock prompt set embedded in the binary, replaces
// prompts with the operator's files in cfg.Dir if set, and converts
// everything to cfg.Rate.
//
// Every bad operator file is an error (never a silently missing or silent
// prompt): one that cannot be read or is not a WAV file LoadPrompts reads,
// is named after no stock prompt, holds no audio above -60 dBFS, or is
// longer than MaxPromptDuration. The returned error joins one
// *PromptFileError per bad file, each naming the file and what is wrong.
func LoadPrompts(cfg PromptConfig) (*PromptSet, error) {
	rate := cfg.Rate
	if rate == 0 {
		rate = prompts.Rate
	}
	if !fixedRate(rate) {
		return nil, fmt.Errorf("%w: %d Hz (prompt sets are 8000, 16000 or 48000 Hz)", ErrUnsupportedRate, rate)
	}
	s := &PromptSet{rate: rate, prompts: make(map[string]*Prompt)}
	for _, name := range StockPromptNames() {
		b, err := prompts.FS.ReadFile(name + ".wav")
		if err != nil {
			return nil, fmt.Errorf("ivr: stock prompt %s: %w", name, err)
		}
		a, err := wav.Read(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("ivr: stock prompt %s: %w", name, err)
		}
		p, err := newPrompt(name, "embedded", a, rate)
		if err != nil {
			return nil, fmt.Errorf("ivr: stock prompt %s: %w", name, err)
		}
		s.prompts[name] = p
	}
	if cfg.Dir != "" {
		if err := s.overlay(cfg.Dir); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// NewPromptSet builds a set from samples already at rate (8000, 16000 or
// 48000), keyed by prompt name; it copies them. It is meant for tests and
// for sets made in code; LoadPrompts is the way to load the stock set.
func NewPromptSet(rate int, samples map[string][]int16) (*PromptSet, error) {
	if !fixedRate(rate) {
		return nil, fmt.Errorf("%w: %d Hz", ErrUnsupportedRate, rate)
	}
	s := &PromptSet{rate: rate, prompts: make(map[string]*Prompt, len(samples))}
	for name, v := range samples {
		s.prompts[name] = &Prompt{name: name, rate: rate, samples: slices.Clone(v), source: "memory"}
	}
	return s, nil
}

// Rate returns the sample rate of every prompt in the set.
func (s *PromptSet) Rate() int { return s.rate }

// Get returns the named prompt.
func (s *PromptSet) Get(name string) (*Prompt, bool) {
	p, ok := s.prompts[name]
	return p, ok
}

// Names returns the names of the prompts in the set, sorted.
func (s *PromptSet) Names() []string {
	names := make([]string, 0, len(s.prompts))
	for n := range s.prompts {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Overlaid returns the names of the prompts that came from the operator's
// directory, sorted, for a start-up log line.
func (s *PromptSet) Overlaid() []string {
	var names []string
	for n, p := range s.prompts {
		if p.source != "embedded" && p.source != "memory" {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

var stockNames = func() []string {
	var names []string
	_ = fs.WalkDir(prompts.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && path.Ext(p) == ".wav" {
			names = append(names, strings.TrimSuffix(p, ".wav"))
		}
		return nil
	})
	slices.Sort(names)
	return names
}()

// StockPromptNames returns the names of the prompts in the stock set,
// sorted: the names an operator's directory may use.
func StockPromptNames() []string { return slices.Clone(stockNames) }

func isStock(name string) bool {
	_, ok := slices.BinarySearch(stockNames, name)
	return ok
}

// NumberPrompts appends to dst the prompts that say n in English words,
// from digits/0 … digits/20, the tens, digits/hundred and digits/thousand;
// n is clamped to 0 … 999999.
func NumberPrompts(dst []string, n int) []string {
	n = min(max(n, 0), 999999)
	if n >= 1000 {
		dst = NumberPrompts(dst, n/1000)
		dst = append(dst, "digits/thousand")
		if n %= 1000; n == 0 {
			return dst
		}
	}
	if n >= 100 {
		dst = append(dst, digitPrompts[n/100], "digits/hundred")
		if n %= 100; n == 0 {
			return dst
		}
	}
	if n > 20 && n%10 != 0 {
		return append(dst, digitPrompts[n-n%10], digitPrompts[n%10])
	}
	return append(dst, digitPrompts[n])
}

// digitPrompts maps 0 … 99 to "digits/n" without allocating per call; only
// the numbers NumberPrompts uses are filled in.
var digitPrompts = func() (m [100]string) {
	for i := range m {
		if i <= 20 || i%10 == 0 {
			m[i] = "digits/" + strconv.Itoa(i)
		}
	}
	return m
}()

// overlay replaces stock prompts with the files in dir and dir/digits.
func (s *PromptSet) overlay(dir string) error {
	var errs []error
	for _, sub := range []string{"", "digits"} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			if sub != "" && errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return fmt.Errorf("ivr: prompt directory: %w", err)
		}
		for _, e := range entries {
			if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			file := filepath.Join(dir, sub, e.Name())
			ext := filepath.Ext(e.Name())
			name := path.Join(sub, strings.TrimSuffix(e.Name(), ext))
			if !strings.EqualFold(ext, ".wav") {
				if isStock(name) {
					errs = append(errs, &PromptFileError{Path: file,
						Err: fmt.Errorf("%w: only .wav files are read, not %s", ErrPromptFormat, ext)})
				}
				continue
			}
			if !isStock(name) {
				errs = append(errs, &PromptFileError{Path: file,
					Err: fmt.Errorf("%w: %q (see ivr.StockPromptNames)", ErrUnknownPrompt, name)})
				continue
			}
			p, err := loadPromptFile(file, name, s.rate)
			if err != nil {
				errs = append(errs, &PromptFileError{Path: file, Err: err})
				continue
			}
			s.prompts[name] = p
		}
	}
	return errors.Join(errs...)
}

func loadPromptFile(file, name string, rate int) (*Prompt, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	a, err := wav.Read(f)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPromptFormat, err)
	}
	return newPrompt(name, file, a, rate)
}

// newPrompt checks a decoded file and converts it to mono at rate.
func newPrompt(name, source string, a *wav.Audio, rate int) (*Prompt, error) {
	if a.Frames() == 0 {
		return nil, fmt.Errorf("%w: no samples", ErrSilentPrompt)
	}
	if d := a.Duration(); d > MaxPromptDuration {
		return nil, fmt.Errorf("%w: %v (at most %v)", ErrPromptTooLong, d.Round(time.Second), MaxPromptDuration)
	}
	mono := toMono(a)
	peak := 0
	for _, v := range mono {
		peak = max(peak, abs(int(v)))
	}
	if peak < silentPeak {
		return nil, fmt.Errorf("%w: peak %d of 32767, below -60 dBFS", ErrSilentPrompt, peak)
	}
	out, err := convertRate(mono, a.Rate, rate)
	if err != nil {
		return nil, err
	}
	return &Prompt{name: name, rate: rate, samples: out, source: source}, nil
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
