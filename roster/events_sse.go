package roster

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"
)

// writeTimeout bounds each write to an event stream, so that a client that
// stops reading cannot hold a stream (and Close) forever. Connection
// deadlines are wall-clock time, hence time.Now rather than the Clock.
const writeTimeout = 10 * time.Second

// EventsHandler serves GET /api/rooms/{room}/events as Server-Sent Events
// (docs/browser-api.md, "Events"); the room comes from r.PathValue("room").
// auth decides who may listen; its error is answered with 401 and
// {"error": err.Error()}. A nil auth admits every request.
//
// The stream starts with a snapshot event, then carries every change as
// "event: <type>\ndata: <json>\n\n", and a ": ping" comment every Ping. It
// ends when the client goes away or the roster is closed.
func (r *Roster) EventsHandler(auth func(r *http.Request, room string) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		roomName := req.PathValue("room")
		if roomName == "" {
			writeError(w, http.StatusNotFound, "no room in the path")
			return
		}
		if auth != nil {
			if err := auth(req, roomName); err != nil {
				writeError(w, http.StatusUnauthorized, err.Error())
				return
			}
		}
		if !r.startStream() {
			writeError(w, http.StatusServiceUnavailable, "shutting down")
			return
		}
		defer r.streams.Done()
		r.serveEvents(w, req, roomName)
	})
}

// startStream counts a new stream for Close to wait for; it reports false
// once the roster is closed.
func (r *Roster) startStream() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.streams.Add(1)
	return true
}

func (r *Roster) serveEvents(w http.ResponseWriter, req *http.Request, roomName string) {
	log := r.log.With("room", roomName, "remote", req.RemoteAddr)
	rc := http.NewResponseController(w)
	// The ticker exists before the first event is written, so a test that
	// has read the snapshot can advance a fake clock and see a ping.
	ping := r.clock.NewTicker(r.ping)
	defer ping.Stop()
	sub := r.Subscribe(roomName)
	defer sub.Close()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		log.Warn("event stream cannot be flushed", "err", err)
		return
	}
	log.Debug("event stream started")
	defer log.Debug("event stream ended")

	var buf []byte
	for {
		select {
		case <-req.Context().Done():
			return
		case ev, ok := <-sub.C():
			if !ok {
				return
			}
			var err error
			if buf, err = appendEvent(buf[:0], ev); err != nil {
				log.Error("event not encodable", "type", ev.Type, "err", err)
				continue
			}
		case <-ping.C():
			buf = append(buf[:0], ": ping\n\n"...)
		}
		if err := write(rc, w, buf); err != nil {
			log.Debug("event stream write failed", "err", err)
			return
		}
	}
}

// write sends one event and flushes it under a write deadline.
func write(rc *http.ResponseController, w http.ResponseWriter, b []byte) error {
	if err := rc.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return err
	}
	return rc.Flush()
}

// appendEvent appends ev in the event stream format. JSON holds no raw
// newline, so the data is always one line.
func appendEvent(b []byte, ev Event) ([]byte, error) {
	data, err := json.Marshal(ev.Data)
	if err != nil {
		return b, err
	}
	b = append(b, "event: "...)
	b = append(b, ev.Type...)
	b = append(b, "\ndata: "...)
	b = append(b, data...)
	return append(b, "\n\n"...), nil
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
