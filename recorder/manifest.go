package recorder

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// ManifestName is the manifest's file name in a recording's directory.
const ManifestName = "manifest.json"

// ManifestVersion is the version of the manifest format written here.
const ManifestVersion = 1

// State is a recording's status.
type State string

// States of a recording.
const (
	// StatePending: constructed, Start not called (never in a manifest).
	StatePending State = "pending"
	// StateRecording: started and not yet ended. A manifest left in this
	// state on disk belongs to a recording that a crash cut short; Recover
	// seals it.
	StateRecording State = "recording"
	// StateStopped: ended at its stop tick; holds exactly [start, stop).
	StateStopped State = "stopped"
	// StateInterrupted: sealed by Recover after a crash with the frames
	// that reached the disk.
	StateInterrupted State = "interrupted"
	// StateFailed: ended by an error (full disk, unwritable directory,
	// ring overflow) with the frames written before it.
	StateFailed State = "failed"
)

// Manifest describes a recording. The JSON field names are the format.
type Manifest struct {
	Version int    `json:"version"`
	ID      string `json:"id"`
	Room    RoomID `json:"room"`
	Status  State  `json:"status"`
	// Error says why a failed recording failed.
	Error string `json:"error,omitempty"`
	// StopReason says why the recording stopped where it did when it was
	// not a Stop call ("room restarted").
	StopReason string `json:"stop_reason,omitempty"`

	// Format of every segment: "wav", 16-bit signed little-endian PCM.
	Container     string `json:"container"`
	Codec         string `json:"codec"`
	Rate          int    `json:"rate"`
	Channels      int    `json:"channels"`
	FrameMillis   int    `json:"frame_duration_ms"`
	FrameSamples  int    `json:"frame_samples"`
	SegmentFrames int    `json:"segment_frames"`

	// StartTick and StopTick are the mixer ticks [start, stop) the
	// recording holds; StopTick is 0 while recording. Frames is
	// StopTick-StartTick once sealed.
	StartTick uint64 `json:"start_tick"`
	StopTick  uint64 `json:"stop_tick"`
	Frames    uint64 `json:"frames"`
	// StartedAt is the UTC wall time of the start tick; StoppedAt the time
	// the recording was sealed (for an interrupted recording, the time its
	// last segment was last written); RecoveredAt when Recover sealed it.
	StartedAt   *time.Time `json:"started_at,omitempty"`
	StoppedAt   *time.Time `json:"stopped_at,omitempty"`
	RecoveredAt *time.Time `json:"recovered_at,omitempty"`

	// Segments of the mix, in order, and the head of their chain.
	Segments []Segment `json:"segments"`
	Chain    string    `json:"chain"`
	// Paused lists the ranges of ticks written as silence by a pause.
	Paused []PauseRange `json:"paused"`
	// Participants and Timeline come from Event and Talkers.
	Participants  []Participant `json:"participants"`
	Timeline      []Event       `json:"timeline"`
	DroppedEvents int           `json:"dropped_events,omitempty"`
	// Tracks holds one track per participant (Config.Tracks).
	Tracks        []Track `json:"tracks,omitempty"`
	RefusedTracks int     `json:"refused_track_frames,omitempty"`

	// PublicKey is the signer's Ed25519 public key, base64 (standard,
	// padded). It says who signed; Verify trusts only the key it is given.
	PublicKey string `json:"public_key"`
	// Signature is the Ed25519 signature, base64, of CanonicalManifest of
	// the manifest without this field. Empty while recording.
	Signature string `json:"signature,omitempty"`
}

// Segment is one WAV file of a stream.
type Segment struct {
	Name      string `json:"name"`
	FirstTick uint64 `json:"first_tick"`
	Frames    uint64 `json:"frames"`
	Bytes     int64  `json:"bytes"`
	SHA256    string `json:"sha256"`
	// Chain is SHA-256(previous chain || SHA256 || Name), hex.
	Chain string `json:"chain"`
}

// PauseRange is a range [From, To) of ticks written as silence. Reasons
// are "api" (Pause) and "pin" (PINEntry).
type PauseRange struct {
	From    uint64   `json:"from_tick"`
	To      uint64   `json:"to_tick"`
	Reasons []string `json:"reasons"`
}

// Participant summarises a participant's events in the recording.
type Participant struct {
	ID        ParticipantID `json:"id"`
	FirstTick uint64        `json:"first_tick"`
	// LastTick is the tick of the participant's last leave, or the stop
	// tick when still present.
	LastTick uint64 `json:"last_tick"`
	// TalkTicks counts the ticks the participant was a selected talker.
	TalkTicks uint64 `json:"talk_ticks"`
}

// EventKind is the kind of a timeline event.
type EventKind string

// Kinds of timeline events.
const (
	EventJoin      EventKind = "join"
	EventLeave     EventKind = "leave"
	EventTalkStart EventKind = "talk_start"
	EventTalkStop  EventKind = "talk_stop"
	EventMute      EventKind = "mute"
	EventUnmute    EventKind = "unmute"
)

// Event is an entry of the talker timeline.
type Event struct {
	Tick        uint64        `json:"tick"`
	Kind        EventKind     `json:"kind"`
	Participant ParticipantID `json:"participant"`
}

// Track is one participant's audio, aligned to the mix's ticks: it holds
// ticks [FirstTick, FirstTick+Frames) with silence where the participant
// sent no frame and while paused.
type Track struct {
	Participant ParticipantID `json:"participant"`
	// Prefix names the track's files: Prefix + "-seg-000001.wav", ...
	Prefix    string    `json:"prefix"`
	FirstTick uint64    `json:"first_tick"`
	Frames    uint64    `json:"frames"`
	Segments  []Segment `json:"segments"`
	Chain     string    `json:"chain"`
}

// Summary is what an index of recordings keeps about one.
type Summary struct {
	ID        string
	Room      RoomID
	Status    State
	Error     string
	Rate      int
	StartTick uint64
	StopTick  uint64
	Frames    uint64
	StartedAt time.Time // zero if unknown
	StoppedAt time.Time // zero if unknown
	Segments  int       // mix and tracks
	Bytes     int64     // mix and tracks
	Dir       string
}

// Summary returns the index entry for m, kept in dir.
func (m *Manifest) Summary(dir string) Summary {
	s := Summary{ID: m.ID, Room: m.Room, Status: m.Status, Error: m.Error, Rate: m.Rate,
		StartTick: m.StartTick, StopTick: m.StopTick, Frames: m.Frames, Dir: dir}
	if m.StartedAt != nil {
		s.StartedAt = *m.StartedAt
	}
	if m.StoppedAt != nil {
		s.StoppedAt = *m.StoppedAt
	}
	add := func(segs []Segment) {
		for _, g := range segs {
			s.Segments++
			s.Bytes += g.Bytes
		}
	}
	add(m.Segments)
	for _, t := range m.Tracks {
		add(t.Segments)
	}
	return s
}

// Duration is the recording's length (Frames frames).
func (m *Manifest) Duration() time.Duration {
	return time.Duration(m.Frames) * time.Duration(m.FrameMillis) * time.Millisecond
}

// CanonicalManifest returns the bytes a manifest's signature covers: the
// JSON object data with its "signature" member removed, re-encoded with
// object keys sorted, no insignificant white space, numbers exactly as
// written, and strings escaped as Go's encoding/json escapes them. Every
// other member, known to this version or not, is covered.
func CanonicalManifest(data []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrManifest, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the JSON object", ErrManifest)
	}
	delete(obj, "signature")
	out, err := json.Marshal(obj) // sorts map keys at every level
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrManifest, err)
	}
	return out, nil
}

// sign fills m.PublicKey and m.Signature.
func (m *Manifest) sign(key ed25519.PrivateKey) error {
	m.PublicKey = base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))
	m.Signature = ""
	raw, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("sign manifest: %w", err)
	}
	c, err := CanonicalManifest(raw)
	if err != nil {
		return fmt.Errorf("sign manifest: %w", err)
	}
	m.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(key, c))
	return nil
}

// verifySignature checks the signature of the manifest file data.
func verifySignature(data []byte, sig string, pub ed25519.PublicKey) error {
	if sig == "" {
		return errors.New("manifest is not signed")
	}
	s, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || len(s) != ed25519.SignatureSize {
		return errors.New("signature is not a base64 Ed25519 signature")
	}
	c, err := CanonicalManifest(data)
	if err != nil {
		return err
	}
	if !ed25519.Verify(pub, c, s) {
		return errors.New("Ed25519 signature does not match the manifest and the trusted key")
	}
	return nil
}

// ReadManifest reads and parses dir/manifest.json.
func ReadManifest(dir string) (*Manifest, []byte, error) {
	data, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrManifest, err)
	}
	m := new(Manifest)
	if err := json.Unmarshal(data, m); err != nil {
		return nil, data, fmt.Errorf("%w: %s: %v", ErrManifest, filepath.Join(dir, ManifestName), err)
	}
	return m, data, nil
}

// ReserveName is the file that holds disk space for the final manifest
// while a recording runs; it is removed just before the manifest is sealed,
// so that a full disk still gets a sealed "failed" manifest.
const ReserveName = ".reserve"

// minReserve is the least space kept for the final manifest.
const minReserve = 64 << 10

// writeManifest writes m to dir/manifest.json atomically: a temporary
// file, fsync, rename over the old one, fsync of the directory (which also
// makes the entries of newly created segments durable). It returns the
// manifest's size.
func writeManifest(dir string, m *Manifest) (int64, error) {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return 0, fmt.Errorf("write manifest: %w", err)
	}
	data = append(data, '\n')
	tmp := filepath.Join(dir, ManifestName+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return 0, fmt.Errorf("%w: manifest: %w", ErrWrite, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, ManifestName))
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return 0, fmt.Errorf("%w: manifest: %w", ErrWrite, err)
	}
	return int64(len(data)), nil
}

// growReserve makes dir/.reserve at least size bytes of allocated (not
// sparse) space.
func growReserve(dir string, have, size int64) error {
	f, err := os.OpenFile(filepath.Join(dir, ReserveName), os.O_WRONLY|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("%w: reserve: %w", ErrWrite, err)
	}
	zero := make([]byte, 16<<10)
	for off := have; off < size && err == nil; off += int64(len(zero)) {
		_, err = f.WriteAt(zero[:min(int64(len(zero)), size-off)], off)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%w: reserve: %w", ErrWrite, err)
	}
	return nil
}

// releaseReserve removes dir/.reserve.
func releaseReserve(dir string) {
	_ = os.Remove(filepath.Join(dir, ReserveName))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// chainGenesis is the chain value before a stream's first segment.
func chainGenesis(id, stream string) [32]byte {
	h := sha256.New()
	h.Write([]byte(id))
	h.Write([]byte{0})
	h.Write([]byte(stream))
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// chainNext returns SHA-256(prev || sum || name).
func chainNext(prev, sum [32]byte, name string) [32]byte {
	h := sha256.New()
	h.Write(prev[:])
	h.Write(sum[:])
	h.Write([]byte(name))
	var out [32]byte
	h.Sum(out[:0])
	return out
}

func hexSum(b [32]byte) string { return hex.EncodeToString(b[:]) }

// segmentName is the file name of segment n (from 1) of a stream.
func segmentName(prefix string, n int) string {
	if prefix == "" {
		return fmt.Sprintf("seg-%06d.wav", n)
	}
	return fmt.Sprintf("%s-seg-%06d.wav", prefix, n)
}

// trackPrefix is the file prefix of track n (from 1).
func trackPrefix(n int) string { return fmt.Sprintf("track-%03d", n) }
