package recorder

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sealedRecording records ticks [1, 180) in 50-frame segments: four
// segments (50, 50, 50, 29 frames).
func sealedRecording(t *testing.T) string {
	t.Helper()
	r := newRecorder(t, testConfig(t))
	if err := r.Start(1); err != nil {
		t.Fatal(err)
	}
	r.Event(1, EventJoin, "alice")
	feed(r, 1, 180, nil)
	stopAndWait(t, r, 0)
	mustVerify(t, r.Dir())
	return r.Dir()
}

func TestVerifySaysWhichSegmentIsWrong(t *testing.T) {
	flip := func(name string, off int64) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			f, err := os.OpenFile(filepath.Join(dir, name), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			b := make([]byte, 1)
			if _, err := f.ReadAt(b, off); err != nil {
				t.Fatal(err)
			}
			b[0] ^= 0x01
			if _, err := f.WriteAt(b, off); err != nil {
				t.Fatal(err)
			}
		}
	}
	rename := func(from, to string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			if err := os.Rename(filepath.Join(dir, from), filepath.Join(dir, to)); err != nil {
				t.Fatal(err)
			}
		}
	}
	editManifest := func(edit func(m map[string]any)) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			p := filepath.Join(dir, ManifestName)
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(data, &m); err != nil {
				t.Fatal(err)
			}
			edit(m)
			data, _ = json.MarshalIndent(m, "", "  ")
			if err := os.WriteFile(p, data, 0o640); err != nil {
				t.Fatal(err)
			}
		}
	}
	resign := func(edit func(m *Manifest)) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			m := mustManifest(t, dir)
			edit(m)
			if err := m.sign(testKey); err != nil { // a forger holding the key
				t.Fatal(err)
			}
			if _, err := writeManifest(dir, m); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name   string
		tamper func(t *testing.T, dir string)
		pub    []byte
		want   []Problem // File and Kind must appear among the problems
	}{
		{name: "one flipped byte in the samples of a segment",
			tamper: flip("seg-000002.wav", 1000),
			want:   []Problem{{File: "seg-000002.wav", Kind: ProblemHash}}},
		{name: "one flipped byte in a WAV header",
			tamper: flip("seg-000003.wav", 24),
			want:   []Problem{{File: "seg-000003.wav", Kind: ProblemHash}, {File: "seg-000003.wav", Kind: ProblemHeader}}},
		{name: "a segment removed",
			tamper: func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "seg-000003.wav")) },
			want:   []Problem{{File: "seg-000003.wav", Kind: ProblemMissing}}},
		{name: "two segments swapped on disk",
			tamper: func(t *testing.T, dir string) {
				rename("seg-000001.wav", "x")(t, dir)
				rename("seg-000002.wav", "seg-000001.wav")(t, dir)
				rename("x", "seg-000002.wav")(t, dir)
			},
			want: []Problem{{File: "seg-000001.wav", Kind: ProblemHash}, {File: "seg-000002.wav", Kind: ProblemHash}}},
		{name: "the last segment cut short",
			tamper: func(t *testing.T, dir string) { os.Truncate(filepath.Join(dir, "seg-000004.wav"), 500) },
			want:   []Problem{{File: "seg-000004.wav", Kind: ProblemSize}, {File: "seg-000004.wav", Kind: ProblemHash}}},
		{name: "a file added to the directory",
			tamper: func(t *testing.T, dir string) { os.WriteFile(filepath.Join(dir, "seg-000005.wav"), []byte("x"), 0o640) },
			want:   []Problem{{File: "seg-000005.wav", Kind: ProblemUnlisted}}},
		{name: "segments reordered in the manifest without the key",
			tamper: editManifest(func(m map[string]any) {
				s := m["segments"].([]any)
				s[0], s[1] = s[1], s[0]
			}),
			want: []Problem{{File: ManifestName, Kind: ProblemSignature}, {File: "seg-000002.wav", Kind: ProblemOrder},
				{File: "seg-000002.wav", Kind: ProblemChain}}},
		{name: "a segment and its entry removed, manifest re-signed by a forger with the key",
			tamper: func(t *testing.T, dir string) {
				resign(func(m *Manifest) { m.Segments = append(m.Segments[:1], m.Segments[2:]...) })(t, dir)
				os.Remove(filepath.Join(dir, "seg-000002.wav"))
			},
			want: []Problem{{File: "seg-000003.wav", Kind: ProblemOrder}, {File: "seg-000003.wav", Kind: ProblemChain},
				{File: ManifestName, Kind: ProblemFrames}}},
		{name: "stop tick moved in the manifest",
			tamper: editManifest(func(m map[string]any) { m["stop_tick"] = 170; m["frames"] = 169 }),
			want:   []Problem{{File: ManifestName, Kind: ProblemSignature}, {File: ManifestName, Kind: ProblemFrames}}},
		{name: "a flipped bit in the signature",
			tamper: editManifest(func(m map[string]any) {
				s := []byte(m["signature"].(string))
				s[5] ^= 0x02
				m["signature"] = string(s)
			}),
			want: []Problem{{File: ManifestName, Kind: ProblemSignature}}},
		{name: "an unknown member added to the manifest",
			tamper: editManifest(func(m map[string]any) { m["note"] = "nothing to see" }),
			want:   []Problem{{File: ManifestName, Kind: ProblemSignature}}},
		{name: "checked with another key",
			pub:  otherKey.Public().(ed25519.PublicKey),
			want: []Problem{{File: ManifestName, Kind: ProblemSignature}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := sealedRecording(t)
			if tt.tamper != nil {
				tt.tamper(t, dir)
			}
			pub := testPub
			if tt.pub != nil {
				pub = tt.pub
			}
			rep, err := Verify(dir, pub)
			if err == nil {
				t.Fatal("the tampered recording verifies")
			}
			var ve *VerifyError
			if !errors.Is(err, ErrVerify) || !errors.As(err, &ve) || len(ve.Problems) != len(rep.Problems) {
				t.Fatalf("error %T %v", err, err)
			}
			for _, w := range tt.want {
				found := false
				for _, p := range rep.Problems {
					if p.File == w.File && p.Kind == w.Kind {
						found = true
					}
				}
				if !found {
					t.Errorf("no %s problem with %s in:\n%v", w.Kind, w.File, err)
				}
			}
			for _, p := range rep.Problems {
				if p.Kind == ProblemHash && !strings.Contains(err.Error(), p.File) {
					t.Errorf("the error does not name %s", p.File)
				}
			}
		})
	}
}

func TestVerifyRefusesAnUnsealedRecording(t *testing.T) {
	r := newRecorder(t, testConfig(t))
	if err := r.Start(1); err != nil {
		t.Fatal(err)
	}
	feed(r, 1, 70, nil)
	waitFor(t, "a closed segment", func() bool { return r.Status().Segments == 1 })
	rep, err := Verify(r.Dir(), testPub)
	if err == nil {
		t.Fatal("a recording in progress verifies")
	}
	var kinds []ProblemKind
	for _, p := range rep.Problems {
		kinds = append(kinds, p.Kind)
	}
	if !strings.Contains(err.Error(), "still recording") {
		t.Errorf("problems %v", kinds)
	}
	if _, err := Verify(t.TempDir(), testPub); !errors.Is(err, ErrVerify) {
		t.Errorf("a directory without a manifest: %v", err)
	}
}
