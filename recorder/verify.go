package recorder

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// ProblemKind classifies what Verify found wrong.
type ProblemKind string

// Kinds of problems.
const (
	ProblemManifest  ProblemKind = "manifest"  // unreadable, or fields inconsistent with each other
	ProblemSignature ProblemKind = "signature" // missing, malformed, or not by the trusted key
	ProblemStatus    ProblemKind = "status"    // not sealed (still "recording")
	ProblemMissing   ProblemKind = "missing"   // a listed segment is not on disk
	ProblemSize      ProblemKind = "size"      // a segment's size differs from the manifest
	ProblemHash      ProblemKind = "sha256"    // a segment's SHA-256 differs from the manifest
	ProblemHeader    ProblemKind = "header"    // a segment's WAV header is not the one its size and rate give
	ProblemChain     ProblemKind = "chain"     // a chain hash differs from the recomputed one
	ProblemOrder     ProblemKind = "order"     // names or first ticks out of sequence
	ProblemFrames    ProblemKind = "frames"    // frame counts do not add up to stop-start
	ProblemUnlisted  ProblemKind = "unlisted"  // a file in the directory the manifest does not list
)

// Problem is one thing wrong with a recording. File names the segment (or
// manifest.json) it is about.
type Problem struct {
	File   string
	Kind   ProblemKind
	Detail string
}

func (p Problem) String() string { return fmt.Sprintf("%s: %s: %s", p.File, p.Kind, p.Detail) }

// Report is the result of Verify.
type Report struct {
	Dir       string
	ID        string
	Room      RoomID
	Status    State
	StartTick uint64
	StopTick  uint64
	Frames    uint64 // frames of the mix found in its segments
	Segments  int    // segments checked, tracks included
	Bytes     int64  // bytes hashed
	Problems  []Problem
}

// OK reports whether the recording verified without a problem.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// Err returns nil for a recording that verifies, else a *VerifyError.
func (r *Report) Err() error {
	if r.OK() {
		return nil
	}
	return &VerifyError{Dir: r.Dir, Problems: r.Problems}
}

func (r *Report) add(file string, kind ProblemKind, format string, args ...any) {
	r.Problems = append(r.Problems, Problem{File: file, Kind: kind, Detail: fmt.Sprintf(format, args...)})
}

// VerifyError lists every problem of a recording. It wraps ErrVerify.
type VerifyError struct {
	Dir      string
	Problems []Problem
}

func (e *VerifyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "recording %s does not verify (%d problems)", e.Dir, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Unwrap returns ErrVerify.
func (e *VerifyError) Unwrap() error { return ErrVerify }

// Verify checks the recording in dir against the trusted public key pub:
// the manifest's signature; that it is sealed (stopped, interrupted or
// failed); every segment of the mix and of each track (present, size,
// SHA-256, WAV header, names and first ticks in sequence, chain hashes);
// that the mix's frames add up to stop-start; and that the directory holds
// no file the manifest does not list. It returns a report of every
// problem found, and the report's Err (nil when the recording verifies).
func Verify(dir string, pub ed25519.PublicKey) (*Report, error) {
	rep := &Report{Dir: dir}
	m, data, err := ReadManifest(dir)
	if err != nil {
		rep.add(ManifestName, ProblemManifest, "%v", err)
		return rep, rep.Err()
	}
	rep.ID, rep.Room, rep.Status = m.ID, m.Room, m.Status
	rep.StartTick, rep.StopTick = m.StartTick, m.StopTick

	switch {
	case len(pub) != ed25519.PublicKeySize:
		rep.add(ManifestName, ProblemSignature, "%v", errNoKey)
	default:
		if m.PublicKey != "" && m.PublicKey != base64.StdEncoding.EncodeToString(pub) {
			rep.add(ManifestName, ProblemSignature, "signed by key %s, not by the trusted key %s",
				m.PublicKey, base64.StdEncoding.EncodeToString(pub))
		} else if err := verifySignature(data, m.Signature, pub); err != nil {
			rep.add(ManifestName, ProblemSignature, "%v", err)
		}
	}
	switch m.Status {
	case StateStopped, StateInterrupted, StateFailed:
	case StateRecording:
		rep.add(ManifestName, ProblemStatus, "status is %q: still recording, or cut short by a crash and not yet recovered", m.Status)
	default:
		rep.add(ManifestName, ProblemStatus, "unknown status %q", m.Status)
	}
	if m.Version != ManifestVersion {
		rep.add(ManifestName, ProblemManifest, "version %d, this verifier knows %d", m.Version, ManifestVersion)
	}
	if m.Container != "wav" || m.Codec != "pcm_s16le" || m.Channels != 1 || m.Rate <= 0 ||
		m.FrameMillis <= 0 || m.FrameSamples*1000 != m.Rate*m.FrameMillis || m.SegmentFrames <= 0 {
		rep.add(ManifestName, ProblemManifest, "format %s/%s, %d channels, %d Hz, %d ms frames of %d samples, %d frames per segment is not one this verifier checks",
			m.Container, m.Codec, m.Channels, m.Rate, m.FrameMillis, m.FrameSamples, m.SegmentFrames)
		return rep, rep.Err()
	}
	if m.StopTick < m.StartTick {
		rep.add(ManifestName, ProblemFrames, "stop tick %d is before start tick %d", m.StopTick, m.StartTick)
	} else if m.Frames != m.StopTick-m.StartTick {
		rep.add(ManifestName, ProblemFrames, "frames %d, but stop-start is %d", m.Frames, m.StopTick-m.StartTick)
	}

	listed := map[string]bool{ManifestName: true, ManifestName + ".tmp": true, ReserveName: true}
	v := verifier{rep: rep, dir: dir, m: m, listed: listed}
	mixFrames := v.stream("mix", "", m.Segments, m.Chain, m.StartTick)
	rep.Frames = mixFrames
	if mixFrames != m.StopTick-m.StartTick {
		rep.add(ManifestName, ProblemFrames, "the mix's segments hold %d frames, stop-start is %d (ticks %d to %d)",
			mixFrames, m.StopTick-m.StartTick, m.StartTick, m.StopTick)
	}
	prefixes := map[string]bool{}
	for i, t := range m.Tracks {
		if want := trackPrefix(i + 1); t.Prefix != want || prefixes[t.Prefix] {
			rep.add(ManifestName, ProblemOrder, "track %d (%s) has prefix %q, want %q", i+1, t.Participant, t.Prefix, want)
			continue
		}
		prefixes[t.Prefix] = true
		n := v.stream(t.Prefix, t.Prefix, t.Segments, t.Chain, t.FirstTick)
		if n != t.Frames {
			rep.add(ManifestName, ProblemFrames, "track %s holds %d frames, manifest says %d", t.Prefix, n, t.Frames)
		}
		if t.FirstTick < m.StartTick {
			rep.add(ManifestName, ProblemFrames, "track %s starts at tick %d, before the recording (%d)", t.Prefix, t.FirstTick, m.StartTick)
		}
		if m.Status == StateStopped && t.FirstTick+n > m.StopTick {
			rep.add(ManifestName, ProblemFrames, "track %s ends at tick %d, after the stop tick %d", t.Prefix, t.FirstTick+n, m.StopTick)
		}
	}
	for _, p := range m.Paused {
		if p.From < m.StartTick || p.To <= p.From || p.To > m.StopTick {
			rep.add(ManifestName, ProblemManifest, "paused range [%d, %d) is outside [%d, %d)", p.From, p.To, m.StartTick, m.StopTick)
		}
	}

	entries, err := os.ReadDir(dir)
	if err != nil {
		rep.add(dir, ProblemManifest, "list directory: %v", err)
	}
	for _, e := range entries {
		if !listed[e.Name()] {
			rep.add(e.Name(), ProblemUnlisted, "in the directory but not in the manifest (added, or a segment removed from the manifest)")
		}
	}
	return rep, rep.Err()
}

type verifier struct {
	rep    *Report
	dir    string
	m      *Manifest
	listed map[string]bool
}

// stream checks the segments of one stream and returns the frames they
// hold according to the manifest.
func (v *verifier) stream(label, prefix string, segs []Segment, head string, first uint64) uint64 {
	rep, m := v.rep, v.m
	frameBytes := int64(2 * m.FrameSamples)
	chain := chainGenesis(m.ID, label)
	next := first
	for i, s := range segs {
		name := s.Name
		if want := segmentName(prefix, i+1); name != want {
			rep.add(name, ProblemOrder, "listed as segment %d of %s, which should be named %s (reordered or renamed)", i+1, label, want)
		}
		if s.FirstTick != next {
			rep.add(name, ProblemOrder, "starts at tick %d, but the segments before it end at tick %d (reordered, removed or inserted)", s.FirstTick, next)
		}
		if i < len(segs)-1 && s.Frames != uint64(m.SegmentFrames) {
			rep.add(name, ProblemFrames, "holds %d frames, but every segment before the last holds %d", s.Frames, m.SegmentFrames)
		}
		if s.Bytes != wavHeaderLen+int64(s.Frames)*frameBytes {
			rep.add(name, ProblemManifest, "manifest says %d bytes for %d frames, which take %d", s.Bytes, s.Frames, wavHeaderLen+int64(s.Frames)*frameBytes)
		}
		sum, err := hex.DecodeString(s.SHA256)
		if err != nil || len(sum) != sha256.Size {
			rep.add(name, ProblemManifest, "sha256 %q is not a hex SHA-256", s.SHA256)
			sum = make([]byte, sha256.Size)
		}
		chain = chainNext(chain, [32]byte(sum), name)
		if s.Chain != hexSum(chain) {
			rep.add(name, ProblemChain, "chain hash %s, recomputed %s", s.Chain, hexSum(chain))
		}
		if filepath.Base(name) != name || name == "." || name == ".." {
			rep.add(name, ProblemManifest, "not a file name")
		} else {
			v.listed[name] = true
			v.file(name, s, sum)
		}
		next += s.Frames
		rep.Segments++
	}
	if head != hexSum(chain) {
		rep.add(ManifestName, ProblemChain, "chain head of %s is %s, recomputed %s", label, head, hexSum(chain))
	}
	return next - first
}

// file checks one segment on disk.
func (v *verifier) file(name string, s Segment, sum []byte) {
	rep := v.rep
	f, err := os.Open(filepath.Join(v.dir, name))
	if err != nil {
		if os.IsNotExist(err) {
			rep.add(name, ProblemMissing, "listed in the manifest but not on disk (removed)")
		} else {
			rep.add(name, ProblemMissing, "%v", err)
		}
		return
	}
	defer f.Close()
	h := sha256.New()
	var head [wavHeaderLen]byte
	n, err := io.Copy(h, io.TeeReader(f, &prefixWriter{b: head[:0:wavHeaderLen]}))
	if err != nil {
		rep.add(name, ProblemMissing, "read: %v", err)
		return
	}
	rep.Bytes += n
	if n != s.Bytes {
		rep.add(name, ProblemSize, "%d bytes on disk, manifest says %d (truncated or extended)", n, s.Bytes)
	}
	if got := h.Sum(nil); !bytes.Equal(got, sum) {
		rep.add(name, ProblemHash, "file hashes to %x, manifest says %s (altered or swapped)", got, s.SHA256)
	}
	var want [wavHeaderLen]byte
	putWAVHeader(want[:], v.m.Rate, uint32(int64(s.Frames)*int64(2*v.m.FrameSamples)))
	if !bytes.Equal(head[:], want[:]) {
		rep.add(name, ProblemHeader, "WAV header is not 16-bit PCM mono at %d Hz with %d frames", v.m.Rate, s.Frames)
	}
}

// prefixWriter keeps the first cap(b) bytes written to it.
type prefixWriter struct{ b []byte }

func (p *prefixWriter) Write(b []byte) (int, error) {
	if room := cap(p.b) - len(p.b); room > 0 {
		p.b = append(p.b, b[:min(room, len(b))]...)
	}
	return len(b), nil
}
