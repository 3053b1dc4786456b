package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Errors of the recordings service.
var (
	ErrNoRecording   = errors.New("no such recording")
	ErrRecordingBusy = errors.New("the room is being recorded already")
)

// Recording is a recording as the API shows it.
type Recording struct {
	ID        string          `json:"id"`
	Room      string          `json:"room"`
	Status    string          `json:"status"`
	Error     string          `json:"error,omitempty"`
	Paused    bool            `json:"paused"`
	StartTick uint64          `json:"start_tick,omitempty"`
	StopTick  uint64          `json:"stop_tick,omitempty"`
	Frames    uint64          `json:"frames"`
	StartedAt *time.Time      `json:"started_at,omitempty"`
	StoppedAt *time.Time      `json:"stopped_at,omitempty"`
	Files     []string        `json:"files,omitempty"`
	Manifest  json.RawMessage `json:"manifest,omitempty"`
}

// StartOptions are the choices of a new recording; the zero value takes
// the room's configuration.
type StartOptions struct {
	// Tracks records one track per participant next to the mix; nil takes
	// the room's record_tracks.
	Tracks *bool `json:"tracks,omitempty"`
}

// Recordings is what the API needs of the recorder.
type Recordings interface {
	Start(room string, o StartOptions) (Recording, error)
	Stop(id string) error
	Pause(id string) error
	Resume(id string) error
	List() ([]Recording, error)
	// Get returns a recording with its manifest and file names.
	Get(id string) (Recording, error)
	// Dir returns the directory that holds a recording's files.
	Dir(id string) (string, error)
}

func (h *handler) recordings(mux *http.ServeMux) {
	rs := h.cfg.Recordings
	if rs == nil {
		return
	}
	mux.HandleFunc("POST /api/rooms/{room}/recordings", func(w http.ResponseWriter, r *http.Request) {
		var o StartOptions
		if r.ContentLength != 0 {
			dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&o); err != nil && !errors.Is(err, io.EOF) {
				writeError(w, http.StatusBadRequest, "the body must be JSON like {\"tracks\": true}: "+err.Error())
				return
			}
		}
		rec, err := rs.Start(r.PathValue("room"), o)
		if err != nil {
			writeRecordingError(w, err)
			return
		}
		w.Header().Set("Location", "/api/recordings/"+rec.ID)
		writeJSON(w, http.StatusCreated, rec)
	})
	for verb, f := range map[string]func(string) error{"stop": rs.Stop, "pause": rs.Pause, "resume": rs.Resume} {
		mux.HandleFunc("POST /api/recordings/{id}/"+verb, func(w http.ResponseWriter, r *http.Request) {
			if err := f(r.PathValue("id")); err != nil {
				writeRecordingError(w, err)
				return
			}
			rec, err := rs.Get(r.PathValue("id"))
			if err != nil {
				writeRecordingError(w, err)
				return
			}
			writeJSON(w, http.StatusOK, rec)
		})
	}
	mux.HandleFunc("GET /api/recordings", func(w http.ResponseWriter, r *http.Request) {
		list, err := rs.List()
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"recordings": list})
	})
	mux.HandleFunc("GET /api/recordings/{id}", func(w http.ResponseWriter, r *http.Request) {
		rec, err := rs.Get(r.PathValue("id"))
		if err != nil {
			writeRecordingError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, rec)
	})
	mux.HandleFunc("GET /api/recordings/{id}/files/{name}", func(w http.ResponseWriter, r *http.Request) {
		dir, err := rs.Dir(r.PathValue("id"))
		if err != nil {
			writeRecordingError(w, err)
			return
		}
		name := r.PathValue("name")
		if name != filepath.Base(name) || strings.HasPrefix(name, ".") {
			writeError(w, http.StatusBadRequest, "bad file name")
			return
		}
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			writeError(w, http.StatusNotFound, "no such file")
			return
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil || st.IsDir() {
			writeError(w, http.StatusNotFound, "no such file")
			return
		}
		// ServeContent answers Range requests.
		http.ServeContent(w, r, name, st.ModTime(), f)
	})
}

func writeRecordingError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrNoRecording):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, ErrRecordingBusy):
		writeError(w, http.StatusConflict, err.Error())
	default:
		writeError(w, http.StatusConflict, err.Error())
	}
}
