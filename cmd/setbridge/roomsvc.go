package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"

	"github.com/setbridge/setbridge/api"
	"github.com/setbridge/setbridge/fabric/roomsvc"
	"github.com/setbridge/setbridge/roster"
)

// roomServices are this node's parts of the two-level room service: the
// agent every machine runs, and the SET and central services of nodes with
// the roomset and room roles.
type roomServices struct {
	list    roomsvc.HandlerConfig // for Everyone
	agent   *roomsvc.Agent
	set     *roomsvc.SetService
	central *roomsvc.Central
	handler http.Handler
}

func startRoomServices(roles []string, fab *fabricNode, conf *conference, rooms *api.Rooms, rost *roster.Roster,
	apiKeys []string, log *slog.Logger) (*roomServices, error) {
	rs := &roomServices{}
	var err error
	if slices.Contains(roles, roomsvc.RoleRoom) {
		if rs.central, err = roomsvc.NewCentral(roomsvc.CentralConfig{Node: fab.node, Conn: fab.nc, Logger: log}); err != nil {
			return nil, fmt.Errorf("central room service: %w", err)
		}
	}
	if slices.Contains(roles, roomsvc.RoleRoomSet) {
		if rs.set, err = roomsvc.NewSetService(roomsvc.SetConfig{Node: fab.node, Conn: fab.nc, Logger: log}); err != nil {
			rs.Close()
			return nil, fmt.Errorf("SET room service: %w", err)
		}
	}
	self := fab.node.Info().ID
	rs.agent, err = roomsvc.NewAgent(roomsvc.AgentConfig{Node: fab.node, Conn: fab.nc, Logger: log,
		OnCommand: func(c roomsvc.Command) error { return conf.command(c, rooms) },
		OnEvent: func(room string, ev roomsvc.Event) {
			// Other machines' participants, for this machine's clients;
			// its own are in the roster already.
			switch ev.Type {
			case roomsvc.EventJoined, roomsvc.EventUpdated:
				if p := ev.Participant; p != nil && p.Node != self {
					rost.Join(room, *p)
				}
			case roomsvc.EventLeft:
				if !conf.isLocal(room, ev.ID) {
					rost.Leave(room, ev.ID)
				}
			case roomsvc.EventResync:
				// Events may have been missed (a service above was
				// replaced): the room is announced again from above, and
				// clients are told to reload their lists.
				rost.Announce(room, "resync", nil)
			}
		}})
	if err != nil {
		rs.Close()
		return nil, fmt.Errorf("room agent: %w", err)
	}
	rs.list = roomsvc.HandlerConfig{Node: fab.node, Conn: fab.nc, Logger: log}
	rs.handler = roomsvc.Handler(roomsvc.HandlerConfig{Node: fab.node, Conn: fab.nc, Logger: log,
		Auth: func(r *http.Request, room string, moderate bool) error {
			if len(apiKeys) == 0 {
				if isLoopback(r) {
					return nil
				}
				return errors.New("the API serves loopback clients only until http.api_keys is set")
			}
			if tok := bearer(r); tok != "" && slices.Contains(apiKeys, tok) {
				return nil
			}
			return errors.New("an API key is required")
		}})
	return rs, nil
}

func bearer(r *http.Request) string {
	const p = "Bearer "
	if h := r.Header.Get("Authorization"); len(h) > len(p) && h[:len(p)] == p {
		return h[len(p):]
	}
	return ""
}

// Close stops the services, the agent first.
func (rs *roomServices) Close() {
	if rs.agent != nil {
		rs.agent.Close()
	}
	if rs.set != nil {
		rs.set.Close()
	}
	if rs.central != nil {
		rs.central.Close()
	}
}

// stats is what GET /api/fabric shows of the room services.
func (rs *roomServices) stats() any {
	out := map[string]any{"agent": rs.agent.Stats()}
	if rs.set != nil {
		out["set"] = rs.set.Stats()
	}
	if rs.central != nil {
		out["central"] = rs.central.Stats()
	}
	return out
}

// command carries out a moderator's command on this machine's
// participants of the room.
func (c *conference) command(cmd roomsvc.Command, rooms *api.Rooms) error {
	switch cmd.Type {
	case roomsvc.CmdLock, roomsvc.CmdUnlock:
		if err := rooms.SetLocked(cmd.Room, cmd.Type == roomsvc.CmdLock); err != nil && !errors.Is(err, api.ErrNoRoom) {
			return err
		}
		return nil
	}
	ms := c.localMembers(cmd.Room, cmd.Participant)
	if cmd.Participant != "" && len(ms) == 0 {
		return roomsvc.ErrNotFound
	}
	for _, m := range ms {
		switch cmd.Type {
		case roomsvc.CmdMute, roomsvc.CmdMuteAll:
			m.SetMuted(true)
		case roomsvc.CmdUnmute, roomsvc.CmdUnmuteAll:
			m.SetMuted(false)
		case roomsvc.CmdKick, roomsvc.CmdEnd:
			m.kickOut("removed by a moderator")
		}
	}
	return nil
}

// prime fills this machine's roster of room with the participants the room
// services know on other machines: a machine hears only the changes after
// its first participant of a room joined.
func (rs *roomServices) prime(room string, rost *roster.Roster, self string, done func()) {
	defer done()
	ms, err := roomsvc.Everyone(rs.list, room)
	if err != nil {
		rs.list.Logger.Warn("room list not loaded from the room services", "room", room, "error", err)
	}
	for _, m := range ms {
		if m.Node != self {
			rost.Join(room, m.Participant)
		}
	}
}
