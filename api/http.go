package api

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// DialIn is one dialled number and where it leads: straight to a room, or
// to the IVR, which asks for a conference number.
type DialIn struct {
	Number string
	Room   string
	IVR    bool
}

// Config configures the API handler.
type Config struct {
	Rooms *Rooms
	// DialIn lists the numbers the SIP gateway answers (its dispatch rules).
	DialIn []DialIn
	// Participants returns the number of participants in a room now.
	Participants func(room string) int
	// Recordings, if set, serves the recordings API.
	Recordings Recordings
	// Keys are the accepted bearer keys. With none, only loopback clients
	// are served.
	Keys   []string
	Logger *slog.Logger
	// Streams and Dialer, if set, serve the live-stream and dial-out
	// robots.
	Streams Streams
	Dialer  Dialer
	// Fabric, if set, serves GET /api/fabric: the node's view of the
	// fabric and its counters.
	Fabric func() any
}

// NewHandler returns the API's routes under /api/.
func NewHandler(cfg Config) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &handler{cfg: cfg}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/rooms", h.listRooms)
	mux.HandleFunc("POST /api/rooms", h.createRoom)
	mux.HandleFunc("GET /api/rooms/{id}", h.getRoom)
	mux.HandleFunc("DELETE /api/rooms/{id}", h.deleteRoom)
	mux.HandleFunc("POST /api/rooms/{id}/lock", h.lock(true))
	mux.HandleFunc("POST /api/rooms/{id}/unlock", h.lock(false))
	mux.HandleFunc("GET /api/mapper/numbers/{number}", h.mapNumber)
	mux.HandleFunc("GET /api/mapper/rooms/{id}", h.mapRoom)
	h.recordings(mux)
	h.robots(mux)
	if cfg.Fabric != nil {
		mux.HandleFunc("GET /api/fabric", func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, cfg.Fabric())
		})
	}
	return h.authorize(mux)
}

type handler struct{ cfg Config }

// authorize admits a request with a configured bearer key, or, when no key
// is configured, from loopback only.
func (h *handler) authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(h.cfg.Keys) == 0 {
			host, _, _ := net.SplitHostPort(r.RemoteAddr)
			if a, err := netip.ParseAddr(host); err != nil || !a.Unmap().IsLoopback() {
				writeError(w, http.StatusForbidden, "the API serves loopback clients only until http.api_keys is set")
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		for _, k := range h.cfg.Keys {
			if ok && subtle.ConstantTimeCompare([]byte(key), []byte(k)) == 1 {
				next.ServeHTTP(w, r)
				return
			}
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="setbridge"`)
		writeError(w, http.StatusUnauthorized, "a valid API key is required (Authorization: Bearer KEY)")
	})
}

// roomView is a room as the API shows it: never a PIN, nor its hash.
type roomView struct {
	ID                 string `json:"id"`
	ConferenceNumber   string `json:"conference_number,omitempty"`
	PINRequired        bool   `json:"pin_required"`
	ModeratorPINExists bool   `json:"moderator_pin"`
	Locked             bool   `json:"locked"`
	Participants       int    `json:"participants"`
}

func (h *handler) view(r Room) roomView {
	v := roomView{ID: r.ID, ConferenceNumber: r.ConferenceNumber, PINRequired: r.PINHash != "" || r.ModeratorPINHash != "",
		ModeratorPINExists: r.ModeratorPINHash != "", Locked: r.Locked}
	if h.cfg.Participants != nil {
		v.Participants = h.cfg.Participants(r.ID)
	}
	return v
}

func (h *handler) listRooms(w http.ResponseWriter, r *http.Request) {
	rooms := h.cfg.Rooms.List()
	out := make([]roomView, 0, len(rooms))
	for _, room := range rooms {
		out = append(out, h.view(room))
	}
	writeJSON(w, http.StatusOK, map[string]any{"rooms": out})
}

func (h *handler) createRoom(w http.ResponseWriter, r *http.Request) {
	var spec RoomSpec
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		writeError(w, http.StatusBadRequest, "bad room: "+err.Error())
		return
	}
	room, err := h.cfg.Rooms.Create(spec)
	switch {
	case errors.Is(err, ErrRoomExists), errors.Is(err, ErrNumberInUse):
		writeError(w, http.StatusConflict, err.Error())
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	h.cfg.Logger.Info("room created", "component", "api", "room", room.ID)
	w.Header().Set("Location", "/api/rooms/"+room.ID)
	writeJSON(w, http.StatusCreated, h.view(room))
}

func (h *handler) getRoom(w http.ResponseWriter, r *http.Request) {
	room, ok := h.cfg.Rooms.Get(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, "no such room")
		return
	}
	writeJSON(w, http.StatusOK, h.view(room))
}

func (h *handler) deleteRoom(w http.ResponseWriter, r *http.Request) {
	if err := h.cfg.Rooms.Delete(r.PathValue("id")); err != nil {
		writeError(w, http.StatusNotFound, "no such room")
		return
	}
	h.cfg.Logger.Info("room deleted", "component", "api", "room", r.PathValue("id"))
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) lock(locked bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h.cfg.Rooms.SetLocked(r.PathValue("id"), locked); err != nil {
			writeError(w, http.StatusNotFound, "no such room")
			return
		}
		room, _ := h.cfg.Rooms.Get(r.PathValue("id"))
		writeJSON(w, http.StatusOK, h.view(room))
	}
}

// mapNumber answers what a number leads to: a dialled number (to a room or
// the IVR), or a conference number entered at the IVR.
func (h *handler) mapNumber(w http.ResponseWriter, r *http.Request) {
	n := r.PathValue("number")
	for _, d := range h.cfg.DialIn {
		if d.Number == n {
			out := map[string]any{"number": n, "ivr": d.IVR}
			if d.Room != "" {
				out["room"] = d.Room
				if room, ok := h.cfg.Rooms.Get(d.Room); ok {
					out["pin_required"] = h.view(room).PINRequired
				}
			}
			writeJSON(w, http.StatusOK, out)
			return
		}
	}
	if room, ok := h.cfg.Rooms.Lookup(n); ok {
		v, _ := h.cfg.Rooms.Get(string(room.ID))
		writeJSON(w, http.StatusOK, map[string]any{"conference_number": n, "room": string(room.ID), "pin_required": h.view(v).PINRequired})
		return
	}
	writeError(w, http.StatusNotFound, "no room for that number")
}

// mapRoom answers how to dial into a room: the numbers that lead straight
// to it, and the IVR numbers with the conference number to enter.
func (h *handler) mapRoom(w http.ResponseWriter, r *http.Request) {
	room, ok := h.cfg.Rooms.Get(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, "no such room")
		return
	}
	type dial struct {
		Number           string `json:"number"`
		ConferenceNumber string `json:"conference_number,omitempty"`
	}
	dials := []dial{}
	for _, d := range h.cfg.DialIn {
		switch {
		case d.Room == room.ID:
			dials = append(dials, dial{Number: d.Number})
		case d.IVR && room.ConferenceNumber != "":
			dials = append(dials, dial{Number: d.Number, ConferenceNumber: room.ConferenceNumber})
		}
	}
	v := h.view(room)
	writeJSON(w, http.StatusOK, map[string]any{"room": room.ID, "conference_number": room.ConferenceNumber,
		"pin_required": v.PINRequired, "dial_in": dials})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
