// Package roster keeps, per room, who is in it right now (phones, browsers,
// robots), who is speaking (the mixer's selection) and whether it is being
// recorded, and fans every change out to subscribers: the web page's event
// stream (EventsHandler), operators' streams, webhooks, a room service.
//
// Publishers never wait for a subscriber. A subscriber that falls behind
// loses the events it has not read and gets a fresh snapshot in their place.
package roster

import (
	"cmp"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/setbridge/setbridge/media"
)

// Kind says what sits behind a participant.
type Kind string

// The kinds of participant.
const (
	KindPhone   Kind = "phone"
	KindBrowser Kind = "browser"
	KindRobot   Kind = "robot"
)

// Participant is one member of a room as the event stream shows it (P in
// docs/browser-api.md).
type Participant struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Kind Kind   `json:"kind"`
	// Caller is the calling number, masked for display (MaskNumber).
	Caller   string    `json:"caller,omitempty"`
	Muted    bool      `json:"muted"`
	JoinedAt time.Time `json:"joined_at"`
	Node     string    `json:"node,omitempty"`
	Set      string    `json:"set,omitempty"`
}

// Recording is a room's recording state.
type Recording struct {
	Active bool   `json:"active"`
	ID     string `json:"id"`
}

// Snapshot is a room's whole state: the data of a snapshot event.
type Snapshot struct {
	Room string `json:"room"`
	// Participants are ordered by JoinedAt, then ID.
	Participants []Participant `json:"participants"`
	// Speaking is the mixer's selection, in selection order.
	Speaking  []string  `json:"speaking"`
	Recording Recording `json:"recording"`
}

// Options configures a Roster. The zero value is usable.
type Options struct {
	// Clock stamps JoinedAt and drives the streams' keepalive
	// (default media.SystemClock).
	Clock media.Clock
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Ping is the interval of the event stream's keepalive comment
	// (default 15 s).
	Ping time.Duration
}

// DefaultPing is the keepalive interval used when Options.Ping is zero.
const DefaultPing = 15 * time.Second

// Roster is the live state of every room. Its methods are safe for
// concurrent use.
type Roster struct {
	clock media.Clock
	log   *slog.Logger
	ping  time.Duration

	mu     sync.RWMutex
	rooms  map[string]*room // guarded by mu
	closed bool             // guarded by mu

	// streams counts running EventsHandler streams; Add only under mu
	// while !closed, so Close can Wait.
	streams sync.WaitGroup
}

// room is one room's state. Lock order: Roster.mu before room.mu.
type room struct {
	name string

	mu           sync.Mutex
	gone         bool                       // guarded by mu: removed from Roster.rooms, use another
	closed       bool                       // guarded by mu: the roster is closed, no new subscribers
	participants map[string]Participant     // guarded by mu
	speaking     []string                   // guarded by mu; replaced, never modified, shared with events
	recording    Recording                  // guarded by mu
	subs         map[*Subscription]struct{} // guarded by mu
}

// New returns an empty Roster.
func New(o Options) *Roster {
	if o.Clock == nil {
		o.Clock = media.SystemClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Ping <= 0 {
		o.Ping = DefaultPing
	}
	return &Roster{
		clock: o.Clock,
		log:   o.Logger.With("component", "roster"),
		ping:  o.Ping,
		rooms: make(map[string]*room),
	}
}

// Join adds p to room, or replaces the participant with p's ID. p.Caller is
// given raw and stored masked; a zero JoinedAt is set to now. A new
// participant is announced as participant_joined, a replaced one as
// participant_updated.
func (r *Roster) Join(roomName string, p Participant) {
	if p.ID == "" {
		r.log.Warn("join without a participant id ignored", "room", roomName)
		return
	}
	p.Caller = MaskNumber(p.Caller)
	if p.JoinedAt.IsZero() {
		p.JoinedAt = r.clock.Now()
	}
	rm := r.lockRoom(roomName, true)
	_, known := rm.participants[p.ID]
	rm.participants[p.ID] = p
	typ := EventJoined
	if known {
		typ = EventUpdated
	}
	rm.publishLocked(Event{Type: typ, Data: p})
	r.unlockRoom(rm)
}

// Leave removes a participant and announces participant_left.
func (r *Roster) Leave(roomName, id string) {
	rm := r.lockRoom(roomName, false)
	if rm == nil {
		return
	}
	if _, ok := rm.participants[id]; ok {
		delete(rm.participants, id)
		rm.publishLocked(Event{Type: EventLeft, Data: Left{ID: id}})
	}
	r.unlockRoom(rm)
}

// SetMuted sets a participant's mute state, announcing participant_updated
// when it changes.
func (r *Roster) SetMuted(roomName, id string, muted bool) {
	r.update(roomName, id, func(p *Participant) bool {
		if p.Muted == muted {
			return false
		}
		p.Muted = muted
		return true
	})
}

// SetName sets a participant's display name, announcing participant_updated
// when it changes.
func (r *Roster) SetName(roomName, id, name string) {
	r.update(roomName, id, func(p *Participant) bool {
		if p.Name == name {
			return false
		}
		p.Name = name
		return true
	})
}

// update applies change to a known participant and announces it if change
// reports a difference.
func (r *Roster) update(roomName, id string, change func(*Participant) bool) {
	rm := r.lockRoom(roomName, false)
	if rm == nil {
		return
	}
	if p, ok := rm.participants[id]; ok && change(&p) {
		rm.participants[id] = p
		rm.publishLocked(Event{Type: EventUpdated, Data: p})
	}
	r.unlockRoom(rm)
}

// SetSpeaking records the mixer's selection, in selection order, and
// announces it when it differs from the last one. It is meant for the
// mixer's tick: it never waits for a subscriber, holds only the room's lock
// briefly, and allocates nothing when the selection is unchanged. ids is
// copied. IDs that are not participants are passed on as given.
func (r *Roster) SetSpeaking(roomName string, ids []string) {
	// An empty selection for a room nobody knows changes nothing.
	rm := r.lockRoom(roomName, len(ids) > 0)
	if rm == nil {
		return
	}
	if slices.Equal(rm.speaking, ids) {
		rm.mu.Unlock() // nothing changed, so neither did the room's emptiness
		return
	}
	if len(ids) == 0 {
		rm.speaking = []string{}
	} else {
		rm.speaking = slices.Clone(ids)
	}
	rm.publishLocked(Event{Type: EventSpeaking, Data: Speaking{IDs: rm.speaking}})
	r.unlockRoom(rm)
}

// SetRecording records whether room is being recorded and by which
// recording, announcing recording when that changes.
func (r *Roster) SetRecording(roomName string, active bool, id string) {
	rm := r.lockRoom(roomName, active)
	if rm == nil {
		return
	}
	rec := Recording{Active: active, ID: id}
	if rm.recording != rec {
		rm.recording = rec
		rm.publishLocked(Event{Type: EventRecording, Data: rec})
	}
	r.unlockRoom(rm)
}

// Snapshot returns room's state now; an unknown room is empty.
func (r *Roster) Snapshot(roomName string) Snapshot {
	rm := r.lockRoom(roomName, false)
	if rm == nil {
		return Snapshot{Room: roomName, Participants: []Participant{}, Speaking: []string{}}
	}
	defer rm.mu.Unlock()
	s := rm.snapshotLocked()
	s.Speaking = slices.Clone(s.Speaking) // the caller's to keep
	return s
}

// Rooms returns the names of the rooms the roster knows, sorted.
func (r *Roster) Rooms() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.rooms))
	for name := range r.rooms {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Close ends every subscription and event stream and waits for the streams
// to return. The roster's state stays readable and writable; new
// subscriptions are closed from the start.
func (r *Roster) Close() {
	r.mu.Lock()
	r.closed = true
	rooms := make([]*room, 0, len(r.rooms))
	for _, rm := range r.rooms {
		rooms = append(rooms, rm)
	}
	r.mu.Unlock()
	for _, rm := range rooms {
		rm.mu.Lock()
		rm.closed = true
		for s := range rm.subs {
			s.endLocked(rm)
		}
		r.unlockRoom(rm)
	}
	r.streams.Wait()
}

// lockRoom returns the named room with its mu held, creating it if create
// is set; without create it returns nil for an unknown room.
func (r *Roster) lockRoom(name string, create bool) *room {
	for {
		r.mu.RLock()
		rm := r.rooms[name]
		r.mu.RUnlock()
		if rm == nil {
			if !create {
				return nil
			}
			r.mu.Lock()
			if rm = r.rooms[name]; rm == nil {
				rm = &room{
					name:         name,
					closed:       r.closed,
					participants: make(map[string]Participant),
					speaking:     []string{},
					subs:         make(map[*Subscription]struct{}),
				}
				r.rooms[name] = rm
			}
			r.mu.Unlock()
		}
		rm.mu.Lock()
		if !rm.gone {
			return rm
		}
		rm.mu.Unlock() // forgotten meanwhile: look again
	}
}

// unlockRoom releases a room locked by lockRoom and forgets it if nothing
// in it is left to tell a new subscriber.
func (r *Roster) unlockRoom(rm *room) {
	empty := rm.emptyLocked()
	rm.mu.Unlock()
	if !empty {
		return
	}
	r.mu.Lock()
	rm.mu.Lock()
	if !rm.gone && rm.emptyLocked() {
		rm.gone = true
		delete(r.rooms, rm.name)
	}
	rm.mu.Unlock()
	r.mu.Unlock()
}

// emptyLocked reports whether the room holds nothing: no participants, no
// subscribers, no selection and no recording in progress.
func (rm *room) emptyLocked() bool {
	return len(rm.participants) == 0 && len(rm.subs) == 0 && len(rm.speaking) == 0 && !rm.recording.Active
}

func (rm *room) snapshotLocked() Snapshot {
	ps := make([]Participant, 0, len(rm.participants))
	for _, p := range rm.participants {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b Participant) int {
		if c := a.JoinedAt.Compare(b.JoinedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return Snapshot{Room: rm.name, Participants: ps, Speaking: rm.speaking, Recording: rm.recording}
}

// Announce sends an event that changes none of the room's state (a live
// stream that failed, a dial-out call's progress) to the room's current
// subscribers; a room nobody follows is not created for it.
func (r *Roster) Announce(roomName, typ string, data any) {
	rm := r.lockRoom(roomName, false)
	if rm == nil {
		return
	}
	rm.publishLocked(Event{Type: typ, Data: data})
	r.unlockRoom(rm)
}
