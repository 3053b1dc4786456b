// Package api is setbridge's HTTP API: JSON that curl can drive. It holds
// the room directory (rooms, their conference numbers and hashed PINs),
// which the IVR reads, and the mapper that tells the web page and
// operators how to dial into a room.
package api

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/setbridge/setbridge/ivr"
)

// Errors of the room directory.
var (
	ErrRoomExists   = errors.New("room exists")
	ErrNumberInUse  = errors.New("conference number in use")
	ErrNoRoom       = errors.New("no such room")
	ErrInvalidInput = errors.New("invalid input")
)

// Room is a room of the directory. PINs are kept only as hashes.
type Room struct {
	ID               string
	ConferenceNumber string
	PINHash          string
	ModeratorPINHash string
	// Locked rooms admit moderators only.
	Locked bool
}

// RoomSpec creates a room; PINs arrive in clear and are hashed at once.
type RoomSpec struct {
	ID               string `json:"id"`
	ConferenceNumber string `json:"conference_number"`
	PIN              string `json:"pin,omitempty"`
	ModeratorPIN     string `json:"moderator_pin,omitempty"`
}

// Persister keeps the directory's rooms across restarts (a database).
// Its errors should wrap ErrRoomExists, ErrNumberInUse and ErrNoRoom where
// they mean those.
type Persister interface {
	Create(Room) error
	Delete(id string) error
	SetLocked(id string, locked bool) error
}

// Rooms is the room directory, safe for concurrent use.
type Rooms struct {
	persist  Persister // nil: memory only
	mu       sync.RWMutex
	byID     map[string]Room // guarded by mu
	byNumber map[string]string
}

// NewRooms returns an empty directory.
func NewRooms() *Rooms { return &Rooms{byID: map[string]Room{}, byNumber: map[string]string{}} }

// Persist makes every later change go to p first; call it before serving.
func (r *Rooms) Persist(p Persister) { r.persist = p }

// Load puts a room kept by the Persister into the directory as it is
// (its PINs already hashed).
func (r *Rooms) Load(room Room) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.byID[room.ID]; ok {
		return fmt.Errorf("%w: %s", ErrRoomExists, room.ID)
	}
	if room.ConferenceNumber != "" {
		if _, ok := r.byNumber[room.ConferenceNumber]; ok {
			return ErrNumberInUse
		}
		r.byNumber[room.ConferenceNumber] = room.ID
	}
	r.byID[room.ID] = room
	return nil
}

// Create adds a room.
func (r *Rooms) Create(s RoomSpec) (Room, error) {
	if s.ID == "" || len(s.ID) > 64 || strings.ContainsAny(s.ID, "/ \t\n") {
		return Room{}, fmt.Errorf("%w: a room id is 1 to 64 characters without spaces or slashes", ErrInvalidInput)
	}
	room := Room{ID: s.ID, ConferenceNumber: s.ConferenceNumber}
	if s.ConferenceNumber != "" && !digits(s.ConferenceNumber) {
		return Room{}, fmt.Errorf("%w: a conference number is 1 to 16 digits", ErrInvalidInput)
	}
	var err error
	if s.PIN != "" {
		if room.PINHash, err = ivr.HashPIN(s.PIN); err != nil {
			return Room{}, fmt.Errorf("%w: pin: %v", ErrInvalidInput, err)
		}
	}
	if s.ModeratorPIN != "" {
		if room.ModeratorPINHash, err = ivr.HashPIN(s.ModeratorPIN); err != nil {
			return Room{}, fmt.Errorf("%w: moderator pin: %v", ErrInvalidInput, err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.byID[s.ID]; ok {
		return Room{}, fmt.Errorf("%w: %s", ErrRoomExists, s.ID)
	}
	if s.ConferenceNumber != "" {
		if _, ok := r.byNumber[s.ConferenceNumber]; ok {
			return Room{}, ErrNumberInUse
		}
	}
	if r.persist != nil {
		if err := r.persist.Create(room); err != nil {
			return Room{}, err
		}
	}
	if s.ConferenceNumber != "" {
		r.byNumber[s.ConferenceNumber] = s.ID
	}
	r.byID[s.ID] = room
	return room, nil
}

// Delete removes a room.
func (r *Rooms) Delete(id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	room, ok := r.byID[id]
	if !ok {
		return ErrNoRoom
	}
	if r.persist != nil {
		if err := r.persist.Delete(id); err != nil {
			return err
		}
	}
	delete(r.byID, id)
	if room.ConferenceNumber != "" {
		delete(r.byNumber, room.ConferenceNumber)
	}
	return nil
}

// Get returns a room by id.
func (r *Rooms) Get(id string) (Room, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	room, ok := r.byID[id]
	return room, ok
}

// List returns every room, by id.
func (r *Rooms) List() []Room {
	r.mu.RLock()
	out := make([]Room, 0, len(r.byID))
	for _, room := range r.byID {
		out = append(out, room)
	}
	r.mu.RUnlock()
	slices.SortFunc(out, func(a, b Room) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// SetLocked locks or unlocks a room.
func (r *Rooms) SetLocked(id string, locked bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	room, ok := r.byID[id]
	if !ok {
		return ErrNoRoom
	}
	if r.persist != nil {
		if err := r.persist.SetLocked(id, locked); err != nil {
			return err
		}
	}
	room.Locked = locked
	r.byID[id] = room
	return nil
}

// Locked reports whether a room is locked.
func (r *Rooms) Locked(id string) bool {
	room, ok := r.Get(id)
	return ok && room.Locked
}

// Lookup implements ivr.Directory: a room by conference number.
func (r *Rooms) Lookup(number string) (ivr.Room, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	id, ok := r.byNumber[number]
	if !ok {
		return ivr.Room{}, false
	}
	return r.byID[id].ivr(), true
}

// IVRRoom returns a room by id in the IVR's terms.
func (r *Rooms) IVRRoom(id string) (ivr.Room, bool) {
	room, ok := r.Get(id)
	return room.ivr(), ok
}

func (room Room) ivr() ivr.Room {
	return ivr.Room{ID: ivr.RoomID(room.ID), ParticipantPINHash: room.PINHash, ModeratorPINHash: room.ModeratorPINHash, Locked: room.Locked}
}

func digits(s string) bool {
	if s == "" || len(s) > 16 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
