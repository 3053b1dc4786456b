package main

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/setbridge/setbridge/api"
	"github.com/setbridge/setbridge/livestream"
	"github.com/setbridge/setbridge/roster"
)

// streams adapts the live-stream robots to the API: a stream belongs to
// a room of the directory mixed on this node.
type streams struct {
	m     *livestream.Manager
	rooms *api.Rooms
	conf  *conference
}

func newStreams(m *livestream.Manager, rooms *api.Rooms, conf *conference) *streams {
	return &streams{m: m, rooms: rooms, conf: conf}
}

func (s *streams) Start(room string, req api.StreamRequest) (any, error) {
	if _, ok := s.rooms.Get(room); !ok {
		return nil, api.ErrNoRoom
	}
	if !s.conf.local(room) {
		mixer, _ := s.conf.mn.MixerFor(room)
		return nil, fmt.Errorf("%w: room %s is mixed on node %s; start its streams there", api.ErrInvalidInput, room, mixer.ID)
	}
	info, err := s.m.Start(room, livestream.Request{Target: req.Target, Kind: req.Kind, Name: req.Name})
	if errors.Is(err, livestream.ErrBadTarget) {
		return nil, fmt.Errorf("%w: %w", api.ErrInvalidInput, err)
	}
	return info, err
}

func (s *streams) List(room string) any { return s.m.List(room) }

func (s *streams) Stop(room, id string) error {
	if info, ok := s.m.Get(id); !ok || info.Room != room {
		return api.ErrNotFound
	}
	return s.m.Stop(id)
}

// streamStates turns the robots' state changes into a metric, a log line
// and an event on the room's stream.
func streamStates(reg prometheus.Registerer, rost *roster.Roster, log *slog.Logger) func(livestream.Info) {
	failed := prometheus.NewCounter(prometheus.CounterOpts{Name: "setbridge_livestreams_failed_total",
		Help: "Live streams that gave up after their configured number of connection attempts."})
	reg.MustRegister(failed)
	return func(in livestream.Info) {
		if in.State == livestream.StateFailed {
			failed.Inc()
			log.Error("live stream failed", "room", in.Room, "stream", in.ID, "target", in.Target, "attempts", in.Attempts, "error", in.LastError)
		}
		rost.Announce(in.Room, "stream", in)
	}
}
