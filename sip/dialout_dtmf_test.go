package sip

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/setbridge/setbridge/internal/peers"
	"github.com/setbridge/setbridge/ivr"
	"github.com/setbridge/setbridge/media/dtmf"
)

// A moderator's *2 in call: the number typed after it is dialled into the
// room through the first trunk with outbound settings.

const (
	dtmfModPIN  = "4321"
	dtmfPartPIN = "1111"
	dtmfNumber  = "5551234"
)

// dtmfDialLog is a log both written to the test log and kept for checks.
type dtmfDialLog struct {
	t   testing.TB
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *dtmfDialLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.buf.Write(p)
	l.mu.Unlock()
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func (l *dtmfDialLog) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Contains(l.buf.String(), s)
}

// newIVRDialServer starts a gateway on 127.0.0.1 whose trunk "carrier"
// sends every number to room r1, which has a moderator and a participant
// PIN (so callers go through the IVR); out, if set, lets the trunk place
// calls.
func newIVRDialServer(t *testing.T, conf Conference, out *TrunkOutbound) (*Server, *dtmfDialLog) {
	t.Helper()
	prompts, err := ivr.LoadPrompts(ivr.PromptConfig{Rate: conf.Rate()})
	if err != nil {
		t.Fatal(err)
	}
	mod, err := ivr.HashPIN(dtmfModPIN)
	if err != nil {
		t.Fatal(err)
	}
	part, err := ivr.HashPIN(dtmfPartPIN)
	if err != nil {
		t.Fatal(err)
	}
	r1 := ivr.Room{ID: "r1", ModeratorPINHash: mod, ParticipantPINHash: part}
	logs := &dtmfDialLog{t: t}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	s, err := NewServer(Config{UDP: "127.0.0.1:0", TCP: "-", MediaAddress: "127.0.0.1", RTPPortMin: 42000, RTPPortMax: 46000,
		Trunks: []Trunk{
			// The first trunk has no outbound settings: the second places the call.
			{Name: "inbound-only", AllowedAddresses: []string{"192.0.2.0/24"}},
			{Name: "carrier", AllowedAddresses: []string{"127.0.0.1"}, Codecs: []string{"PCMU", "PCMA"}, DefaultRoom: "r1", Outbound: out},
		}},
		conf, Options{Logger: log, IVR: &IVR{
			Prompts:   prompts,
			Directory: ivr.DirectoryFunc(func(string) (ivr.Room, bool) { return ivr.Room{}, false }),
			Room: func(id string) (ivr.Room, bool) {
				if id == "r1" {
					return r1, true
				}
				return ivr.Room{}, false
			},
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	waitServing(t, s.Addr("udp").String())
	return s, logs
}

// startDTMFCaller calls the server from sipp's built-in UAC (From user
// "sipp"), which holds the call for hold and hangs up.
func startDTMFCaller(t *testing.T, s *Server, hold time.Duration) *peers.Sipp {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	sp, err := peers.StartSipp(ctx, peers.SippOptions{T: t, Scenario: "uac", Target: s.Addr("udp").String(),
		Service: "100", Calls: 1, CallDuration: hold, Timeout: 40 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

// dtmfSession waits for the one inbound call's IVR session.
func dtmfSession(t *testing.T, s *Server) *ivr.Session {
	t.Helper()
	var sess *ivr.Session
	dtmfWait(t, "the call to reach the ivr", 10*time.Second, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, c := range s.calls {
			c.mu.Lock()
			sess = c.session
			c.mu.Unlock()
		}
		return sess != nil
	})
	return sess
}

// typeKeys delivers keys to the session 250 ms apart, as the call's digit
// sources do. (The keys go to the session directly: a SIP INFO digit on
// an IVR call is a data race under -race today, call.digit reading
// c.session unlocked, and sipp's RFC 4733 pcaps cannot repeat or reorder
// digits; the rest of the path, IVR to Dial to the callee, is the real one.)
func typeKeys(sess *ivr.Session, keys string) {
	for _, r := range keys {
		sess.Digit(dtmf.Digit{Rune: r, Duration: 100 * time.Millisecond, Start: time.Now()})
		time.Sleep(250 * time.Millisecond)
	}
}

func dtmfOutbounds(s *Server) []*Outbound {
	s.dialouts.mu.Lock()
	defer s.dialouts.mu.Unlock()
	var all []*Outbound
	for o := range s.dialouts.all {
		all = append(all, o)
	}
	return all
}

func dtmfWait(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestModeratorDialsANumberByDTMF(t *testing.T) {
	room := newTestRoom(t)
	callee := startUAS(t, "uas", nil)
	s, logs := newIVRDialServer(t, room, &TrunkOutbound{Host: callee.Addr})
	moderator := startDTMFCaller(t, s, 10*time.Second)
	sess := dtmfSession(t, s)
	typeKeys(sess, dtmfModPIN+"#")
	dtmfWait(t, "the moderator to join", 5*time.Second, func() bool { return room.events() == "join sipp" })
	typeKeys(sess, "*2")
	time.Sleep(time.Second) // "Please enter the number to call ..."
	typeKeys(sess, dtmfNumber+"#")

	want := "join sipp,join " + dtmfNumber
	dtmfWait(t, "the callee to join the room", 20*time.Second, func() bool { return room.events() == want })
	obs := dtmfOutbounds(s)
	if len(obs) != 1 {
		t.Fatalf("%d outbound calls, want 1", len(obs))
	}
	o := obs[0]
	if inv := o.dialog.InviteRequest; inv.Recipient.User != dtmfNumber || o.trunk.Name != "carrier" || o.req.Room != "r1" {
		t.Fatalf("INVITE %s through trunk %s into room %s", inv.Recipient.String(), o.trunk.Name, o.req.Room)
	}
	dtmfWait(t, "the outcome logged", 5*time.Second, func() bool { return logs.has("state=answered") })
	if !logs.has(`msg="moderator's dial-out placed"`) || !logs.has(`msg="dial-out requested"`) {
		t.Fatal("the dial-out is not logged")
	}

	// The callee stays when the moderator hangs up, like any dial-out.
	checkSipp(t, moderator)
	dtmfWait(t, "the moderator to leave", 5*time.Second, func() bool { return strings.HasSuffix(room.events(), "leave sipp") })
	if o.State() != DialAnswered {
		t.Fatalf("callee's call is %s after the moderator left", o.State())
	}
	o.Hangup()
	checkSipp(t, callee) // the BYE reached the callee
	if got := room.events(); got != want+",leave sipp,leave "+dtmfNumber {
		t.Fatalf("room log %q", got)
	}
}

func TestParticipantCannotDialByDTMF(t *testing.T) {
	room := newTestRoom(t)
	// The trunk places calls, to a port where nothing answers: no call
	// may be placed at all.
	s, logs := newIVRDialServer(t, room, &TrunkOutbound{Host: "127.0.0.1:9"})
	caller := startDTMFCaller(t, s, 6*time.Second)
	sess := dtmfSession(t, s)
	typeKeys(sess, dtmfPartPIN+"#")
	dtmfWait(t, "the participant to join", 5*time.Second, func() bool { return room.events() == "join sipp" })
	typeKeys(sess, "*2"+dtmfNumber+"#")
	checkSipp(t, caller)
	if n := len(dtmfOutbounds(s)); n != 0 {
		t.Fatalf("%d outbound calls placed for a participant", n)
	}
	if !logs.has("command refused: moderators only") {
		t.Fatal("the refusal is not logged")
	}
	if got := room.events(); got != "join sipp,leave sipp" {
		t.Fatalf("room log %q", got)
	}
}

func TestModeratorDialWithoutOutboundTrunk(t *testing.T) {
	room := newTestRoom(t)
	s, logs := newIVRDialServer(t, room, nil)
	caller := startDTMFCaller(t, s, 6*time.Second)
	sess := dtmfSession(t, s)
	typeKeys(sess, dtmfModPIN+"#")
	dtmfWait(t, "the moderator to join", 5*time.Second, func() bool { return room.events() == "join sipp" })
	typeKeys(sess, "*2"+dtmfNumber+"#")
	dtmfWait(t, "the failure logged", 5*time.Second, func() bool { return logs.has("command failed") })
	checkSipp(t, caller)
	if n := len(dtmfOutbounds(s)); n != 0 {
		t.Fatalf("%d outbound calls placed", n)
	}
	// The moderator heard conf-cannotcall: the session logs the failure.
	if !logs.has("command failed") || !logs.has("no trunk has outbound settings") {
		t.Fatal("the failed dial-out is not logged")
	}
}
