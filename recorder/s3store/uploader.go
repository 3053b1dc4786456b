package s3store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/setbridge/setbridge/media"
	"github.com/setbridge/setbridge/recorder"
)

// Defaults of Config.
const (
	DefaultMaxRetries   = 5
	DefaultBackoff      = time.Second
	DefaultMaxBackoff   = 30 * time.Second
	DefaultConcurrency  = 4
	DefaultPollInterval = time.Second
	DefaultRetryAfter   = 30 * time.Second
)

// maxSinglePut is the largest object sent in one PUT (the S3 limit);
// larger ones go multipart without the whole-object checksum header.
// Recorder segments stay far below it (recorder.MaxSegmentBytes).
const maxSinglePut = 5 << 30

// Config configures an Uploader.
type Config struct {
	// Endpoint is the server's host:port (no scheme), for example
	// "s3.eu-west-1.amazonaws.com" or "127.0.0.1:7070". Required.
	Endpoint string
	// Bucket must exist. Required.
	Bucket string
	// AccessKey and SecretKey are static V4 credentials.
	AccessKey, SecretKey string
	// UseSSL selects https.
	UseSSL bool
	// Region of the bucket ("" lets the client ask the server).
	Region string
	// Prefix is prepended to every key: <Prefix>/<id>/<name>. Slashes at
	// either end are ignored; "" puts recordings at the top of the bucket.
	Prefix string
	// Retention, when > 0 and the bucket has Object Lock, is the COMPLIANCE
	// retention of every uploaded segment and sealed manifest, counted from
	// the upload (wall clock, which is what the server compares with).
	Retention time.Duration
	// Logger gets the log lines (default slog.Default()).
	Logger *slog.Logger
	// MaxRetries is the number of attempts after the first (default
	// DefaultMaxRetries; negative: none).
	MaxRetries int
	// Backoff is the wait before the first retry (default DefaultBackoff);
	// it doubles after each retry up to MaxBackoff (default
	// DefaultMaxBackoff).
	Backoff, MaxBackoff time.Duration
	// Concurrency caps the PUT requests in flight (default
	// DefaultConcurrency).
	Concurrency int
	// Clock times back-off waits and the Watcher's polling (default the
	// system clock).
	Clock media.Clock
	// PollInterval is how often a Watcher reads the manifest (default
	// DefaultPollInterval); RetryAfter is how long it leaves a file whose
	// upload failed before trying it again (default DefaultRetryAfter).
	PollInterval, RetryAfter time.Duration
	// OnFailure, if set, is called when an upload has failed after its
	// retries, on the goroutine that was uploading. It must not block for
	// long.
	OnFailure func(recordingID, name string, err error)
	// Metrics, if set, receives the counters (default a new one); share one
	// between uploaders to export process totals.
	Metrics *Metrics
	// Transport, if set, carries the requests (default a dedicated
	// http.Transport, whose idle connections Close closes).
	Transport http.RoundTripper
}

// Metrics counts what an Uploader did. Read the fields with Load.
type Metrics struct {
	// Uploads counts objects uploaded; Bytes their sizes.
	Uploads atomic.Uint64
	Bytes   atomic.Uint64
	// Locked counts uploads that set a COMPLIANCE retention.
	Locked atomic.Uint64
	// Skipped counts uploads not sent because the object was already
	// there with the same SHA-256.
	Skipped atomic.Uint64
	// Retries counts attempts after a first one.
	Retries atomic.Uint64
	// Failures counts uploads that failed after their retries.
	Failures atomic.Uint64
}

// Errors.
var (
	// ErrClosed is returned once the Uploader is closed.
	ErrClosed = errors.New("s3store: uploader closed")
	// ErrNoBucket is returned by New when the bucket does not exist.
	ErrNoBucket = errors.New("s3store: bucket does not exist")
	// ErrChecksum is returned by Fetch when the bytes read do not match
	// the object's SHA-256.
	ErrChecksum = errors.New("s3store: SHA-256 mismatch")
	// ErrName is returned for a recording id or file name that is not a
	// plain file name.
	ErrName = errors.New("s3store: invalid name")
)

// UploadError is an upload that failed after its retries (or at once, for
// an error a retry cannot cure).
type UploadError struct {
	RecordingID, Name string
	Key               string
	Attempts          int
	Err               error
}

func (e *UploadError) Error() string {
	return fmt.Sprintf("s3store: upload %s failed after %d attempt(s): %v", e.Key, e.Attempts, e.Err)
}

func (e *UploadError) Unwrap() error { return e.Err }

// Uploader uploads recordings' files to one bucket and reads them back.
// Its methods may be called concurrently.
type Uploader struct {
	cfg       Config
	client    *minio.Client
	transport *http.Transport // ours, or nil
	log       *slog.Logger
	metrics   *Metrics
	objLock   bool
	sem       chan struct{}

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // the queue worker and the watchers

	mu      sync.Mutex
	closed  bool          // guarded by mu
	queue   []job         // guarded by mu
	pending map[job]bool  // queued, not yet started; guarded by mu
	busy    bool          // the worker is uploading; guarded by mu
	wake    chan struct{} // signals the worker
	idle    chan struct{} // closed and replaced when the queue drains; guarded by mu
}

type job struct{ id, dir, name string }

// New connects to the store, checks that the bucket exists and whether it
// has Object Lock enabled, and starts the Enqueue worker. Close releases
// it.
func New(ctx context.Context, cfg Config) (*Uploader, error) {
	if cfg.Endpoint == "" || cfg.Bucket == "" {
		return nil, errors.New("s3store: endpoint and bucket are required")
	}
	if strings.Contains(cfg.Endpoint, "://") {
		return nil, fmt.Errorf("s3store: endpoint %q must be host:port without a scheme (set UseSSL for https)", cfg.Endpoint)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = DefaultMaxRetries
	} else if cfg.MaxRetries < 0 {
		cfg.MaxRetries = 0
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	cfg.MaxBackoff = max(cfg.MaxBackoff, cfg.Backoff)
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Clock == nil {
		cfg.Clock = media.SystemClock{}
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = DefaultRetryAfter
	}
	if cfg.Metrics == nil {
		cfg.Metrics = new(Metrics)
	}
	cfg.Prefix = strings.Trim(cfg.Prefix, "/")

	u := &Uploader{cfg: cfg, metrics: cfg.Metrics, sem: make(chan struct{}, cfg.Concurrency),
		log:  cfg.Logger.With("component", "s3store", "bucket", cfg.Bucket),
		wake: make(chan struct{}, 1), idle: make(chan struct{}), pending: map[job]bool{}}
	tr := cfg.Transport
	if tr == nil {
		t, err := minio.DefaultTransport(cfg.UseSSL)
		if err != nil {
			return nil, fmt.Errorf("s3store: %w", err)
		}
		u.transport, tr = t, t
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:     credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:    cfg.UseSSL,
		Region:    cfg.Region,
		Transport: tr,
		// The checksum header we compute ourselves needs it.
		TrailingHeaders: true,
		// Retries are ours (logged, counted, on Clock).
		MaxRetries: 1,
	})
	if err != nil {
		u.closeIdle()
		return nil, fmt.Errorf("s3store: %w", err)
	}
	u.client = client

	ok, err := client.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		u.closeIdle()
		return nil, fmt.Errorf("s3store: checking bucket %q at %s: %w", cfg.Bucket, cfg.Endpoint, err)
	}
	if !ok {
		u.closeIdle()
		return nil, fmt.Errorf("%w: %q at %s (create it, with Object Lock if retention is wanted)",
			ErrNoBucket, cfg.Bucket, cfg.Endpoint)
	}
	enabled, _, _, _, err := client.GetObjectLockConfig(ctx, cfg.Bucket)
	switch {
	case err == nil:
		u.objLock = enabled == "Enabled"
	case errResponse(err).Code == "ObjectLockConfigurationNotFoundError" || errResponse(err).StatusCode == http.StatusNotFound:
		// No Object Lock on this bucket.
	case ctx.Err() != nil:
		u.closeIdle()
		return nil, fmt.Errorf("s3store: %w", ctx.Err())
	default:
		u.log.Warn("cannot read the bucket's Object Lock configuration; assuming none", "error", err)
	}
	if cfg.Retention > 0 && !u.objLock {
		u.log.Warn("retention is configured but the bucket has no Object Lock: objects are uploaded without retention",
			"retention", cfg.Retention)
	}
	u.log.Info("object store ready", "endpoint", cfg.Endpoint, "object_lock", u.objLock, "retention", cfg.Retention)

	u.ctx, u.cancel = context.WithCancel(context.Background())
	u.wg.Add(1)
	go u.worker()
	return u, nil
}

// ObjectLock reports whether the bucket has Object Lock enabled, that is
// whether Config.Retention takes effect.
func (u *Uploader) ObjectLock() bool { return u.objLock }

// Metrics returns the Uploader's counters.
func (u *Uploader) Metrics() *Metrics { return u.metrics }

// Key returns the object key of a recording's file.
func (u *Uploader) Key(recordingID, name string) string {
	if u.cfg.Prefix == "" {
		return recordingID + "/" + name
	}
	return u.cfg.Prefix + "/" + recordingID + "/" + name
}

// Close stops the Enqueue worker and every Watcher, cancelling uploads in
// flight, and waits for them. Files still queued are not uploaded (it logs
// how many); call Flush first to wait for them.
func (u *Uploader) Close() error {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return nil
	}
	u.closed = true
	left := len(u.queue)
	u.mu.Unlock()
	if left > 0 {
		u.log.Warn("closing with files still queued for upload; they stay on the local disk", "files", left)
	}
	u.cancel()
	u.wg.Wait()
	u.closeIdle()
	return nil
}

func (u *Uploader) closeIdle() {
	if u.transport != nil {
		u.transport.CloseIdleConnections()
	}
}

// Enqueue queues the upload of dir/name as the file name of recording
// recordingID (see Upload). One worker uploads queued files in order; a
// file already waiting in the queue is not queued twice. Failures are
// reported as Upload's are.
func (u *Uploader) Enqueue(recordingID, dir, name string) error {
	if err := checkNames(recordingID, name); err != nil {
		return err
	}
	j := job{recordingID, dir, name}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return ErrClosed
	}
	if !u.pending[j] {
		u.pending[j] = true
		u.queue = append(u.queue, j)
	}
	select {
	case u.wake <- struct{}{}:
	default:
	}
	return nil
}

// Flush waits until every file enqueued before it has been uploaded (or
// has failed), or until ctx ends.
func (u *Uploader) Flush(ctx context.Context) error {
	u.mu.Lock()
	if len(u.queue) == 0 && !u.busy {
		u.mu.Unlock()
		return nil
	}
	idle := u.idle
	u.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-u.ctx.Done():
		return ErrClosed
	}
}

func (u *Uploader) worker() {
	defer u.wg.Done()
	for {
		u.mu.Lock()
		if len(u.queue) == 0 {
			if u.busy {
				u.busy = false
				close(u.idle)
				u.idle = make(chan struct{})
			}
			u.mu.Unlock()
			select {
			case <-u.wake:
				continue
			case <-u.ctx.Done():
				return
			}
		}
		j := u.queue[0]
		u.queue = u.queue[1:]
		delete(u.pending, j)
		u.busy = true
		u.mu.Unlock()
		if u.ctx.Err() != nil {
			return
		}
		_ = u.Upload(u.ctx, j.id, j.dir, j.name) // reported inside
	}
}

// Upload uploads the file localDir/name as <Prefix>/<recordingID>/<name>,
// retrying as Config says. A segment gets the configured retention; the
// manifest (recorder.ManifestName) gets it only when it is sealed. It
// returns nil at once if the object is already there with the same
// SHA-256.
func (u *Uploader) Upload(ctx context.Context, recordingID, localDir, name string) error {
	if err := checkNames(recordingID, name); err != nil {
		return err
	}
	src := source{path: filepath.Join(localDir, name)}
	lock := true
	if name == recorder.ManifestName {
		// The manifest changes while recording: upload the bytes read
		// once, and lock only a sealed one.
		data, err := os.ReadFile(src.path)
		if err != nil {
			return u.fail(recordingID, name, 1, err)
		}
		src = source{data: data}
		lock = manifestSealed(data)
	}
	return u.upload(ctx, recordingID, name, src, lock)
}

// manifestSealed reports whether a manifest's status is final.
func manifestSealed(data []byte) bool {
	var m struct {
		Status recorder.State `json:"status"`
	}
	return json.Unmarshal(data, &m) == nil && m.Status != "" && m.Status != recorder.StateRecording &&
		m.Status != recorder.StatePending
}

// source is a file on disk or bytes in memory.
type source struct {
	path string
	data []byte
}

func (s source) open() (io.ReadCloser, error) {
	if s.path == "" {
		return io.NopCloser(bytes.NewReader(s.data)), nil
	}
	return os.Open(s.path)
}

// digest returns the source's SHA-256 and size.
func (s source) digest() ([32]byte, int64, error) {
	var sum [32]byte
	if s.path == "" {
		return sha256.Sum256(s.data), int64(len(s.data)), nil
	}
	f, err := os.Open(s.path)
	if err != nil {
		return sum, 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return sum, 0, err
	}
	h.Sum(sum[:0])
	return sum, n, nil
}

// permanent marks an error that a retry cannot cure.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

func (u *Uploader) upload(ctx context.Context, id, name string, src source, lock bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if u.ctx != nil {
		stop := context.AfterFunc(u.ctx, cancel)
		defer stop()
	}
	key := u.Key(id, name)
	sum, size, err := src.digest()
	if err != nil {
		return u.fail(id, name, 1, err)
	}
	attempts := 0
	delay := u.cfg.Backoff
	for {
		attempts++
		err = u.attempt(ctx, key, id, name, src, sum, size, lock)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return u.abandon(ctx, id, name, attempts)
		}
		var perm permanent
		if errors.As(err, &perm) || !retryable(err) || attempts > u.cfg.MaxRetries {
			return u.fail(id, name, attempts, err)
		}
		wait := delay + rand.N(delay/4+1)
		u.log.Warn("upload failed; retrying", "key", key, "attempt", attempts, "retry_in", wait, "error", err)
		u.metrics.Retries.Add(1)
		if u.sleep(ctx, wait) != nil {
			return u.abandon(ctx, id, name, attempts)
		}
		delay = min(2*delay, u.cfg.MaxBackoff)
	}
}

// abandon reports an upload given up because its context ended or the
// Uploader closed: not a failure of the store, so not counted as one.
func (u *Uploader) abandon(ctx context.Context, id, name string, attempts int) error {
	err := ctx.Err()
	if u.ctx != nil && u.ctx.Err() != nil {
		err = ErrClosed
	}
	key := u.Key(id, name)
	u.log.Warn("upload abandoned", "key", key, "attempts", attempts, "error", err)
	return &UploadError{RecordingID: id, Name: name, Key: key, Attempts: attempts, Err: err}
}

// fail reports an upload that failed for good.
func (u *Uploader) fail(id, name string, attempts int, err error) error {
	var perm permanent
	if errors.As(err, &perm) {
		err = perm.err
	}
	ue := &UploadError{RecordingID: id, Name: name, Key: u.Key(id, name), Attempts: attempts, Err: err}
	u.metrics.Failures.Add(1)
	u.log.Error("upload failed", "recording", id, "file", name, "key", ue.Key, "attempts", attempts, "error", err)
	if u.cfg.OnFailure != nil {
		u.cfg.OnFailure(id, name, ue)
	}
	return ue
}

// sleep waits d on the clock, or until ctx ends.
func (u *Uploader) sleep(ctx context.Context, d time.Duration) error {
	ch := make(chan struct{})
	t := u.cfg.Clock.AfterFunc(d, func() { close(ch) })
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		t.Stop()
		return ctx.Err()
	}
}

// attempt makes one try at uploading src.
func (u *Uploader) attempt(ctx context.Context, key, id, name string, src source, sum [32]byte, size int64, lock bool) error {
	select {
	case u.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-u.sem }()

	hexSum := hex.EncodeToString(sum[:])
	if info, err := u.client.StatObject(ctx, u.cfg.Bucket, key, minio.StatObjectOptions{}); err == nil {
		if strings.EqualFold(metaSHA256(info), hexSum) && info.Size == size {
			u.metrics.Skipped.Add(1)
			u.log.Debug("already uploaded", "key", key)
			return nil
		}
	} else if r := errResponse(err); r.StatusCode != http.StatusNotFound && r.Code != "NoSuchKey" {
		return err
	}

	r, err := src.open()
	if err != nil {
		return permanent{err}
	}
	defer r.Close()
	opts := minio.PutObjectOptions{
		ContentType: contentType(name),
		UserMetadata: map[string]string{
			"sha256":                hexSum,
			"recording":             id,
			"x-amz-checksum-sha256": base64.StdEncoding.EncodeToString(sum[:]),
		},
		DisableMultipart: size <= maxSinglePut,
	}
	if size > maxSinglePut {
		delete(opts.UserMetadata, "x-amz-checksum-sha256")
	}
	locked := false
	if lock && u.objLock && u.cfg.Retention > 0 {
		opts.Mode = minio.Compliance
		opts.RetainUntilDate = time.Now().Add(u.cfg.Retention).UTC().Truncate(time.Second)
		locked = true
	}
	info, err := u.client.PutObject(ctx, u.cfg.Bucket, key, r, size, opts)
	if err != nil {
		return err
	}
	if info.ChecksumSHA256 != "" && info.ChecksumSHA256 != opts.UserMetadata["x-amz-checksum-sha256"] && size <= maxSinglePut {
		return fmt.Errorf("server stored SHA-256 %s, sent %s", info.ChecksumSHA256, opts.UserMetadata["x-amz-checksum-sha256"])
	}
	u.metrics.Uploads.Add(1)
	u.metrics.Bytes.Add(uint64(size))
	if locked {
		u.metrics.Locked.Add(1)
	}
	u.log.Debug("uploaded", "key", key, "bytes", size, "sha256", hexSum, "locked", locked)
	return nil
}

// retryable reports whether another attempt may succeed after err.
func retryable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	r := errResponse(err)
	if r.StatusCode == 0 && r.Code == "" {
		var ne net.Error
		var oe *net.OpError
		// Not an S3 answer: the network, or a connection cut short.
		return errors.As(err, &ne) || errors.As(err, &oe) || errors.Is(err, io.ErrUnexpectedEOF) ||
			errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed)
	}
	switch r.Code {
	case "RequestTimeout", "SlowDown", "InternalError", "ServiceUnavailable", "BadDigest",
		"XAmzContentSHA256Mismatch", "RequestTimeTooSkewed", "OperationAborted":
		return true
	case "NoSuchBucket", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidBucketName":
		return false
	}
	return r.StatusCode >= 500 || r.StatusCode == http.StatusTooManyRequests || r.StatusCode == http.StatusRequestTimeout
}

func errResponse(err error) minio.ErrorResponse {
	var r minio.ErrorResponse
	if errors.As(err, &r) {
		return r
	}
	var rp *minio.ErrorResponse
	if errors.As(err, &rp) && rp != nil {
		return *rp
	}
	return minio.ErrorResponse{}
}

// metaSHA256 returns an object's x-amz-meta-sha256.
func metaSHA256(info minio.ObjectInfo) string {
	for k, v := range info.UserMetadata {
		if strings.EqualFold(k, "sha256") {
			return v
		}
	}
	return info.Metadata.Get("X-Amz-Meta-Sha256")
}

func contentType(name string) string {
	switch strings.ToLower(path.Ext(name)) {
	case ".wav":
		return "audio/wav"
	case ".json":
		return "application/json"
	}
	return "application/octet-stream"
}

// checkNames refuses ids and names that are not plain file names.
func checkNames(names ...string) error {
	for _, n := range names {
		if n == "" || n == "." || n == ".." || strings.ContainsAny(n, "/\\\x00") {
			return fmt.Errorf("%w: %q", ErrName, n)
		}
	}
	return nil
}

// Object is a stored file of a recording.
type Object struct {
	// Name is the file name within the recording; Key the object key.
	Name, Key    string
	Size         int64
	ETag         string
	LastModified time.Time
	// Set by Stat only:
	ContentType string
	SHA256      string // x-amz-meta-sha256, hex
	// ChecksumSHA256 is the server's own x-amz-checksum-sha256 (base64),
	// when it keeps one.
	ChecksumSHA256 string
	// RetentionMode ("COMPLIANCE", "GOVERNANCE" or "") and RetainUntil
	// as the server reports them in its HEAD answer.
	RetentionMode string
	RetainUntil   time.Time
}

// List returns the stored files of a recording, in key order.
func (u *Uploader) List(ctx context.Context, recordingID string) ([]Object, error) {
	if err := checkNames(recordingID); err != nil {
		return nil, err
	}
	prefix := u.Key(recordingID, "")
	var out []Object
	for info := range u.client.ListObjects(ctx, u.cfg.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if info.Err != nil {
			return nil, fmt.Errorf("s3store: list %s: %w", prefix, info.Err)
		}
		out = append(out, Object{Name: strings.TrimPrefix(info.Key, prefix), Key: info.Key, Size: info.Size,
			ETag: info.ETag, LastModified: info.LastModified})
	}
	return out, nil
}

// Stat returns a stored file's attributes.
func (u *Uploader) Stat(ctx context.Context, recordingID, name string) (Object, error) {
	if err := checkNames(recordingID, name); err != nil {
		return Object{}, err
	}
	key := u.Key(recordingID, name)
	info, err := u.client.StatObject(ctx, u.cfg.Bucket, key, minio.StatObjectOptions{Checksum: true})
	if err != nil {
		return Object{}, fmt.Errorf("s3store: stat %s: %w", key, err)
	}
	o := Object{Name: name, Key: key, Size: info.Size, ETag: info.ETag, LastModified: info.LastModified,
		ContentType: info.ContentType, SHA256: metaSHA256(info), ChecksumSHA256: info.ChecksumSHA256,
		RetentionMode: info.Metadata.Get("X-Amz-Object-Lock-Mode")}
	if s := info.Metadata.Get("X-Amz-Object-Lock-Retain-Until-Date"); s != "" {
		o.RetainUntil, _ = time.Parse(time.RFC3339, s)
	}
	return o, nil
}

// Fetch writes a stored file to w and checks it against its
// x-amz-meta-sha256: on ErrChecksum w has received bytes that are not the
// recording's, and the caller must discard them. It returns the number of
// bytes written.
func (u *Uploader) Fetch(ctx context.Context, recordingID, name string, w io.Writer) (int64, error) {
	if err := checkNames(recordingID, name); err != nil {
		return 0, err
	}
	key := u.Key(recordingID, name)
	obj, err := u.client.GetObject(ctx, u.cfg.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return 0, fmt.Errorf("s3store: fetch %s: %w", key, err)
	}
	defer obj.Close()
	info, err := obj.Stat()
	if err != nil {
		return 0, fmt.Errorf("s3store: fetch %s: %w", key, err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), obj)
	if err != nil {
		return n, fmt.Errorf("s3store: fetch %s: %w", key, err)
	}
	want := metaSHA256(info)
	if got := hex.EncodeToString(h.Sum(nil)); want != "" && !strings.EqualFold(got, want) {
		return n, fmt.Errorf("%w: %s: read %s, stored as %s", ErrChecksum, key, got, want)
	}
	if want == "" {
		u.log.Warn("fetched an object without x-amz-meta-sha256: not checked", "key", key)
	}
	return n, nil
}
