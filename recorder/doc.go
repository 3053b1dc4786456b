// Package recorder makes exact, verifiable recordings of a room: the record
// robot of the design ("Recording that compliance can trust").
//
// A Recorder records one room once. It is fed, on the room's tick
// goroutine, with the common mix of every tick (Frame, to be passed to
// mixerengine.Engine.Tap) and optionally with each participant's frame
// (TrackFrame). Frame never blocks on I/O and never allocates: it copies
// the frame into a ring of preallocated frames that a writer goroutine
// drains into WAV segments. If the ring overflows the recording fails; it
// never drops a frame silently.
//
// # Exactness
//
// Start and stop are ticks. A stopped recording holds exactly the frames of
// ticks [start, stop): (stop-start) × frame samples, tick for tick. A tick
// the recorder was not given (a gap in the tick numbers) is written as
// silence; a paused tick (Pause, or PINEntry while someone enters a PIN)
// is written as silence and listed in the manifest's paused ranges.
//
// # Files
//
// A recording lives in Config.Dir/<id>/:
//
//	manifest.json               see Manifest; rewritten atomically
//	seg-000001.wav ...          the mix, 16-bit PCM mono, Config.SegmentDuration each
//	track-001-seg-000001.wav    per-participant tracks (Config.Tracks)
//
// Every segment but the last of a stream is exactly SegmentFrames frames
// long; each is fsynced when it closes, and its SHA-256 (of the whole file,
// as sha256sum prints it) goes into the manifest together with a chain
// hash
//
//	chain[0]   = SHA-256(id || 0x00 || stream)            stream is "mix" or the track's prefix
//	chain[i+1] = SHA-256(chain[i] || sha256[i] || name[i]) raw 32-byte digests, name in UTF-8
//
// so that a segment removed, reordered, renamed or altered is detected even
// without the signature. When a recording ends the manifest is signed with
// Ed25519 over its canonical bytes (see CanonicalManifest).
//
// # Crash safety
//
// The manifest is rewritten (temporary file, fsync, rename, fsync of the
// directory) when the recording starts, when a segment closes and when it
// ends. After a crash, Recover finds recordings still marked "recording",
// repairs the header of the last segment (wav.FixHeader), cuts it to whole
// frames, hashes it, and seals the manifest as "interrupted" with the
// frames that reached the disk.
//
// # Keys
//
// GenerateKey writes an Ed25519 private key as PEM ("PRIVATE KEY", PKCS #8)
// and its public key next to it ("PUBLIC KEY", PKIX, path + ".pub").
// LoadPrivateKey and LoadPublicKey read them back; ParsePublicKey also
// accepts the raw base64 form the manifest's public_key field uses.
package recorder
