package webrtc

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
)

// maxBody bounds SDP and sdpfrag bodies.
const maxBody = 64 << 10

func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func hasType(r *http.Request, want string) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == want
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeError(w, http.StatusBadRequest, "cannot read body: "+err.Error())
		return nil, false
	}
	return b, true
}

// serveOffer answers POST /whip/{room} and /whep/{room}.
func (e *Edge) serveOffer(w http.ResponseWriter, r *http.Request, kind string) {
	room := r.PathValue("room")
	who, err := e.auth(r, room, kind == kindWHIP)
	switch {
	case errors.Is(err, ErrForbidden):
		writeError(w, http.StatusForbidden, err.Error())
		return
	case err != nil:
		writeError(w, http.StatusUnauthorized, err.Error())
		return
	}
	if who.Kind == "" {
		who.Kind = "browser"
	}
	if !hasType(r, "application/sdp") {
		writeError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/sdp")
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	codec, err := chooseCodec(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s, answer, err := e.newSession(r.Context(), kind, room, who, string(body), codec)
	switch {
	case errors.Is(err, ErrBadOffer):
		writeError(w, http.StatusBadRequest, err.Error())
		return
	case errors.Is(err, ErrClosed):
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	case err != nil:
		e.log.Warn("session refused", "room", room, "kind", kind, "error", err)
		writeError(w, http.StatusServiceUnavailable, "cannot start session")
		return
	}
	h := w.Header()
	h.Set("Location", "/"+kind+"/"+url.PathEscape(room)+"/"+s.id)
	h.Set("ETag", s.etag)
	h.Set("Setbridge-Participant", s.member.ID())
	h.Set("Content-Type", "application/sdp")
	for _, srv := range e.cfg.ICEServers {
		for _, u := range srv.URLs {
			h.Add("Link", linkHeader(u, srv))
		}
	}
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, answer)
}

// servePatch answers PATCH {Location}: trickled candidates (204) or an ICE
// restart (200 with our sdpfrag).
func (e *Edge) servePatch(w http.ResponseWriter, r *http.Request, kind string) {
	s := e.lookup(kind, r.PathValue("room"), r.PathValue("session"))
	if s == nil {
		writeError(w, http.StatusNotFound, "no such session")
		return
	}
	if !hasType(r, "application/trickle-ice-sdpfrag") {
		writeError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/trickle-ice-sdpfrag")
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	f, err := parseFrag(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		writeError(w, http.StatusNotFound, "no such session")
		return
	}
	if m := r.Header.Get("If-Match"); m != "" && m != "*" && m != s.etag {
		writeError(w, http.StatusPreconditionFailed, "ETag does not match")
		return
	}
	oldUfrag, oldPwd := iceCredentials(s.remoteSDP)
	if f.ufrag == "" || (f.ufrag == oldUfrag && f.pwd == oldPwd) {
		s.addCandidates(f)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	frag, etag, err := s.restartICE(r.Context(), f)
	if err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, ErrBadOffer) {
			code = http.StatusBadRequest
		}
		writeError(w, code, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/trickle-ice-sdpfrag")
	w.Header().Set("ETag", etag)
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, frag)
}

// serveDelete answers DELETE {Location}: the session leaves its room.
func (e *Edge) serveDelete(w http.ResponseWriter, r *http.Request, kind string) {
	s := e.lookup(kind, r.PathValue("room"), r.PathValue("session"))
	if s == nil {
		writeError(w, http.StatusNotFound, "no such session")
		return
	}
	e.end(s, "deleted")
	w.WriteHeader(http.StatusOK)
}

// serveMute answers POST {Location}/mute.
func (e *Edge) serveMute(w http.ResponseWriter, r *http.Request, kind string) {
	s := e.lookup(kind, r.PathValue("room"), r.PathValue("session"))
	if s == nil {
		writeError(w, http.StatusNotFound, "no such session")
		return
	}
	var body struct {
		Muted *bool `json:"muted"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1024)).Decode(&body); err != nil || body.Muted == nil {
		writeError(w, http.StatusBadRequest, `body must be {"muted": true|false}`)
		return
	}
	s.member.SetMuted(*body.Muted)
	w.WriteHeader(http.StatusNoContent)
}
