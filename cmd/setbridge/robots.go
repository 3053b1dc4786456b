package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/setbridge/setbridge/api"
	"github.com/setbridge/setbridge/livestream"
	"github.com/setbridge/setbridge/roster"
	"github.com/setbridge/setbridge/sip"
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

// dialer adapts the SIP gateway's dial-out calls to the API: it keeps each
// room's calls and their events, and tells the room's event stream.
type dialer struct {
	gw     *sip.Server
	rooms  *api.Rooms
	rost   *roster.Roster
	ctx    context.Context // the server's life: calls end with it
	trunk  string          // the default trunk: the first with outbound settings
	mu     sync.Mutex
	calls  map[string]*dialCall // by call id; guarded by mu
	order  []string             // call ids, oldest first; guarded by mu
	maxOld int
}

type dialCall struct {
	callView
	out     *sip.Outbound
	settled chan struct{} // closed at the answer or the end
	once    sync.Once
}

// callView is a dial-out call as the API shows it.
type callView struct {
	ID        string      `json:"id"`
	Room      string      `json:"room"`
	Number    string      `json:"number"`
	Trunk     string      `json:"trunk"`
	State     string      `json:"state"`
	Code      int         `json:"code,omitempty"`
	Reason    string      `json:"reason,omitempty"`
	StartedAt time.Time   `json:"started_at"`
	Events    []dialEvent `json:"events"`
}

type dialEvent struct {
	State  string    `json:"state"`
	Code   int       `json:"code,omitempty"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"`
}

func newDialer(ctx context.Context, gw *sip.Server, cfg sip.Config, rooms *api.Rooms, rost *roster.Roster) *dialer {
	d := &dialer{gw: gw, rooms: rooms, rost: rost, ctx: ctx, calls: map[string]*dialCall{}, maxOld: 200}
	for _, t := range cfg.Trunks {
		if t.Outbound != nil {
			d.trunk = t.Name
			break
		}
	}
	return d
}

func (d *dialer) Dial(room string, req api.DialRequest, wait bool) (any, error) {
	if _, ok := d.rooms.Get(room); !ok {
		return nil, api.ErrNoRoom
	}
	ring, _ := time.ParseDuration(req.RingTimeout) // the API checked it
	trunk := req.Trunk
	if trunk == "" {
		trunk = d.trunk
	}
	c := &dialCall{callView: callView{Room: room, Number: req.Number, Trunk: trunk, State: sip.DialTrying, StartedAt: time.Now()},
		settled: make(chan struct{})}
	var mu sync.Mutex // orders events that arrive before Dial returns
	mu.Lock()
	out, err := d.gw.Dial(d.ctx, sip.DialRequest{Room: room, Trunk: trunk, Number: req.Number, CallerID: req.CallerID,
		DisplayName: req.DisplayName, Digits: req.Digits, DigitMode: req.DigitMode, RingTimeout: ring},
		func(ev sip.DialEvent) {
			mu.Lock()
			defer mu.Unlock()
			d.event(c, ev)
		})
	if err != nil {
		mu.Unlock()
		if errors.Is(err, sip.ErrNoOutbound) || errors.Is(err, sip.ErrBadDialRequest) {
			return nil, fmt.Errorf("%w: %w", api.ErrInvalidInput, err)
		}
		return nil, err
	}
	d.mu.Lock()
	c.ID, c.out = out.ID(), out
	d.calls[c.ID] = c
	d.order = append(d.order, c.ID)
	d.pruneLocked()
	d.mu.Unlock()
	mu.Unlock()
	if wait {
		select {
		case <-c.settled:
		case <-d.ctx.Done():
		}
	}
	return d.view(c), nil
}

// event records a call's new state and tells the room.
func (d *dialer) event(c *dialCall, ev sip.DialEvent) {
	d.mu.Lock()
	c.State, c.Code, c.Reason = ev.State, ev.Code, ev.Reason
	c.Events = append(c.Events, dialEvent{State: ev.State, Code: ev.Code, Reason: ev.Reason, At: ev.At})
	d.mu.Unlock()
	switch ev.State {
	case sip.DialAnswered, sip.DialBusy, sip.DialNoAnswer, sip.DialRejected, sip.DialFailed, sip.DialEnded:
		c.once.Do(func() { close(c.settled) })
	}
	d.rost.Announce(c.Room, "call", d.view(c))
}

func (d *dialer) view(c *dialCall) callView {
	d.mu.Lock()
	defer d.mu.Unlock()
	v := c.callView
	v.Events = slices.Clone(c.Events)
	return v
}

// pruneLocked forgets the oldest ended calls beyond maxOld.
func (d *dialer) pruneLocked() {
	for len(d.order) > d.maxOld {
		c := d.calls[d.order[0]]
		if c != nil && c.State != sip.DialEnded && c.State != sip.DialFailed && c.State != sip.DialRejected &&
			c.State != sip.DialBusy && c.State != sip.DialNoAnswer {
			return
		}
		delete(d.calls, d.order[0])
		d.order = d.order[1:]
	}
}

func (d *dialer) List(room string) any {
	d.mu.Lock()
	ids := slices.Clone(d.order)
	d.mu.Unlock()
	out := []callView{}
	for _, id := range ids {
		d.mu.Lock()
		c := d.calls[id]
		d.mu.Unlock()
		if c != nil && c.Room == room {
			out = append(out, d.view(c))
		}
	}
	return out
}

func (d *dialer) Hangup(room, id string) error {
	d.mu.Lock()
	c := d.calls[id]
	d.mu.Unlock()
	if c == nil || c.Room != room {
		return api.ErrNotFound
	}
	c.out.Hangup()
	return nil
}
