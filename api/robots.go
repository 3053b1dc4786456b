package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"
)

// ErrNotFound is returned for a stream or call that does not exist.
var ErrNotFound = errors.New("not found")

// StreamRequest starts a live stream of a room's mix.
type StreamRequest struct {
	// Target is where to push: http(s)://user:pass@host/mount (Icecast),
	// rtmp(s)://host/app/key, or a WHIP endpoint.
	Target string `json:"target"`
	// Kind is "icecast", "rtmp" or "whip" when the URL leaves it open.
	Kind string `json:"kind,omitempty"`
	Name string `json:"name,omitempty"`
}

// Streams is what the API needs of the live-stream robots. Its results are
// written as JSON as they are.
type Streams interface {
	Start(room string, req StreamRequest) (any, error)
	List(room string) any
	Stop(room, id string) error
}

// DialRequest places a call from a room to a number.
type DialRequest struct {
	Trunk       string `json:"trunk"`
	Number      string `json:"number"`
	CallerID    string `json:"caller_id,omitempty"`
	DisplayName string `json:"display_name,omitempty"`
	// Digits are sent after the answer (0-9 * # A-D, w a 500 ms pause):
	// the conference number and PIN of another system, for a connector.
	Digits    string `json:"digits,omitempty"`
	DigitMode string `json:"digit_mode,omitempty"` // rfc4733, inband or info
	// RingTimeout is how long to let it ring ("45s"; default 60 s).
	RingTimeout string `json:"ring_timeout,omitempty"`
}

// Dialer places and ends outbound calls. Dial returns once the call is
// placed (wait false) or once it is answered or has failed (wait true).
type Dialer interface {
	Dial(room string, req DialRequest, wait bool) (any, error)
	List(room string) any
	Hangup(room, id string) error
}

func (h *handler) robots(mux *http.ServeMux) {
	if s := h.cfg.Streams; s != nil {
		mux.HandleFunc("POST /api/rooms/{room}/streams", func(w http.ResponseWriter, r *http.Request) {
			var req StreamRequest
			if !readJSON(w, r, &req) {
				return
			}
			if req.Target == "" {
				writeError(w, http.StatusBadRequest, "target is required")
				return
			}
			out, err := s.Start(r.PathValue("room"), req)
			if err != nil {
				writeRobotError(w, err)
				return
			}
			writeJSON(w, http.StatusCreated, out)
		})
		mux.HandleFunc("GET /api/rooms/{room}/streams", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, s.List(r.PathValue("room")))
		})
		mux.HandleFunc("DELETE /api/rooms/{room}/streams/{id}", func(w http.ResponseWriter, r *http.Request) {
			if err := s.Stop(r.PathValue("room"), r.PathValue("id")); err != nil {
				writeRobotError(w, err)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		})
	}
	if d := h.cfg.Dialer; d != nil {
		mux.HandleFunc("POST /api/rooms/{room}/dial", func(w http.ResponseWriter, r *http.Request) {
			var req DialRequest
			if !readJSON(w, r, &req) {
				return
			}
			if req.Number == "" {
				writeError(w, http.StatusBadRequest, "number is required")
				return
			}
			if req.RingTimeout != "" {
				if _, err := time.ParseDuration(req.RingTimeout); err != nil {
					writeError(w, http.StatusBadRequest, "ring_timeout is a duration such as 45s")
					return
				}
			}
			wait := r.URL.Query().Get("wait") == "true"
			out, err := d.Dial(r.PathValue("room"), req, wait)
			if err != nil {
				writeRobotError(w, err)
				return
			}
			code := http.StatusAccepted
			if wait {
				code = http.StatusOK
			}
			writeJSON(w, code, out)
		})
		mux.HandleFunc("GET /api/rooms/{room}/calls", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, d.List(r.PathValue("room")))
		})
		mux.HandleFunc("DELETE /api/rooms/{room}/calls/{id}", func(w http.ResponseWriter, r *http.Request) {
			if err := d.Hangup(r.PathValue("room"), r.PathValue("id")); err != nil {
				writeRobotError(w, err)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		})
	}
}

// readJSON decodes a request body, answering 400 when it is not JSON.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "the body must be JSON: "+err.Error())
		return false
	}
	return true
}

func writeRobotError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrInvalidInput):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, ErrNoRoom), errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	default:
		writeError(w, http.StatusBadGateway, err.Error())
	}
}
