package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/setbridge/setbridge/api"
	"github.com/setbridge/setbridge/config"
	"github.com/setbridge/setbridge/mixerengine"
	"github.com/setbridge/setbridge/recorder"
	"github.com/setbridge/setbridge/recorder/index"
	"github.com/setbridge/setbridge/recorder/s3store"
)

// recordings runs the recordings of this process: one recorder per
// recorded room, fed by the room's tap; finished recordings are in the
// index.
type recordings struct {
	cfg     config.Recordings
	rate    int
	engine  *mixerengine.Engine
	key     ed25519.PrivateKey
	idx     *index.Index
	log     *slog.Logger
	metrics *recorder.Metrics
	s3      *s3store.Uploader // nil without object storage

	ctx    context.Context // ends at Close: background uploads stop
	cancel context.CancelFunc

	mu     sync.Mutex
	active map[string]*activeRecording // by id; guarded by mu
	byRoom map[string]*activeRecording // guarded by mu
	pins   map[string]int              // PIN entries in progress per room; guarded by mu
	tracks map[string]bool             // rooms with record_tracks; set before serving
	// onState, if set before serving, is told when a room's recording
	// starts and ends.
	onState func(room string, active bool, id string)
	wg      sync.WaitGroup
}

type activeRecording struct {
	rec     *recorder.Recorder
	room    string
	stopTap func()
	indexed chan struct{} // closed once the finished recording is in the index
}

// openRecordings prepares the recordings directory, the signing key (made
// on first use) and the index, and seals recordings a crash interrupted.
func openRecordings(ctx context.Context, cfg config.Recordings, rate int, engine *mixerengine.Engine, log *slog.Logger) (*recordings, error) {
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("recordings directory: %w", err)
	}
	keyFile := cfg.KeyFile
	if keyFile == "" {
		keyFile = filepath.Join(cfg.Dir, "signing.key")
		if _, err := os.Stat(keyFile); errors.Is(err, os.ErrNotExist) {
			if _, err := recorder.GenerateKey(keyFile); err != nil {
				return nil, err
			}
			log.Info("made a manifest signing key", "file", keyFile, "public_key", keyFile+".pub")
		}
	}
	key, err := recorder.LoadPrivateKey(keyFile)
	if err != nil {
		return nil, err
	}
	idx, err := index.Open(ctx, filepath.Join(cfg.Dir, "index.db"))
	if err != nil {
		return nil, err
	}
	var up *s3store.Uploader
	if cfg.S3.Endpoint != "" {
		c := cfg.S3
		if up, err = s3store.New(ctx, s3store.Config{Endpoint: c.Endpoint, Bucket: c.Bucket, AccessKey: c.AccessKey, SecretKey: c.SecretKey,
			UseSSL: c.UseSSL, Region: c.Region, Prefix: c.Prefix, Retention: c.Retention, Logger: log}); err != nil {
			idx.Close()
			return nil, fmt.Errorf("object store: %w", err)
		}
	}
	rs := &recordings{cfg: cfg, rate: rate, engine: engine, key: key, idx: idx, log: log, metrics: &recorder.Metrics{}, s3: up,
		active: map[string]*activeRecording{}, byRoom: map[string]*activeRecording{}, pins: map[string]int{},
		tracks: map[string]bool{}}
	recovered, err := recorder.Recover(cfg.Dir, recorder.RecoverConfig{Signer: key, Logger: log, Metrics: rs.metrics})
	if err != nil {
		log.Error("recovering recordings", "error", err)
	}
	for _, m := range recovered {
		if err := idx.Put(ctx, m.Summary(filepath.Join(cfg.Dir, m.ID))); err != nil {
			log.Error("indexing a recovered recording", "recording", m.ID, "error", err)
		}
	}
	rs.ctx, rs.cancel = context.WithCancel(context.Background())
	if up != nil {
		// Every finished recording is synced once more in the background:
		// recovered ones, and any whose upload failed while the store was
		// down. Files already stored cost one HEAD each.
		rs.wg.Add(1)
		go func() {
			defer rs.wg.Done()
			rs.syncAll()
		}()
	}
	return rs, nil
}

// syncAll uploads whatever of the finished recordings the store lacks.
func (rs *recordings) syncAll() {
	done, err := rs.idx.List(rs.ctx, index.Filter{})
	if err != nil {
		rs.log.Error("listing recordings to upload", "error", err)
		return
	}
	for _, s := range done {
		if rs.ctx.Err() != nil {
			return
		}
		if err := rs.s3.Sync(rs.ctx, s.ID, filepath.Join(rs.cfg.Dir, s.ID)); err != nil {
			rs.log.Error("uploading a finished recording", "recording", s.ID, "error", err)
		}
	}
}

// Start begins recording room's mix from its next tick, and with tracks
// one track per participant.
func (rs *recordings) Start(room string, o api.StartOptions) (api.Recording, error) {
	tracks := rs.tracks[room]
	if o.Tracks != nil {
		tracks = *o.Tracks
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if _, ok := rs.byRoom[room]; ok {
		return api.Recording{}, api.ErrRecordingBusy
	}
	id, err := recorder.NewID(time.Now())
	if err != nil {
		return api.Recording{}, err
	}
	rec, err := recorder.New(recorder.Config{Dir: rs.cfg.Dir, Room: recorder.RoomID(room), ID: id, Rate: rs.rate,
		SegmentDuration: rs.cfg.Segment, Tracks: tracks, Logger: rs.log, Signer: rs.key, Metrics: rs.metrics,
		OnFailure: func(id string, err error) {
			rs.log.Error("recording failed", "recording", id, "room", room, "error", err)
		}})
	if err != nil {
		return api.Recording{}, err
	}
	for range rs.pins[room] {
		rec.PINEntry(true) // someone is entering a PIN right now
	}
	if err := rec.Start(0); err != nil {
		return api.Recording{}, err
	}
	a := &activeRecording{rec: rec, room: room, indexed: make(chan struct{})}
	var watch *s3store.Watcher
	if rs.s3 != nil {
		if watch, err = rs.s3.Watch(id, rec.Dir(), rec.Done()); err != nil {
			rs.log.Error("object store upload not started", "recording", id, "error", err)
		}
	}
	stopMix := rs.engine.Tap(mixerengine.RoomID(room), rec.Frame)
	a.stopTap = stopMix
	if tracks {
		// The tracks come after the mix in each tick, as TrackFrame wants.
		stopTracks := rs.engine.TrackTap(mixerengine.RoomID(room), func(tick uint64, p mixerengine.ParticipantID, pcm []int16) {
			rec.TrackFrame(tick, recorder.ParticipantID(p), pcm)
		})
		a.stopTap = func() { stopTracks(); stopMix() }
	}
	rs.active[id], rs.byRoom[room] = a, a
	if rs.onState != nil {
		rs.onState(room, true, id)
	}
	rs.wg.Add(1)
	go func() {
		defer rs.wg.Done()
		<-rec.Done()
		a.stopTap()
		if rs.onState != nil {
			rs.onState(room, false, id)
		}
		rs.index(id)
		rs.mu.Lock()
		delete(rs.active, id)
		delete(rs.byRoom, room)
		rs.mu.Unlock()
		close(a.indexed)
		if watch != nil {
			// The final pass uploads the sealed manifest and any last
			// segment; what it cannot store is synced at the next start.
			ctx, cancel := context.WithTimeout(rs.ctx, 2*time.Minute)
			if err := watch.Wait(ctx); err != nil {
				rs.log.Error("object store upload incomplete", "recording", id, "error", err)
			}
			cancel()
		}
	}()
	return rs.view(rec.Status()), nil
}

// index records a finished recording in the index.
func (rs *recordings) index(id string) {
	dir := filepath.Join(rs.cfg.Dir, id)
	m, _, err := recorder.ReadManifest(dir)
	if err != nil {
		rs.log.Error("reading a finished recording's manifest", "recording", id, "error", err)
		return
	}
	if err := rs.idx.Put(context.Background(), m.Summary(dir)); err != nil {
		rs.log.Error("indexing a recording", "recording", id, "error", err)
	}
}

func (rs *recordings) get(id string) (*activeRecording, error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	a, ok := rs.active[id]
	if !ok {
		return nil, api.ErrNoRecording
	}
	return a, nil
}

func (rs *recordings) Stop(id string) error {
	a, err := rs.get(id)
	if err != nil {
		return err
	}
	if err := a.rec.Stop(0); err != nil {
		return err
	}
	select {
	case <-a.indexed:
		return nil
	case <-time.After(10 * time.Second):
		return errors.New("the recording did not finish within 10 s")
	}
}

func (rs *recordings) Pause(id string) error {
	a, err := rs.get(id)
	if err != nil {
		return err
	}
	return a.rec.Pause()
}

func (rs *recordings) Resume(id string) error {
	a, err := rs.get(id)
	if err != nil {
		return err
	}
	return a.rec.Resume()
}

// PINEntry pauses the room's recording while someone enters a PIN; it
// counts entries in progress so a recording started meanwhile pauses too.
func (rs *recordings) PINEntry(room string, active bool) {
	rs.mu.Lock()
	if active {
		rs.pins[room]++
	} else if rs.pins[room] > 0 {
		if rs.pins[room]--; rs.pins[room] == 0 {
			delete(rs.pins, room)
		}
	}
	a := rs.byRoom[room]
	rs.mu.Unlock()
	if a != nil {
		a.rec.PINEntry(active)
	}
}

// Talkers adds the mixer's talker changes to the room's recording.
func (rs *recordings) Talkers(room string, tick uint64, talkers []mixerengine.ParticipantID) {
	rs.mu.Lock()
	a := rs.byRoom[room]
	rs.mu.Unlock()
	if a == nil {
		return
	}
	ids := make([]recorder.ParticipantID, len(talkers))
	for i, t := range talkers {
		ids[i] = recorder.ParticipantID(t)
	}
	a.rec.Talkers(tick, ids)
}

// Recording reports whether room is being recorded.
func (rs *recordings) Recording(room string) bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	_, ok := rs.byRoom[room]
	return ok
}

// Toggle starts room's recording, or stops the one in progress.
func (rs *recordings) Toggle(room string) (bool, error) {
	rs.mu.Lock()
	a := rs.byRoom[room]
	rs.mu.Unlock()
	if a != nil {
		return false, rs.Stop(a.rec.ID())
	}
	_, err := rs.Start(room, api.StartOptions{})
	return err == nil, err
}

// RoomEmpty ends the room's recording when its last participant leaves.
func (rs *recordings) RoomEmpty(room string) {
	rs.mu.Lock()
	a := rs.byRoom[room]
	rs.mu.Unlock()
	if a != nil {
		_ = a.rec.Stop(0)
	}
}

func (rs *recordings) view(st recorder.Status) api.Recording {
	return api.Recording{ID: st.ID, Room: string(st.Room), Status: string(st.State), Paused: st.Paused,
		StartTick: st.StartTick, StopTick: st.StopTick, Frames: st.Frames, Error: errString(st.Err)}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func summaryView(s recorder.Summary) api.Recording {
	r := api.Recording{ID: s.ID, Room: string(s.Room), Status: string(s.Status), Error: s.Error,
		StartTick: s.StartTick, StopTick: s.StopTick, Frames: s.Frames}
	if !s.StartedAt.IsZero() {
		t := s.StartedAt
		r.StartedAt = &t
	}
	if !s.StoppedAt.IsZero() {
		t := s.StoppedAt
		r.StoppedAt = &t
	}
	return r
}

func (rs *recordings) List() ([]api.Recording, error) {
	done, err := rs.idx.List(context.Background(), index.Filter{})
	if err != nil {
		return nil, err
	}
	out := make([]api.Recording, 0, len(done))
	rs.mu.Lock()
	for _, a := range rs.active {
		out = append(out, rs.view(a.rec.Status()))
	}
	rs.mu.Unlock()
	for _, s := range done {
		out = append(out, summaryView(s))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (rs *recordings) Get(id string) (api.Recording, error) {
	var r api.Recording
	if a, err := rs.get(id); err == nil {
		r = rs.view(a.rec.Status())
	} else {
		s, err := rs.idx.Get(context.Background(), id)
		if err != nil {
			return api.Recording{}, api.ErrNoRecording
		}
		r = summaryView(s)
	}
	dir := filepath.Join(rs.cfg.Dir, id)
	if _, raw, err := recorder.ReadManifest(dir); err == nil {
		r.Manifest = json.RawMessage(raw)
	}
	if ents, err := os.ReadDir(dir); err == nil {
		for _, e := range ents {
			if !e.IsDir() {
				r.Files = append(r.Files, e.Name())
			}
		}
	}
	return r, nil
}

func (rs *recordings) Dir(id string) (string, error) {
	if _, err := rs.Get(id); err != nil {
		return "", err
	}
	return filepath.Join(rs.cfg.Dir, id), nil
}

// Close stops every recording in progress at the next tick, waits for
// them to be sealed (and, for up to 20 s, uploaded), and closes the index.
func (rs *recordings) Close() {
	rs.mu.Lock()
	for _, a := range rs.active {
		_ = a.rec.Stop(0)
	}
	rs.mu.Unlock()
	t := time.AfterFunc(20*time.Second, rs.cancel)
	rs.wg.Wait()
	t.Stop()
	rs.cancel()
	if rs.s3 != nil {
		rs.s3.Close()
	}
	rs.idx.Close()
}
