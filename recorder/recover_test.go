package recorder

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/setbridge/setbridge/media"
)

func TestRecoverSealsACrashedRecordingAsInterrupted(t *testing.T) {
	const n = testRate / 50
	const frameBytes = 2 * n
	tests := []struct {
		name string
		fed  uint64 // ticks [1, 1+fed) are fed, start 1
		// damage changes the files after the crash.
		damage     func(t *testing.T, dir string)
		wantFrames uint64
	}{
		{name: "killed in the middle of a segment", fed: 173, wantFrames: 173},
		{name: "killed in the middle of a sample of the last frame", fed: 173,
			damage: func(t *testing.T, dir string) {
				p := filepath.Join(dir, "seg-000004.wav")
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.Truncate(p, fi.Size()-frameBytes+3); err != nil {
					t.Fatal(err)
				}
			},
			wantFrames: 172},
		{name: "killed after a segment closed but before the manifest listed it", fed: 150,
			damage: func(t *testing.T, dir string) {
				m := mustManifest(t, dir)
				if len(m.Segments) != 3 {
					t.Fatalf("%d segments listed before the damage, want 3", len(m.Segments))
				}
				m.Segments = m.Segments[:2]
				if _, err := writeManifest(dir, m); err != nil {
					t.Fatal(err)
				}
			},
			wantFrames: 150},
		{name: "killed while the first segment's header was being written", fed: 0,
			damage: func(t *testing.T, dir string) {
				if err := os.WriteFile(filepath.Join(dir, "seg-000001.wav"), []byte("RIFF\xff\xff"), 0o640); err != nil {
					t.Fatal(err)
				}
			},
			wantFrames: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.Room = "crashy"
			r, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Start(1); err != nil {
				t.Fatal(err)
			}
			r.Pause()
			feed(r, 1, 4, nil)
			r.Resume()
			r.Event(2, EventJoin, "alice")
			feed(r, 4, 1+tt.fed, nil)
			waitFor(t, "frames on disk", func() bool { return r.Status().Frames == max(tt.fed, 3) || tt.fed == 0 })
			r.crash() // SIGKILL: nothing flushed, patched, synced or sealed
			if tt.fed == 0 {
				tt.fed = 3
			}
			if m := mustManifest(t, r.Dir()); m.Status != StateRecording {
				t.Fatalf("manifest says %s after the crash", m.Status)
			}
			if tt.damage != nil {
				tt.damage(t, r.Dir())
			}
			if _, err := Verify(r.Dir(), testPub); err == nil {
				t.Fatal("an unsealed recording verifies")
			}

			var metrics Metrics
			clock := media.NewFakeClock(testEpoch.Add(time.Hour))
			sealed, err := Recover(cfg.Dir, RecoverConfig{Signer: testKey, Clock: clock, Metrics: &metrics, Logger: discard})
			if err != nil {
				t.Fatal(err)
			}
			if len(sealed) != 1 || metrics.Recovered.Load() != 1 {
				t.Fatalf("recovered %d recordings", len(sealed))
			}
			m := mustManifest(t, r.Dir())
			if m.Status != StateInterrupted || m.StartTick != 1 || m.StopTick != 1+tt.wantFrames || m.Frames != tt.wantFrames {
				t.Fatalf("%s [%d, %d) %d frames; want interrupted [1, %d)", m.Status, m.StartTick, m.StopTick, m.Frames, 1+tt.wantFrames)
			}
			if m.RecoveredAt == nil || !m.RecoveredAt.Equal(testEpoch.Add(time.Hour)) {
				t.Errorf("recovered_at %v", m.RecoveredAt)
			}
			got := readSegments(t, r.Dir(), m.Segments)
			if uint64(len(got)) != tt.wantFrames*n {
				t.Fatalf("%d samples on disk, want %d", len(got), tt.wantFrames*n)
			}
			paused := func(tick uint64) bool { return tick < 4 }
			if i := firstDiff(got, want(1, 1+tt.wantFrames, 0, n, paused)); i >= 0 {
				t.Fatalf("sample %d (tick %d) is wrong", i, 1+i/n)
			}
			if tt.wantFrames > 0 && (len(m.Paused) != 1 || m.Paused[0].From != 1 || m.Paused[0].To != 4) {
				t.Errorf("paused %v, want [1, 4)", m.Paused)
			}
			rep := mustVerify(t, r.Dir())
			if rep.Status != StateInterrupted {
				t.Errorf("verify says %s", rep.Status)
			}
			// A second recovery finds nothing to do.
			again, err := Recover(cfg.Dir, RecoverConfig{Signer: testKey, Logger: discard})
			if err != nil || len(again) != 0 {
				t.Fatalf("second recovery: %d, %v", len(again), err)
			}
		})
	}
}

func TestRecoverLeavesSealedRecordingsAlone(t *testing.T) {
	cfg := testConfig(t)
	r := newRecorder(t, cfg)
	if err := r.Start(1); err != nil {
		t.Fatal(err)
	}
	feed(r, 1, 60, nil)
	stopAndWait(t, r, 0)
	before, err := os.ReadFile(filepath.Join(r.Dir(), ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := Recover(cfg.Dir, RecoverConfig{Signer: testKey, Logger: discard})
	if err != nil || len(sealed) != 0 {
		t.Fatalf("recovered %d, %v", len(sealed), err)
	}
	after, _ := os.ReadFile(filepath.Join(r.Dir(), ManifestName))
	if string(before) != string(after) {
		t.Fatal("recovery rewrote a sealed manifest")
	}
	if got, err := Recover(filepath.Join(cfg.Dir, "nope"), RecoverConfig{Signer: testKey, Logger: discard}); err != nil || got != nil {
		t.Fatalf("missing root: %v, %v", got, err)
	}
}

func TestRecoverSealsTracksToo(t *testing.T) {
	const n = testRate / 50
	cfg := testConfig(t)
	cfg.Tracks = true
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(1); err != nil {
		t.Fatal(err)
	}
	for tick := uint64(1); tick < 130; tick++ {
		r.Frame(tick, tone(tick, 0, n))
		if tick >= 20 {
			r.TrackFrame(tick, "alice", tone(tick, 1, n))
		}
	}
	waitFor(t, "frames on disk", func() bool { return r.Status().Frames == 129 })
	r.crash()
	sealed, err := Recover(cfg.Dir, RecoverConfig{Signer: testKey, Logger: discard})
	if err != nil || len(sealed) != 1 {
		t.Fatalf("%d, %v", len(sealed), err)
	}
	m := sealed[0]
	if m.StopTick != 130 || len(m.Tracks) != 1 {
		t.Fatalf("stop %d, %d tracks", m.StopTick, len(m.Tracks))
	}
	tr := m.Tracks[0]
	if tr.FirstTick != 20 || tr.Frames == 0 || tr.FirstTick+tr.Frames > 130 {
		t.Fatalf("track from %d, %d frames", tr.FirstTick, tr.Frames)
	}
	got := readSegments(t, r.Dir(), tr.Segments)
	if i := firstDiff(got, want(20, 20+tr.Frames, 1, n, nil)); i >= 0 {
		t.Fatalf("track sample %d is wrong", i)
	}
	mustVerify(t, r.Dir())
}
