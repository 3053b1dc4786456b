// Package s3store copies recordings to an S3-compatible object store
// (AWS S3, MinIO, versitygw, ...) with github.com/minio/minio-go/v7, and
// reads them back.
//
// # Objects
//
// A recording's file Dir/<id>/<name> (see package recorder) becomes the
// object <Prefix>/<id>/<name> of Config.Bucket, with
//
//	Content-Type            audio/wav for .wav, application/json for .json
//	x-amz-meta-sha256       SHA-256 of the file, hex (as in the manifest)
//	x-amz-checksum-sha256   the same digest, base64: the server checks it
//	x-amz-meta-recording    the recording id
//
// and, when Config.Retention > 0 and the bucket has Object Lock enabled, a
// COMPLIANCE retention until the upload time + Retention. Segments always
// get it; the manifest only once it is sealed (status other than
// "recording"), because it is rewritten while the recording runs and a
// locked object cannot be overwritten. When Retention > 0 but the bucket has
// no Object Lock, New logs a warning and objects are uploaded without
// retention (Uploader.ObjectLock reports which).
//
// An upload first asks the server for the object (HEAD): an object that is
// already there with the same SHA-256 is not sent again, so an upload is
// idempotent and a restarted process may simply upload everything again.
//
// # Retries and failures
//
// Each upload is tried up to 1+Config.MaxRetries times with exponential
// back-off (Config.Backoff, doubling, capped at Config.MaxBackoff, with a
// little jitter), waiting on Config.Clock and giving up early when its
// context ends or the Uploader is closed. Errors that another attempt cannot
// cure (no such bucket, access denied, a local file that cannot be read) are
// not retried. A failure after the retries is loud: the *UploadError is
// returned, logged at error level, counted in Metrics.Failures and passed to
// Config.OnFailure. The local files are left as they are.
//
// # Watching a recording
//
// Watch follows one recording directory while the recorder writes it and
// uploads each segment once it is closed, and the manifest each time it
// changes (see Watcher). Enqueue uploads single files in the background, in
// the order they were enqueued.
package s3store
