package api

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"time"

	"github.com/setbridge/setbridge/ivr"
)

// Lobby serves what a browser needs before it joins a room, without an
// API key: the room's public facts, and a join token for a display name
// and the room's PIN.
type Lobby struct {
	Rooms  *Rooms
	DialIn []DialIn
	// ICEServers are handed to the page as they are (JSON).
	ICEServers any
	// OpenRooms may be joined from loopback without a token or PIN.
	OpenRooms []string
	// Recording reports whether a room is being recorded.
	Recording func(room string) bool
	// Mint signs a join token for a new browser identity.
	Mint   func(room, name string) (token, identity string, expires time.Time, err error)
	Logger *slog.Logger
}

// Handler returns the lobby's routes: GET /api/rooms/{room}/lobby and
// POST /api/rooms/{room}/session.
func (l *Lobby) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/rooms/{room}/lobby", l.lobby)
	mux.HandleFunc("POST /api/rooms/{room}/session", l.session)
	return mux
}

// find looks a room up by id, or by the conference number a caller dials.
func (l *Lobby) find(key string) (Room, bool) {
	if room, ok := l.Rooms.Get(key); ok {
		return room, true
	}
	if r, ok := l.Rooms.Lookup(key); ok {
		return l.Rooms.Get(string(r.ID))
	}
	return Room{}, false
}

// open reports whether r may join room without a PIN or token.
func (l *Lobby) open(room Room, r *http.Request) bool {
	return room.PINHash == "" && slices.Contains(l.OpenRooms, room.ID) && loopback(r)
}

func loopback(r *http.Request) bool {
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

func (l *Lobby) lobby(w http.ResponseWriter, r *http.Request) {
	room, ok := l.find(r.PathValue("room"))
	if !ok {
		writeError(w, http.StatusNotFound, "no such room")
		return
	}
	dial := []string{}
	for _, d := range l.DialIn {
		if d.Room == room.ID || d.IVR && room.ConferenceNumber != "" {
			dial = append(dial, d.Number)
		}
	}
	ice := l.ICEServers
	if ice == nil {
		ice = []any{}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"room": room.ID, "conference_number": room.ConferenceNumber, "dial_in": dial,
		"needs_pin": room.PINHash != "", "needs_token": room.PINHash == "" && !l.open(room, r),
		"recording": l.Recording != nil && l.Recording(room.ID), "locked": room.Locked, "ice_servers": ice,
	})
}

func (l *Lobby) session(w http.ResponseWriter, r *http.Request) {
	room, ok := l.find(r.PathValue("room"))
	if !ok {
		writeError(w, http.StatusNotFound, "no such room")
		return
	}
	var body struct {
		Name string `json:"name"`
		PIN  string `json:"pin"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&body); err != nil && !errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, "the body is JSON: {\"name\": \"…\", \"pin\": \"…\"}")
		return
	}
	if len(body.Name) > 64 {
		writeError(w, http.StatusBadRequest, "a display name is at most 64 characters")
		return
	}
	switch {
	case room.Locked:
		writeError(w, http.StatusForbidden, "the room is locked")
		return
	case room.PINHash != "":
		if body.PIN == "" || !ivr.VerifyPIN(room.PINHash, body.PIN) {
			writeError(w, http.StatusForbidden, "wrong PIN")
			return
		}
	case !l.open(room, r):
		writeError(w, http.StatusUnauthorized, "this room needs an invitation link (a token)")
		return
	}
	tok, id, exp, err := l.Mint(room.ID, body.Name)
	if err != nil {
		l.Logger.Error("join token not signed", "room", room.ID, "error", err)
		writeError(w, http.StatusInternalServerError, "no token could be made")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"token": tok, "identity": id, "room": room.ID, "expires_at": exp.UTC().Format(time.RFC3339)})
}
