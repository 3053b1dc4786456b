package recorder

import (
	"bytes"
	"crypto/ed25519"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/setbridge/setbridge/media"
	"github.com/setbridge/setbridge/media/wav"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testRate keeps frames small: 160 samples.
const testRate = 8000

var (
	testKey   = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	testPub   = testKey.Public().(ed25519.PublicKey)
	otherKey  = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, ed25519.SeedSize))
	testEpoch = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	discard   = slog.New(slog.DiscardHandler)
)

// testConfig is a recording at 8 kHz with 1 s (50-frame) segments on a
// fake clock.
func testConfig(t testing.TB) Config {
	id, err := NewID(testEpoch)
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		Dir:             t.TempDir(),
		Room:            "room-1",
		ID:              id,
		Rate:            testRate,
		SegmentDuration: time.Second,
		Clock:           media.NewFakeClock(testEpoch),
		Logger:          slog.New(slog.DiscardHandler),
		Signer:          testKey,
		// Tests feed frames far faster than 50 a second: a large ring
		// keeps a busy machine from overflowing it where a test does not
		// mean to.
		RingFrames: 1 << 13,
	}
}

func newRecorder(t testing.TB, cfg Config) *Recorder {
	t.Helper()
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// tone is the frame the test room mixes at tick for stream s: distinct per
// tick, sample and stream, so that a frame in the wrong place shows.
func tone(tick uint64, s, n int) []int16 {
	out := make([]int16, n)
	for i := range out {
		v := int16(uint32(tick)*2654435761 + uint32(i)*40503 + uint32(s)*7919)
		if v == 0 {
			v = 1
		}
		out[i] = v
	}
	return out
}

// feed gives the recorder the mix of ticks [from, to), except the ticks
// skip reports.
func feed(r *Recorder, from, to uint64, skip func(uint64) bool) {
	n := frameSamplesAt(r.cfg.Rate)
	for tick := from; tick < to; tick++ {
		if skip != nil && skip(tick) {
			continue
		}
		r.Frame(tick, tone(tick, 0, n))
	}
}

// want builds the expected samples of ticks [start, stop): the tone of
// each tick, or silence where silent reports true.
func want(start, stop uint64, s, n int, silent func(uint64) bool) []int16 {
	var out []int16
	for tick := start; tick < stop; tick++ {
		if silent != nil && silent(tick) {
			out = append(out, make([]int16, n)...)
			continue
		}
		out = append(out, tone(tick, s, n)...)
	}
	return out
}

// readSegments concatenates the samples of segs, checking each file's
// format.
func readSegments(t *testing.T, dir string, segs []Segment) []int16 {
	t.Helper()
	var out []int16
	for _, s := range segs {
		a, err := wav.ReadFile(filepath.Join(dir, s.Name))
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		if a.Rate != testRate || a.Channels != 1 {
			t.Fatalf("%s: %d Hz %d channels", s.Name, a.Rate, a.Channels)
		}
		if uint64(a.Frames()) != s.Frames*uint64(frameSamplesAt(testRate)) {
			t.Fatalf("%s: %d samples, manifest says %d frames", s.Name, a.Frames(), s.Frames)
		}
		out = append(out, a.Samples...)
	}
	return out
}

// firstDiff returns the index of the first differing sample, or -1.
func firstDiff(a, b []int16) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

func mustManifest(t *testing.T, dir string) *Manifest {
	t.Helper()
	m, _, err := ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mustVerify(t *testing.T, dir string) *Report {
	t.Helper()
	rep, err := Verify(dir, testPub)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return rep
}

// stopAndWait stops at tick and waits for the seal.
func stopAndWait(t *testing.T, r *Recorder, tick uint64) Status {
	t.Helper()
	if err := r.Stop(tick); err != nil {
		t.Fatalf("stop: %v", err)
	}
	st, err := r.Wait(t.Context())
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	return st
}

// waitFor polls cond until it holds or a deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// feedSync is feed, waiting after each frame until the writer has it on
// disk (start is the recording's start tick).
func feedSync(t *testing.T, r *Recorder, from, to, start uint64) {
	t.Helper()
	n := frameSamplesAt(r.cfg.Rate)
	for tick := from; tick < to; tick++ {
		r.Frame(tick, tone(tick, 0, n))
		waitFor(t, "the writer", func() bool { return r.Status().Frames >= tick-start+1 })
	}
}
