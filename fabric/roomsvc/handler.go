package roomsvc

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/setbridge/setbridge/fabric"
	"github.com/setbridge/setbridge/roster"
)

// defaultPageTimeout is HandlerConfig.Timeout's default.
const defaultPageTimeout = 750 * time.Millisecond

// HandlerConfig configures Handler and Everyone.
type HandlerConfig struct {
	// Node is the node serving HTTP, and Conn its control plane.
	Node *fabric.Node
	Conn *nats.Conn
	// Auth, if set, allows a request for room; moderate says whether it
	// is a moderation command. An error answers 403.
	Auth func(r *http.Request, room string, moderate bool) error
	// Timeout bounds each service's answer (default 750 ms): a SET service
	// slow to answer (asking a central service that just died) is passed
	// over for the central service.
	Timeout time.Duration
	Logger  *slog.Logger
}

// Handler serves the room service's HTTP API on any node:
//
//	GET  /api/rooms/{room}/participants?page_size=&page_token=&speaking=&muted=&kind=
//	POST /api/rooms/{room}/participants/{id}/{mute|unmute|kick}
//	POST /api/rooms/{room}/{mute_all|unmute_all|lock|unlock|end}
//
// A page is asked of this node's SET room service for the room (which
// answers from its cache or asks the central service), or of the central
// service when the SET has none; commands go to the central service.
func Handler(cfg HandlerConfig) http.Handler {
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultPageTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &handler{cfg: cfg, log: cfg.Logger.With("component", "roomsvc-http")}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/rooms/{room}/participants", h.participants)
	mux.HandleFunc("POST /api/rooms/{room}/participants/{id}/{cmd}", h.command)
	mux.HandleFunc("POST /api/rooms/{room}/{cmd}", h.command)
	return mux
}

type handler struct {
	cfg HandlerConfig
	log *slog.Logger
}

func (h *handler) participants(w http.ResponseWriter, r *http.Request) {
	room := r.PathValue("room")
	if h.cfg.Auth != nil {
		if err := h.cfg.Auth(r, room, false); err != nil {
			writeError(w, http.StatusForbidden, err.Error())
			return
		}
	}
	q, err := parseQuery(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	var subjects []string
	for _, s := range setServices(h.cfg.Node, room) {
		subjects = append(subjects, subjectSet(s)+".q")
	}
	subjects = append(subjects, centralSubjects(h.cfg.Node, ".q")...)
	rep, _, err := requestPage(h.cfg.Conn, subjects, func(s string) string { return s },
		message{T: msgPage, From: h.cfg.Node.Info().ID, Room: room, Query: &q}, h.cfg.Timeout)
	if err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	if rep.Page == nil {
		rep.Page = &Page{Participants: []Member{}}
	}
	writeJSON(w, http.StatusOK, rep.Page)
}

func (h *handler) command(w http.ResponseWriter, r *http.Request) {
	cmd := Command{Type: r.PathValue("cmd"), Room: r.PathValue("room"), Participant: r.PathValue("id")}
	if !cmd.valid() || cmd.perParticipant() != (cmd.Participant != "") {
		writeError(w, http.StatusNotFound, "no such command")
		return
	}
	if h.cfg.Auth != nil {
		if err := h.cfg.Auth(r, cmd.Room, true); err != nil {
			writeError(w, http.StatusForbidden, err.Error())
			return
		}
	}
	rep, err := request(h.cfg.Conn, centralSubjects(h.cfg.Node, ".q"),
		message{T: msgCommand, From: h.cfg.Node.Info().ID, Room: cmd.Room, Command: &cmd}, h.cfg.Timeout)
	if err == nil {
		err = replyError(rep)
	}
	if err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

func parseQuery(r *http.Request) (Query, error) {
	v := r.URL.Query()
	var q Query
	if s := v.Get("page_size"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return q, fmt.Errorf("page_size: %q is not a count", s)
		}
		q.PageSize = n
	}
	q.PageToken = v.Get("page_token")
	for _, f := range []struct {
		name string
		dst  **bool
	}{{"speaking", &q.Speaking}, {"muted", &q.Muted}} {
		if s := v.Get(f.name); s != "" {
			b, err := strconv.ParseBool(s)
			if err != nil {
				return q, fmt.Errorf("%s: %q is not true or false", f.name, s)
			}
			*f.dst = &b
		}
	}
	q.Kind = roster.Kind(v.Get("kind"))
	if err := q.normalize(); err != nil {
		return q, err
	}
	return q, nil
}

func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrBadRequest):
		return http.StatusBadRequest
	case errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// Everyone returns every participant of room, page by page, as the room
// services know them: for a machine that has just joined a room and wants
// to show its clients who was there before it. cfg is as for Handler
// (Auth is not used).
func Everyone(cfg HandlerConfig, room string) ([]Member, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultPageTimeout
	}
	var subjects []string
	for _, s := range setServices(cfg.Node, room) {
		subjects = append(subjects, subjectSet(s)+".q")
	}
	subjects = append(subjects, centralSubjects(cfg.Node, ".q")...)
	var out []Member
	q := Query{PageSize: MaxPageSize}
	for {
		rep, _, err := requestPage(cfg.Conn, subjects, func(s string) string { return s },
			message{T: msgPage, From: cfg.Node.Info().ID, Room: room, Query: &q}, cfg.Timeout)
		if err != nil {
			return out, err
		}
		if rep.Page == nil {
			return out, nil // nobody knows the room: empty
		}
		out = append(out, rep.Page.Participants...)
		if rep.Page.NextPageToken == "" {
			return out, nil
		}
		q.PageToken = rep.Page.NextPageToken
	}
}
