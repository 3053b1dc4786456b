package recorder

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestGeneratedKeysSignAndVerify(t *testing.T) {
	path := filepath.Join(t.TempDir(), "recording.key")
	pub, err := GenerateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("private key file: %v %v", fi.Mode(), err)
	}
	if _, err := GenerateKey(path); err == nil {
		t.Fatal("GenerateKey overwrote a key")
	}
	priv, err := LoadPrivateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path + ".pub", path} {
		got, err := LoadPublicKey(p)
		if err != nil || !bytes.Equal(got, pub) {
			t.Fatalf("public key from %s: %v", p, err)
		}
	}

	cfg := testConfig(t)
	cfg.Signer = priv
	r := newRecorder(t, cfg)
	if err := r.Start(1); err != nil {
		t.Fatal(err)
	}
	feed(r, 1, 30, nil)
	stopAndWait(t, r, 0)
	m := mustManifest(t, r.Dir())
	fromManifest, err := ParsePublicKey([]byte(m.PublicKey))
	if err != nil || !bytes.Equal(fromManifest, pub) {
		t.Fatalf("public key of the manifest: %v", err)
	}
	if _, err := Verify(r.Dir(), pub); err != nil {
		t.Fatal(err)
	}
	if _, err := ParsePublicKey([]byte("not a key")); !errors.Is(err, ErrKey) {
		t.Errorf("garbage key: %v", err)
	}
	if _, err := LoadPrivateKey(path + ".pub"); !errors.Is(err, ErrKey) {
		t.Errorf("public key as private: %v", err)
	}
}
