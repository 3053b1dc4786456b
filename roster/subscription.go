package roster

// The types of Event.
const (
	EventSnapshot  = "snapshot"            // Data is a Snapshot
	EventJoined    = "participant_joined"  // Data is a Participant
	EventUpdated   = "participant_updated" // Data is a Participant (mute, name)
	EventLeft      = "participant_left"    // Data is a Left
	EventSpeaking  = "speaking"            // Data is a Speaking
	EventRecording = "recording"           // Data is a Recording
)

// Event is one change in a room. Data is shared between subscribers and
// must not be modified.
type Event struct {
	Type string
	Data any
}

// Left is the data of a participant_left event.
type Left struct {
	ID string `json:"id"`
}

// Speaking is the data of a speaking event: the mixer's selection, in
// selection order.
type Speaking struct {
	IDs []string `json:"speaking"`
}

// subscriptionBuffer is how many unread events a subscriber may hold before
// it counts as fallen behind.
const subscriptionBuffer = 64

// Subscription receives a room's events: first a snapshot, then every
// change. It must be closed.
type Subscription struct {
	r  *Roster
	rm *room
	ch chan Event

	ended bool // guarded by rm.mu: ch is closed
}

// Subscribe starts a subscription to room. Its first event is a snapshot
// of the room. If the subscriber falls behind by more than a bounded number
// of events, the unread ones are dropped and a fresh snapshot is its next
// event. After Close (of the subscription or the roster) C is closed.
func (r *Roster) Subscribe(roomName string) *Subscription {
	rm := r.lockRoom(roomName, true)
	s := &Subscription{r: r, rm: rm, ch: make(chan Event, subscriptionBuffer)}
	if rm.closed {
		s.ended = true
		close(s.ch)
	} else {
		rm.subs[s] = struct{}{}
		s.ch <- Event{Type: EventSnapshot, Data: rm.snapshotLocked()}
	}
	r.unlockRoom(rm)
	return s
}

// C delivers the events; it is closed when the subscription ends.
func (s *Subscription) C() <-chan Event { return s.ch }

// Close ends the subscription and closes C. It may be called more than
// once.
func (s *Subscription) Close() {
	s.rm.mu.Lock()
	s.endLocked(s.rm)
	s.r.unlockRoom(s.rm)
}

// endLocked removes s from rm and closes its channel.
func (s *Subscription) endLocked(rm *room) {
	if s.ended {
		return
	}
	s.ended = true
	delete(rm.subs, s)
	close(s.ch)
}

// publishLocked hands ev, which has already been applied to the room's
// state, to every subscriber without waiting for any.
func (rm *room) publishLocked(ev Event) {
	var snap *Event
	for s := range rm.subs {
		select {
		case s.ch <- ev:
			continue
		default:
		}
		// Fallen behind: what it has not read is replaced by the present
		// state. Only publishers, who hold rm.mu, send, so once drained
		// the send below cannot block.
		for drained := false; !drained; {
			select {
			case <-s.ch:
			default:
				drained = true
			}
		}
		if snap == nil {
			snap = &Event{Type: EventSnapshot, Data: rm.snapshotLocked()}
		}
		s.ch <- *snap
	}
}
