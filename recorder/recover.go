package recorder

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/setbridge/setbridge/media"
)

// RecoverConfig configures Recover.
type RecoverConfig struct {
	// Signer signs the sealed manifests. Required.
	Signer ed25519.PrivateKey
	// Clock gives recovered_at (default the system clock).
	Clock media.Clock
	// Logger (default slog.Default()).
	Logger *slog.Logger
	// Metrics, if set, counts recovered recordings.
	Metrics *Metrics
}

// Recover seals every recording under root (root/<id>/manifest.json) that
// a crash left in status "recording". Run it at start-up, before any
// Recorder writes under root. It returns the manifests it sealed, and the
// errors of the recordings it could not seal, joined; one failure does not
// stop the others.
func Recover(root string, cfg RecoverConfig) ([]*Manifest, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("recover recordings: %w", err)
	}
	var (
		out  []*Manifest
		errs []error
	)
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(root, e.Name())
		m, _, err := ReadManifest(dir)
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) && dirExists(filepath.Join(dir, ManifestName)) {
				errs = append(errs, err)
			}
			continue
		}
		if m.Status != StateRecording {
			continue
		}
		sealed, err := RecoverRecording(dir, cfg)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, sealed)
	}
	return out, errors.Join(errs...)
}

// RecoverRecording seals the recording in dir if it is still in status
// "recording": for the mix and each track it takes the segments the
// manifest lists, then the segments on disk after them (the one being
// written at the crash, and one that closed without its manifest update),
// each cut to whole frames, its WAV header fixed (wav.FixHeader), fsynced
// and hashed; a segment holding no whole frame is removed. The manifest
// becomes "interrupted", with stop = start + the mix's frames on disk,
// the paused ranges and timeline cut at stop, and is signed. A recording
// in any other state is returned as it is.
func RecoverRecording(dir string, cfg RecoverConfig) (*Manifest, error) {
	if len(cfg.Signer) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("recover %s: %w: no Ed25519 signing key", dir, ErrConfig)
	}
	if cfg.Clock == nil {
		cfg.Clock = media.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	m, _, err := ReadManifest(dir)
	if err != nil {
		return nil, fmt.Errorf("recover %s: %w", dir, err)
	}
	if m.Status != StateRecording {
		return m, nil
	}
	if m.Rate <= 0 || m.FrameMillis <= 0 || m.FrameSamples*1000 != m.Rate*m.FrameMillis {
		return nil, fmt.Errorf("recover %s: %w: rate %d, %d samples per %d ms", dir, ErrManifest, m.Rate, m.FrameSamples, m.FrameMillis)
	}
	_ = os.Remove(filepath.Join(dir, ManifestName+".tmp"))
	var last time.Time
	rs := func(label, prefix string, segs []Segment, first uint64) ([]Segment, string, uint64, error) {
		segs, chain, frames, mt, err := recoverStream(dir, m, label, prefix, segs, first)
		if mt.After(last) {
			last = mt
		}
		return segs, chain, frames, err
	}
	segs, chain, frames, err := rs("mix", "", m.Segments, m.StartTick)
	if err != nil {
		return nil, fmt.Errorf("recover %s: %w", dir, err)
	}
	m.Segments, m.Chain = segs, chain
	for i := range m.Tracks {
		t := &m.Tracks[i]
		segs, chain, n, err := rs(t.Prefix, t.Prefix, t.Segments, t.FirstTick)
		if err != nil {
			return nil, fmt.Errorf("recover %s: %w", dir, err)
		}
		t.Segments, t.Chain, t.Frames = segs, chain, n
	}
	stop := m.StartTick + frames
	m.StopTick, m.Frames = stop, frames
	m.Paused = clampPauses(m.Paused, stop)
	m.Timeline, m.Participants = timeline(m.Timeline, m.StartTick, stop, true)
	now := cfg.Clock.Now().UTC()
	if last.IsZero() {
		if fi, err := os.Stat(filepath.Join(dir, ManifestName)); err == nil {
			last = fi.ModTime()
		} else {
			last = now
		}
	}
	last = last.UTC()
	m.Status, m.StoppedAt, m.RecoveredAt = StateInterrupted, &last, &now
	m.StopReason = "interrupted: sealed by recovery after the recorder stopped without closing it"
	if m.StartedAt == nil {
		m.StartedAt = &last
	}
	if err := m.sign(cfg.Signer); err != nil {
		return nil, fmt.Errorf("recover %s: %w", dir, err)
	}
	releaseReserve(dir)
	if _, err := writeManifest(dir, m); err != nil {
		return nil, fmt.Errorf("recover %s: %w", dir, err)
	}
	if cfg.Metrics != nil {
		cfg.Metrics.Recovered.Add(1)
	}
	cfg.Logger.Warn("recording recovered as interrupted", "component", "recorder",
		"room", string(m.Room), "recording", m.ID, "start_tick", m.StartTick, "stop_tick", stop,
		"segments", len(m.Segments))
	return m, nil
}

// recoverStream returns the segments of one stream after a crash: the
// listed ones, then those found on disk after them, sealed.
func recoverStream(dir string, m *Manifest, label, prefix string, listed []Segment, first uint64) (
	segs []Segment, chainHex string, frames uint64, lastMod time.Time, err error) {
	chain := chainGenesis(m.ID, label)
	next := first
	segs = append([]Segment{}, listed...)
	for _, s := range segs {
		sum, err := hex.DecodeString(s.SHA256)
		if err != nil || len(sum) != 32 {
			return nil, "", 0, lastMod, fmt.Errorf("%w: segment %s: bad sha256", ErrManifest, s.Name)
		}
		chain = chainNext(chain, [32]byte(sum), s.Name)
		next += s.Frames
	}
	frameBytes := 2 * m.FrameSamples
	for n := len(segs) + 1; ; n++ {
		name := segmentName(prefix, n)
		path := filepath.Join(dir, name)
		fi, err := os.Stat(path)
		if errors.Is(err, os.ErrNotExist) {
			break
		}
		if err != nil {
			return nil, "", 0, lastMod, fmt.Errorf("%w: %w", ErrWrite, err)
		}
		if fi.ModTime().After(lastMod) {
			lastMod = fi.ModTime()
		}
		k, size, sum, err := sealPartial(path, m.Rate, frameBytes)
		if errors.Is(err, errNoAudio) {
			break
		}
		if err != nil {
			return nil, "", 0, lastMod, err
		}
		chain = chainNext(chain, sum, name)
		segs = append(segs, Segment{Name: name, FirstTick: next, Frames: k, Bytes: size,
			SHA256: hexSum(sum), Chain: hexSum(chain)})
		next += k
	}
	return segs, hexSum(chain), next - first, lastMod, nil
}

// clampPauses cuts paused ranges at stop: ranges from stop on go, open
// ranges (To 0) and ranges past stop end at stop.
func clampPauses(ps []PauseRange, stop uint64) []PauseRange {
	out := []PauseRange{}
	for _, p := range ps {
		if p.From >= stop {
			continue
		}
		if p.To == 0 || p.To > stop {
			p.To = stop
		}
		out = append(out, p)
	}
	return out
}
