package main

import (
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/setbridge/setbridge/api"
	"github.com/setbridge/setbridge/fabric/mixnet"
	"github.com/setbridge/setbridge/fabric/roomsvc"
	"github.com/setbridge/setbridge/media"
	"github.com/setbridge/setbridge/mixerengine"
	"github.com/setbridge/setbridge/roster"
	"github.com/setbridge/setbridge/sip"
	"github.com/setbridge/setbridge/webhook"
	"github.com/setbridge/setbridge/webrtc"
)

// conference is where every edge's participants go: the local mixer
// engine for the rooms this node mixes, the split mixer (mixnet) for rooms
// mixed on another node. It plays the join and leave tones of rooms that
// want them, starts policy recordings, and keeps the roster that the web
// page and the event stream show.
type conference struct {
	e          *mixerengine.Engine
	mn         *mixnet.Service // nil: every room is mixed here
	roster     *roster.Roster
	recs       *recordings
	node, set  string
	recordFor  map[string]bool // rooms with record: true
	joinTone   []int16
	leaveTone  []int16
	noTonesFor map[string]bool // rooms with entry_tones: false
	// hooks, if set, sends room and participant events to webhooks.
	hooks func(webhook.Event)
	// agent, if set, tells the room services about this machine's
	// participants.
	agent *roomsvc.Agent

	// prime, if set, loads the participants of other machines into the
	// roster when this machine's first participant of a room joins; done
	// is called when it returns.
	prime func(room string, done func())
	wg    sync.WaitGroup // prime calls

	mu      sync.Mutex
	members map[string]map[string]*membership // room → id → local member; guarded by mu
}

// localMembers returns this machine's members of room: one (id), or all
// (id empty).
func (c *conference) localMembers(room, id string) []*membership {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*membership
	for mid, m := range c.members[room] {
		if id == "" || mid == id {
			out = append(out, m)
		}
	}
	return out
}

// isLocal reports whether participant id of room is on this machine.
func (c *conference) isLocal(room, id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.members[room][id]
	return ok
}

// hook sends a webhook event, if webhooks are configured.
func (c *conference) hook(typ, room string, data any) {
	if c.hooks != nil {
		c.hooks(webhook.Event{Type: typ, Room: room, Data: data})
	}
}

// member is a participant's place in a room, mixed here or elsewhere.
type member interface {
	ID() string
	Leave()
	SetMuted(bool)
	Muted() bool
}

type engineMember struct{ *mixerengine.Member }

func (m engineMember) ID() string { return string(m.Member.ID()) }

func (c *conference) Rate() int { return c.e.Rate() }

// Join adds a phone call (sip.Conference).
func (c *conference) Join(room string, p media.Participant, who sip.Caller) (sip.Membership, error) {
	return c.join(room, p, roster.Participant{Kind: roster.KindPhone, Name: who.Name, Caller: who.Number}, who.Hangup)
}

// local reports whether room is mixed on this node.
func (c *conference) local(room string) bool { return c.mn == nil || c.mn.Local(room) }

func (c *conference) join(room string, p media.Participant, info roster.Participant, kick func(string)) (*membership, error) {
	var m member
	local := c.local(room)
	if local {
		em, err := c.e.Join(mixerengine.RoomID(room), p)
		if err != nil {
			return nil, err
		}
		m = engineMember{em}
		c.joined(room)
	} else {
		rm, err := c.mn.Join(room, "", p)
		if err != nil {
			return nil, err
		}
		m = rm
	}
	info.ID, info.Node, info.Set = m.ID(), c.node, c.set
	info.Caller = roster.MaskNumber(info.Caller)
	info.JoinedAt = time.Now()
	c.roster.Join(room, info)
	ms := &membership{member: m, c: c, room: room, local: local, info: info, kick: kick}
	c.mu.Lock()
	if c.members == nil {
		c.members = map[string]map[string]*membership{}
	}
	first := c.members[room] == nil
	if first {
		c.members[room] = map[string]*membership{}
	}
	c.members[room][info.ID] = ms
	c.mu.Unlock()
	if first && c.prime != nil && !local {
		// Who was there before this machine's first participant.
		c.wg.Add(1)
		go c.prime(room, c.wg.Done)
	}
	if c.agent != nil {
		c.agent.Join(room, info)
	}
	// A participant's own machine tells of its joining and leaving; the
	// room's mixer (one per room) of the room starting and finishing.
	c.hook(webhook.ParticipantJoined, room, map[string]any{"participant": info})
	return ms, nil
}

// joinRemote adds a participant of another node to a room mixed here
// (mixnet's Join).
func (c *conference) joinRemote(room, pid string, p media.Participant) (mixnet.Member, error) {
	m, err := c.e.JoinWithID(mixerengine.RoomID(room), mixerengine.ParticipantID(pid), p)
	if err != nil {
		return nil, err
	}
	c.joined(room)
	return remoteMember{m, c}, nil
}

// joined plays the join tone and starts a policy recording with the
// room's first participant.
func (c *conference) joined(room string) {
	n := c.e.Participants(mixerengine.RoomID(room))
	if !c.noTonesFor[room] && n > 1 {
		c.e.Cue(mixerengine.RoomID(room), c.joinTone)
	}
	if n == 1 {
		c.hook(webhook.RoomStarted, room, nil)
	}
	if n == 1 && c.recordFor[room] {
		// Room policy: record from the first join to the last leave.
		if _, err := c.recs.Start(room, api.StartOptions{}); err != nil && !errors.Is(err, api.ErrRecordingBusy) {
			slog.Error("policy recording not started", "room", room, "error", err)
		}
	}
}

// left plays the leave tone, and ends a policy recording with the room.
func (c *conference) left(room string) {
	left := c.e.Participants(mixerengine.RoomID(room))
	if !c.noTonesFor[room] && left > 0 {
		c.e.Cue(mixerengine.RoomID(room), c.leaveTone)
	}
	if left == 0 {
		c.recs.RoomEmpty(room)
		c.hook(webhook.RoomFinished, room, nil)
	}
}

// Participants counts a room's participants as this node knows them: all
// of them when it mixes the room, else its own.
func (c *conference) Participants(room string) int {
	if c.local(room) {
		return c.e.Participants(mixerengine.RoomID(room))
	}
	return len(c.roster.Snapshot(room).Participants)
}

// membership keeps the roster and the tones in step with a participant.
type membership struct {
	member
	c     *conference
	room  string
	local bool
	kick  func(reason string) // ends the call or session; nil: leave only
	once  sync.Once

	mu   sync.Mutex
	info roster.Participant // guarded by mu
}

// kickOut ends the participant's call (or browser session), which leaves
// the room; without a way to end it, it just leaves.
func (m *membership) kickOut(reason string) {
	if m.kick != nil {
		m.kick(reason)
		return
	}
	m.Leave()
}

func (m *membership) Leave() {
	left := false
	m.once.Do(func() { left = true })
	if !left {
		return
	}
	m.member.Leave()
	m.c.roster.Leave(m.room, m.ID())
	m.c.mu.Lock()
	delete(m.c.members[m.room], m.ID())
	if len(m.c.members[m.room]) == 0 {
		delete(m.c.members, m.room)
	}
	m.c.mu.Unlock()
	if m.c.agent != nil {
		m.c.agent.Leave(m.room, m.ID())
	}
	m.c.hook(webhook.ParticipantLeft, m.room, map[string]any{"participant": map[string]string{"id": m.ID()}})
	if m.local {
		m.c.left(m.room)
	}
}

func (m *membership) SetMuted(on bool) {
	m.member.SetMuted(on)
	m.c.roster.SetMuted(m.room, m.ID(), on)
	m.mu.Lock()
	m.info.Muted = on
	info := m.info
	m.mu.Unlock()
	if m.c.agent != nil {
		m.c.agent.Update(m.room, info)
	}
}

// remoteMember is a participant of another node in a room mixed here.
type remoteMember struct {
	*mixerengine.Member
	c *conference
}

func (m remoteMember) Leave() {
	m.Member.Leave()
	m.c.left(string(m.Member.Room()))
}

// browsers adapts the conference to the WebRTC edge.
type browsers struct{ c *conference }

func (b browsers) Rate() int { return b.c.Rate() }

func (b browsers) Join(room string, p media.Participant, who webrtc.Identity) (webrtc.Membership, error) {
	name := who.Name
	if name == "" {
		name = who.Identity
	}
	return b.c.join(room, p, roster.Participant{Kind: roster.KindBrowser, Name: name}, who.End)
}
