package s3store

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"go.uber.org/goleak"

	"github.com/setbridge/setbridge/media"
	"github.com/setbridge/setbridge/recorder"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var testKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))

// logs keeps a test's log records; they are printed if the test fails.
type logs struct {
	mu   sync.Mutex
	recs []string
}

type logHandler struct {
	l     *logs
	attrs []slog.Attr
}

func (h logHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return logHandler{h.l, append(slices.Clip(h.attrs), as...)}
}
func (h logHandler) WithGroup(string) slog.Handler { return h }
func (h logHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	for _, a := range h.attrs {
		b.WriteString(" " + a.String())
	}
	r.Attrs(func(a slog.Attr) bool { b.WriteString(" " + a.String()); return true })
	h.l.mu.Lock()
	h.l.recs = append(h.l.recs, b.String())
	h.l.mu.Unlock()
	return nil
}

// lines returns the records that start with level.
func (l *logs) lines(level string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.recs {
		if strings.HasPrefix(r, level+" ") {
			out = append(out, r)
		}
	}
	return out
}

var testLogs sync.Map // testing.TB -> *logs

func testLogger(t testing.TB) *slog.Logger {
	l := &logs{}
	testLogs.Store(t, l)
	t.Cleanup(func() {
		if t.Failed() {
			l.mu.Lock()
			t.Log("log:\n" + strings.Join(l.recs, "\n"))
			l.mu.Unlock()
		}
		testLogs.Delete(t)
	})
	return slog.New(logHandler{l: l})
}

func logsOf(t testing.TB) *logs {
	l, _ := testLogs.Load(t)
	return l.(*logs)
}

func newUploader(t testing.TB, cfg Config) *Uploader {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = u.Close() })
	return u
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// newRecorder is a recording at 8 kHz with 1 s (50-frame) segments on
// clock, in a new directory.
func newRecorder(t testing.TB, clock media.Clock) *recorder.Recorder {
	t.Helper()
	id, err := recorder.NewID(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	r, err := recorder.New(recorder.Config{Dir: t.TempDir(), Room: "room-1", ID: id, Rate: 8000,
		SegmentDuration: time.Second, Clock: clock, Logger: slog.New(slog.DiscardHandler),
		Signer: testKey, RingFrames: 1 << 12})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// feed gives r a distinct mix for ticks [from, to).
func feed(r *recorder.Recorder, from, to uint64) {
	pcm := make([]int16, media.FrameSamples(8000))
	for tick := from; tick < to; tick++ {
		for i := range pcm {
			pcm[i] = int16(uint32(tick)*2654435761 + uint32(i)*40503)
		}
		r.Frame(tick, pcm)
	}
}

// makeRecording records 150 ticks, three segments, and returns the
// recording's id and directory.
func makeRecording(t testing.TB) (string, string) {
	t.Helper()
	r := newRecorder(t, media.NewFakeClock(time.Now()))
	if err := r.Start(1); err != nil {
		t.Fatal(err)
	}
	feed(r, 1, 151)
	if err := r.Stop(0); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Wait(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	return r.ID(), r.Dir()
}

func names(objs []Object) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.Name)
	}
	return out
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// checkStored checks that every file of the recording in dir is in the
// store with the same bytes, SHA-256 and content type, and that a copy
// fetched from the store verifies.
func checkStored(t *testing.T, u *Uploader, id, dir string) {
	t.Helper()
	ctx := ctxT(t, 20*time.Second)
	m, _, err := recorder.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{recorder.ManifestName}
	for _, s := range m.Segments {
		want = append(want, s.Name)
	}
	objs, err := u.List(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(objs); !slices.Equal(got, want) {
		t.Fatalf("stored %q, want %q", got, want)
	}
	copyDir := filepath.Join(t.TempDir(), id)
	if err := os.Mkdir(copyDir, 0o755); err != nil {
		t.Fatal(err)
	}
	manifestSums := map[string]string{}
	for _, s := range m.Segments {
		manifestSums[s.Name] = s.SHA256
	}
	for _, o := range objs {
		local, err := os.ReadFile(filepath.Join(dir, o.Name))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		n, err := u.Fetch(ctx, id, o.Name, &buf)
		if err != nil {
			t.Fatalf("fetch %s: %v", o.Name, err)
		}
		if n != int64(len(local)) || !bytes.Equal(buf.Bytes(), local) {
			t.Fatalf("%s: fetched %d bytes that differ from the local %d", o.Name, n, len(local))
		}
		if o.Size != int64(len(local)) {
			t.Errorf("%s: listed size %d, local %d", o.Name, o.Size, len(local))
		}
		st, err := u.Stat(ctx, id, o.Name)
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(local); st.ChecksumSHA256 != base64.StdEncoding.EncodeToString(sum[:]) {
			t.Errorf("%s: the server's x-amz-checksum-sha256 is %q, want %x in base64", o.Name, st.ChecksumSHA256, sum)
		}
		if st.SHA256 != sha(local) {
			t.Errorf("%s: x-amz-meta-sha256 %s, local file %s", o.Name, st.SHA256, sha(local))
		}
		if w, ok := manifestSums[o.Name]; ok && w != st.SHA256 {
			t.Errorf("%s: stored sha256 %s, manifest says %s", o.Name, st.SHA256, w)
		}
		wantType := "audio/wav"
		if o.Name == recorder.ManifestName {
			wantType = "application/json"
		}
		if st.ContentType != wantType {
			t.Errorf("%s: content type %q, want %q", o.Name, st.ContentType, wantType)
		}
		if err := os.WriteFile(filepath.Join(copyDir, o.Name), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if rep, err := recorder.Verify(copyDir, testKey.Public().(ed25519.PublicKey)); err != nil {
		t.Fatalf("the copy fetched from the store does not verify: %v %+v", err, rep)
	}
}

// TestWatchUploadsSegmentsAsTheyClose records on a fake clock while a
// Watcher polls: a closed segment reaches the store while the recording
// runs, the open one does not, and after the recording ends every file is
// in the store, byte for byte, and the fetched copy verifies.
func TestWatchUploadsSegmentsAsTheyClose(t *testing.T) {
	srv := startServer(t)
	srv.makeBucket("recordings", false)
	clock := media.NewFakeClock(time.Now())
	cfg := srv.config("recordings")
	cfg.Clock, cfg.PollInterval = clock, 100*time.Millisecond
	u := newUploader(t, cfg)
	ctx := ctxT(t, 30*time.Second)

	r := newRecorder(t, clock)
	w, err := u.Watch(r.ID(), r.Dir(), r.Done()) // before the directory exists
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(1); err != nil {
		t.Fatal(err)
	}
	feed(r, 1, 76) // segment 1 closed, segment 2 half written

	// Poll until segment 1 and a manifest listing it are stored.
	deadline := time.Now().Add(15 * time.Second)
	for {
		clock.Advance(100 * time.Millisecond)
		objs, err := u.List(ctx, r.ID())
		if err != nil {
			t.Fatal(err)
		}
		got := names(objs)
		if slices.Contains(got, "seg-000002.wav") {
			t.Fatalf("the open segment was uploaded: %q", got)
		}
		if slices.Equal(got, []string{recorder.ManifestName, "seg-000001.wav"}) {
			var buf bytes.Buffer
			if _, err := u.Fetch(ctx, r.ID(), recorder.ManifestName, &buf); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(buf.String(), "seg-000001.wav") {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("segment 1 and its manifest not stored within 15 s: %q (%d passes)", got, w.Passes())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := u.Metrics().Uploads.Load(); n < 2 {
		t.Fatalf("%d uploads", n)
	}

	feed(r, 76, 151)
	if err := r.Stop(0); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.Wait(ctx); err != nil { // the final pass, on Done
		t.Fatalf("watcher: %v", err)
	}
	m, _, _ := recorder.ReadManifest(r.Dir())
	if m.Status != recorder.StateStopped || len(m.Segments) != 3 {
		t.Fatalf("recording %s with %d segments", m.Status, len(m.Segments))
	}
	checkStored(t, u, r.ID(), r.Dir())
	if f := u.Metrics().Failures.Load(); f != 0 {
		t.Fatalf("%d failures", f)
	}
	// Each segment went up once.
	if n, want := u.Metrics().Uploads.Load()-u.Metrics().Skipped.Load(), uint64(3+2); n < want {
		t.Fatalf("%d uploads, want at least %d", n, want)
	}
}

// TestUploadsRetryUntilTheServerReturns kills the server mid-way: the
// uploads in progress retry and succeed once it is back.
func TestUploadsRetryUntilTheServerReturns(t *testing.T) {
	srv := startServer(t)
	srv.makeBucket("recordings", false)
	id, dir := makeRecording(t)
	cfg := srv.config("recordings")
	cfg.MaxRetries = 1000
	var failures atomic.Int32
	cfg.OnFailure = func(string, string, error) { failures.Add(1) }
	u := newUploader(t, cfg)
	ctx := ctxT(t, 30*time.Second)

	if err := u.Upload(ctx, id, dir, "seg-000001.wav"); err != nil {
		t.Fatal(err)
	}
	srv.stop()
	errc := make(chan error, 1)
	go func() { errc <- u.Upload(ctx, id, dir, "seg-000002.wav") }()
	for _, name := range []string{"seg-000003.wav", recorder.ManifestName} {
		if err := u.Enqueue(id, dir, name); err != nil {
			t.Fatal(err)
		}
	}
	for u.Metrics().Retries.Load() < 4 {
		if ctx.Err() != nil {
			t.Fatal("no retries while the server is down")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if objs, err := u.List(ctx, id); err == nil {
		t.Fatalf("listed %q from a stopped server", names(objs))
	}
	srv.start()
	if err := <-errc; err != nil {
		t.Fatalf("upload across the outage: %v", err)
	}
	if err := u.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	checkStored(t, u, id, dir)
	if f := u.Metrics().Failures.Load(); f != 0 || failures.Load() != 0 {
		t.Fatalf("%d failures counted, %d reported", f, failures.Load())
	}
	if e := logsOf(t).lines("ERROR"); len(e) != 0 {
		t.Fatalf("errors logged: %q", e)
	}
	if w := logsOf(t).lines("WARN"); len(w) == 0 {
		t.Fatal("retries were not logged")
	}
}

// TestFailureAfterRetriesIsLoud: with the server gone for good an upload
// fails after its retries, and says so everywhere.
func TestFailureAfterRetriesIsLoud(t *testing.T) {
	srv := startServer(t)
	srv.makeBucket("recordings", false)
	id, dir := makeRecording(t)
	cfg := srv.config("recordings")
	cfg.MaxRetries = 2
	type failure struct {
		id, name string
		err      error
	}
	var mu sync.Mutex
	var got []failure
	cfg.OnFailure = func(id, name string, err error) {
		mu.Lock()
		got = append(got, failure{id, name, err})
		mu.Unlock()
	}
	u := newUploader(t, cfg)
	srv.stop()

	err := u.Upload(ctxT(t, 20*time.Second), id, dir, "seg-000001.wav")
	var ue *UploadError
	if !errors.As(err, &ue) || ue.Attempts != 3 || ue.Name != "seg-000001.wav" || ue.RecordingID != id {
		t.Fatalf("error %#v (%v), want an UploadError after 3 attempts", ue, err)
	}
	if !strings.Contains(err.Error(), ue.Key) {
		t.Errorf("error %q does not name the key %s", err, ue.Key)
	}
	m := u.Metrics()
	if m.Failures.Load() != 1 || m.Retries.Load() != 2 || m.Uploads.Load() != 0 {
		t.Fatalf("failures %d retries %d uploads %d", m.Failures.Load(), m.Retries.Load(), m.Uploads.Load())
	}
	mu.Lock()
	if len(got) != 1 || got[0].id != id || got[0].name != "seg-000001.wav" || !errors.As(got[0].err, &ue) {
		t.Fatalf("OnFailure calls %+v", got)
	}
	mu.Unlock()
	if e := logsOf(t).lines("ERROR"); len(e) != 1 || !strings.Contains(e[0], "seg-000001.wav") {
		t.Fatalf("error log lines %q", e)
	}

	// A file that cannot be read is not retried.
	err = u.Upload(ctxT(t, 5*time.Second), id, dir, "seg-000009.wav")
	if !errors.As(err, &ue) || ue.Attempts != 1 || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	if m.Failures.Load() != 2 {
		t.Fatalf("%d failures", m.Failures.Load())
	}
}

// TestMissingBucket: New says clearly that the bucket does not exist.
func TestMissingBucket(t *testing.T) {
	srv := startServer(t)
	cfg := srv.config("no-such-bucket")
	_, err := New(ctxT(t, 10*time.Second), cfg)
	if !errors.Is(err, ErrNoBucket) || !strings.Contains(err.Error(), `"no-such-bucket"`) ||
		!strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("New: %v", err)
	}
	t.Log(err)

	cfg = srv.config("recordings")
	cfg.SecretKey = "wrong"
	srv.makeBucket("recordings", false)
	if _, err := New(ctxT(t, 10*time.Second), cfg); err == nil || errors.Is(err, ErrNoBucket) {
		t.Fatalf("New with a wrong secret: %v", err)
	} else {
		t.Log(err)
	}
}

// TestObjectLockRetention: on a bucket with Object Lock, segments and the
// sealed manifest get a COMPLIANCE retention; a manifest still recording
// does not, so that it can be replaced.
func TestObjectLockRetention(t *testing.T) {
	srv := startServer(t)
	srv.makeBucket("locked", true)
	id, dir := makeRecording(t)
	cfg := srv.config("locked")
	cfg.Retention = time.Hour
	u := newUploader(t, cfg)
	if !u.ObjectLock() {
		t.Fatal("the bucket's Object Lock was not detected")
	}
	ctx := ctxT(t, 20*time.Second)
	admin := srv.client()

	// A manifest of a recording in progress: no retention.
	data, err := os.ReadFile(filepath.Join(dir, recorder.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	early := bytes.Replace(data, []byte(`"status": "stopped"`), []byte(`"status": "recording"`), 1)
	if bytes.Equal(early, data) {
		t.Fatal("no status in the manifest")
	}
	if err := os.WriteFile(filepath.Join(tmp, recorder.ManifestName), early, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := u.Upload(ctx, id, tmp, recorder.ManifestName); err != nil {
		t.Fatal(err)
	}
	if mode, until := srv.retention(ctx, "locked", u.Key(id, recorder.ManifestName)); mode != "" {
		t.Fatalf("manifest in progress locked: %v until %v", mode, until)
	}

	before := time.Now()
	if err := u.Sync(ctx, id, dir); err != nil {
		t.Fatal(err)
	}
	checkStored(t, u, id, dir)
	objs, err := u.List(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		mode, until := srv.retention(ctx, "locked", o.Key)
		if mode != string(minio.Compliance) ||
			until.Before(before.Add(time.Hour-2*time.Second)) || until.After(time.Now().Add(time.Hour+time.Second)) {
			t.Fatalf("%s: retention %q until %v, want COMPLIANCE until about %v", o.Name, mode, until, before.Add(time.Hour))
		}
		st, err := u.Stat(ctx, id, o.Name)
		if err != nil {
			t.Fatal(err)
		}
		if st.RetentionMode != mode || !st.RetainUntil.Equal(until) {
			t.Fatalf("%s: HEAD says retention %q until %v, GetObjectRetention %q until %v",
				o.Name, st.RetentionMode, st.RetainUntil, mode, until)
		}
		t.Logf("%s: %s until %v", o.Name, mode, until.UTC())
	}
	if n := u.Metrics().Locked.Load(); n != 4 {
		t.Fatalf("%d uploads locked, want 4", n)
	}

	// The store refuses to replace or delete a locked segment.
	key := u.Key(id, "seg-000001.wav")
	_, err = admin.PutObject(ctx, "locked", key, strings.NewReader("forged"), 6, minio.PutObjectOptions{})
	if err == nil {
		t.Fatal("the store let a locked segment be overwritten")
	}
	t.Logf("overwrite a locked segment: %v", err)
	if err := admin.RemoveObject(ctx, "locked", key, minio.RemoveObjectOptions{}); err == nil {
		t.Fatal("the store let a locked segment be deleted")
	} else {
		t.Logf("delete a locked segment: %v", err)
	}
	checkStored(t, u, id, dir)
}

// TestNoObjectLock: on a bucket without Object Lock the uploader notices,
// warns, and uploads without retention.
func TestNoObjectLock(t *testing.T) {
	srv := startServer(t)
	srv.makeBucket("plain", false)
	id, dir := makeRecording(t)
	cfg := srv.config("plain")
	cfg.Retention = time.Hour
	u := newUploader(t, cfg)
	if u.ObjectLock() {
		t.Fatal("Object Lock reported on a bucket without it")
	}
	if w := logsOf(t).lines("WARN"); len(w) != 1 || !strings.Contains(w[0], "no Object Lock") {
		t.Fatalf("warnings %q", w)
	}
	ctx := ctxT(t, 20*time.Second)
	if err := u.Sync(ctx, id, dir); err != nil {
		t.Fatal(err)
	}
	checkStored(t, u, id, dir)
	if n := u.Metrics().Locked.Load(); n != 0 {
		t.Fatalf("%d uploads locked", n)
	}
	if mode, _ := srv.retention(ctx, "plain", u.Key(id, "seg-000001.wav")); mode != "" {
		t.Fatalf("retention %s on a bucket without Object Lock", mode)
	}
	// Uploading again sends nothing.
	before := u.Metrics().Uploads.Load()
	if err := u.Sync(ctx, id, dir); err != nil {
		t.Fatal(err)
	}
	if u.Metrics().Uploads.Load() != before || u.Metrics().Skipped.Load() != 4 {
		t.Fatalf("a second Sync uploaded %d, skipped %d", u.Metrics().Uploads.Load()-before, u.Metrics().Skipped.Load())
	}
}

// TestFetchDetectsAlteredObject alters a stored segment behind the
// server's back: Fetch says the bytes are not the recording's.
func TestFetchDetectsAlteredObject(t *testing.T) {
	srv := startServer(t)
	srv.makeBucket("recordings", false)
	id, dir := makeRecording(t)
	u := newUploader(t, srv.config("recordings"))
	ctx := ctxT(t, 20*time.Second)
	if err := u.Upload(ctx, id, dir, "seg-000002.wav"); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(srv.dir, "recordings", filepath.FromSlash(u.Key(id, "seg-000002.wav")))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the posix backend's file: %v", err)
	}
	b[len(b)/2] ^= 1
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = u.Fetch(ctx, id, "seg-000002.wav", new(bytes.Buffer))
	if !errors.Is(err, ErrChecksum) {
		t.Fatalf("fetch of an altered object: %v", err)
	}
	t.Log(err)
	if _, err := u.Fetch(ctx, id, "../x", new(bytes.Buffer)); !errors.Is(err, ErrName) {
		t.Fatalf("fetch ../x: %v", err)
	}
}

// TestWatcherStops: a Watcher stops on Stop and on the Uploader's Close,
// and nothing is left running (goleak checks at the end).
func TestWatcherStops(t *testing.T) {
	srv := startServer(t)
	srv.makeBucket("recordings", false)
	clock := media.NewFakeClock(time.Now())
	cfg := srv.config("recordings")
	cfg.Clock = clock
	u, err := New(ctxT(t, 10*time.Second), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	never := make(chan struct{})
	id, dir := makeRecording(t)
	w1, err := u.Watch(id, dir, never)
	if err != nil {
		t.Fatal(err)
	}
	w2, err := u.Watch(id, dir, never)
	if err != nil {
		t.Fatal(err)
	}
	for w1.Passes() == 0 || w2.Passes() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	clock.Advance(time.Second)
	w1.Stop()
	if err := w1.Wait(ctxT(t, 5*time.Second)); !errors.Is(err, ErrStopped) {
		t.Fatalf("stopped watcher: %v", err)
	}
	if err := u.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w2.Wait(ctxT(t, 5*time.Second)); !errors.Is(err, ErrClosed) {
		t.Fatalf("watcher of a closed uploader: %v", err)
	}
	if _, err := u.Watch(id, dir, never); !errors.Is(err, ErrClosed) {
		t.Fatalf("Watch after Close: %v", err)
	}
	if err := u.Enqueue(id, dir, "seg-000001.wav"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Enqueue after Close: %v", err)
	}
	// The first passes uploaded the whole (sealed) recording.
	u2 := newUploader(t, srv.config("recordings"))
	checkStored(t, u2, id, dir)
}

// advanceUntil advances clock by step, letting real time pass, until cond
// holds; it fails the test after 15 s.
func advanceUntil(t *testing.T, clock *media.FakeClock, step time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 15 s", what)
		}
		clock.Advance(step)
		time.Sleep(10 * time.Millisecond)
	}
}

func stored(t *testing.T, u *Uploader, id string, want ...string) func() bool {
	return func() bool {
		objs, err := u.List(ctxT(t, 5*time.Second), id)
		if err != nil {
			return false
		}
		have := names(objs)
		for _, w := range want {
			if !slices.Contains(have, w) {
				return false
			}
		}
		return true
	}
}

// TestWatchResumesAfterAnOutage: the server goes away while a recording
// runs; the Watcher's upload of the segment that closes meanwhile fails
// (loudly), and a later pass uploads it once the server is back.
func TestWatchResumesAfterAnOutage(t *testing.T) {
	srv := startServer(t)
	srv.makeBucket("recordings", false)
	clock := media.NewFakeClock(time.Now())
	cfg := srv.config("recordings")
	cfg.Clock, cfg.PollInterval, cfg.RetryAfter = clock, 100*time.Millisecond, time.Second
	cfg.MaxRetries, cfg.Backoff = 1, 100*time.Millisecond
	var failed []string
	var mu sync.Mutex
	cfg.OnFailure = func(_, name string, _ error) { mu.Lock(); failed = append(failed, name); mu.Unlock() }
	u := newUploader(t, cfg)
	ctx := ctxT(t, 30*time.Second)

	r := newRecorder(t, clock)
	if err := r.Start(1); err != nil {
		t.Fatal(err)
	}
	w, err := u.Watch(r.ID(), r.Dir(), r.Done())
	if err != nil {
		t.Fatal(err)
	}
	feed(r, 1, 60)
	advanceUntil(t, clock, 100*time.Millisecond, "segment 1 stored", stored(t, u, r.ID(), "seg-000001.wav"))

	srv.stop()
	feed(r, 60, 120) // segment 2 closes during the outage
	advanceUntil(t, clock, 100*time.Millisecond, "a failure", func() bool { return u.Metrics().Failures.Load() > 0 })
	mu.Lock()
	if len(failed) == 0 || (failed[0] != "seg-000002.wav" && failed[0] != recorder.ManifestName) {
		t.Fatalf("failures reported for %q", failed)
	}
	mu.Unlock()

	srv.start()
	advanceUntil(t, clock, 100*time.Millisecond, "segment 2 stored after the outage", stored(t, u, r.ID(), "seg-000002.wav"))
	feed(r, 120, 151)
	if err := r.Stop(0); err != nil {
		t.Fatal(err)
	}
	if err := w.Wait(ctx); err != nil {
		t.Fatalf("watcher: %v", err)
	}
	checkStored(t, u, r.ID(), r.Dir())
}

// TestFinalPassFailureThenSync: a recording that ends while the store is
// down is reported incomplete by its Watcher; Sync completes it later.
func TestFinalPassFailureThenSync(t *testing.T) {
	srv := startServer(t)
	srv.makeBucket("recordings", false)
	cfg := srv.config("recordings")
	cfg.MaxRetries = 1
	u := newUploader(t, cfg)
	ctx := ctxT(t, 30*time.Second)
	id, dir := makeRecording(t)

	srv.stop()
	done := make(chan struct{})
	close(done)
	w, err := u.Watch(id, dir, done)
	if err != nil {
		t.Fatal(err)
	}
	err = w.Wait(ctx)
	var ue *UploadError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "manifest not uploaded: 3 of its segments are not in the store") {
		t.Fatalf("final pass with the store down: %v", err)
	}
	t.Log(err)
	// The first failure ends the pass: the others would only wait out
	// their retries too.
	if n := u.Metrics().Failures.Load(); n != 1 {
		t.Fatalf("%d failures, want 1", n)
	}

	srv.start()
	if err := u.Sync(ctx, id, dir); err != nil {
		t.Fatal(err)
	}
	checkStored(t, u, id, dir)
}
