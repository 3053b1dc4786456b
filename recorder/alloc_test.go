package recorder

import (
	"testing"
	"time"
)

func TestFrameDoesNotAllocate(t *testing.T) {
	cfg := testConfig(t)
	cfg.Rate = 48000
	cfg.SegmentDuration = time.Hour // no segment closes during the run
	cfg.Tracks = true
	r := newRecorder(t, cfg)
	if err := r.Start(1); err != nil {
		t.Fatal(err)
	}
	mix := tone(1, 0, 960)
	track := tone(1, 1, 960)
	tick := uint64(1)
	step := func() {
		r.Frame(tick, mix)
		r.TrackFrame(tick, "alice", track)
		tick++
	}
	step() // the first frame creates the track and writes the manifest
	waitFor(t, "the writer", func() bool { return r.Status().Frames == 1 })
	if a := testing.AllocsPerRun(1000, step); a != 0 {
		t.Fatalf("Frame and TrackFrame allocate %.2f times per tick", a)
	}
}
