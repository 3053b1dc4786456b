package recorder

import (
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/setbridge/setbridge/media"
)

// RoomID names the recorded room (the mixer's room id, converted).
type RoomID string

// ParticipantID names a participant of the room (the mixer's id, converted).
type ParticipantID string

// Defaults of Config.
const (
	// DefaultSegmentDuration is the length of one WAV segment.
	DefaultSegmentDuration = time.Minute
	// DefaultRingFrames is the ring size of a mix-only recording: about
	// five seconds of frames the writer may fall behind before the
	// recording fails.
	DefaultRingFrames = 256
	// DefaultTrackRingFrames is the ring size when Tracks is set, shared by
	// the mix and every track.
	DefaultTrackRingFrames = 2048
	// DefaultMaxTracks is the largest number of participant tracks.
	DefaultMaxTracks = 64
	// MaxSegmentBytes caps a segment's data well below the 4 GiB limit of
	// a WAV file.
	MaxSegmentBytes = 1 << 30
)

// Config describes one recording.
type Config struct {
	// Dir is the directory that holds recordings; this one is written to
	// Dir/<ID>, which Start creates. Required.
	Dir string
	// Room is the recorded room, for the manifest and the logs.
	Room RoomID
	// ID is the recording's id, a ULID (see NewID). Required.
	ID string
	// Rate is the room's sample rate in Hz (default 48000); a frame of
	// media.FrameDuration must be a whole number of samples.
	Rate int
	// SegmentDuration is the length of one segment (default one minute),
	// rounded down to whole frames.
	SegmentDuration time.Duration
	// Clock gives the UTC times of the manifest (default the system clock).
	Clock media.Clock
	// Logger gets the recorder's log lines (default slog.Default()), with
	// component, room and recording attributes added.
	Logger *slog.Logger
	// Signer signs the manifest when the recording ends. Required.
	Signer ed25519.PrivateKey
	// Tracks enables TrackFrame: one track per participant next to the mix.
	Tracks bool
	// MaxTracks caps the number of tracks (default DefaultMaxTracks);
	// frames of further participants are refused, logged and counted in
	// the manifest.
	MaxTracks int
	// RingFrames is the number of preallocated frames between the tick and
	// the writer (default DefaultRingFrames, or DefaultTrackRingFrames with
	// Tracks). The mix and the tracks share it.
	RingFrames int
	// OnFailure, if set, is called once, on the writer goroutine (or in
	// Start), when the recording fails. It must not block for long.
	OnFailure func(id string, err error)
	// Metrics, if set, receives the recorder's counters; share one between
	// recorders to export process totals.
	Metrics *Metrics

	// testHooks are set by tests only.
	hooks *testHooks
}

// testHooks let tests slow the writer down or make it fail.
type testHooks struct {
	// beforeSlot is called by the writer before each frame it takes from
	// the ring.
	beforeSlot func()
}

// frameSamples is the number of samples in one frame at rate.
func frameSamplesAt(rate int) int { return media.FrameSamples(rate) }

// withDefaults fills in defaults and checks c.
func (c Config) withDefaults() (Config, error) {
	if c.Dir == "" {
		return c, fmt.Errorf("%w: no directory", ErrConfig)
	}
	if _, err := ulid.ParseStrict(c.ID); err != nil {
		return c, fmt.Errorf("%w: id %q is not a ULID: %v", ErrConfig, c.ID, err)
	}
	if c.Rate == 0 {
		c.Rate = 48000
	}
	if c.Rate < 0 || c.Rate > 384000 || frameSamplesAt(c.Rate) <= 0 ||
		int64(frameSamplesAt(c.Rate))*int64(time.Second/media.FrameDuration) != int64(c.Rate) {
		return c, fmt.Errorf("%w: rate %d Hz is not a whole number of samples per %v frame",
			ErrConfig, c.Rate, media.FrameDuration)
	}
	if c.SegmentDuration == 0 {
		c.SegmentDuration = DefaultSegmentDuration
	}
	if c.SegmentDuration < media.FrameDuration {
		return c, fmt.Errorf("%w: segment duration %v is shorter than a frame", ErrConfig, c.SegmentDuration)
	}
	segFrames := int64(c.SegmentDuration / media.FrameDuration)
	if segFrames*int64(frameSamplesAt(c.Rate))*2 > MaxSegmentBytes || segFrames > math.MaxInt32 {
		return c, fmt.Errorf("%w: segments of %v at %d Hz exceed %d bytes", ErrConfig,
			c.SegmentDuration, c.Rate, MaxSegmentBytes)
	}
	if len(c.Signer) != ed25519.PrivateKeySize {
		return c, fmt.Errorf("%w: no Ed25519 signing key", ErrConfig)
	}
	if c.Clock == nil {
		c.Clock = media.SystemClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxTracks <= 0 {
		c.MaxTracks = DefaultMaxTracks
	}
	if c.RingFrames <= 0 {
		c.RingFrames = DefaultRingFrames
		if c.Tracks {
			c.RingFrames = DefaultTrackRingFrames
		}
	}
	if c.Metrics == nil {
		c.Metrics = new(Metrics)
	}
	return c, nil
}

// NewID returns a new recording id: a ULID for time now with random
// entropy from crypto/rand.
func NewID(now time.Time) (string, error) {
	id, err := ulid.New(ulid.Timestamp(now), cryptoReader{})
	if err != nil {
		return "", fmt.Errorf("new recording id: %w", err)
	}
	return id.String(), nil
}
