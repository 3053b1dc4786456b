package roster

import (
	"bufio"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/setbridge/setbridge/media"
)

var epoch = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// newTestRoster returns a roster on a fake clock, closed and checked for
// leftover goroutines when the test ends.
func newTestRoster(t *testing.T) (*Roster, *media.FakeClock) {
	t.Helper()
	noLeaks(t)
	clock := media.NewFakeClock(epoch)
	r := New(Options{Clock: clock, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(r.Close)
	return r, clock
}

// noLeaks fails the test if, once its cleanups have run, goroutines of this
// package's streams or of HTTP connections are still alive. It polls, as
// goleak does, since a goroutine's exit cannot be waited on from outside.
func noLeaks(t *testing.T) {
	t.Helper()
	t.Cleanup(func() {
		var left []string
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if left = leftoverGoroutines(); len(left) == 0 {
				return
			}
		}
		t.Errorf("%d goroutines left:\n%s", len(left), strings.Join(left, "\n\n"))
	})
}

func leftoverGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var left []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "roster.(*") || strings.Contains(g, "net/http.(*conn).serve") ||
			strings.Contains(g, "net/http.(*persistConn)") {
			left = append(left, g)
		}
	}
	return left
}

// sseEvent is one event read from a stream; a comment has Type ":" and its
// text as Data.
type sseEvent struct{ Type, Data string }

// readSSE reads the next event or comment from an event stream.
func readSSE(br *bufio.Reader) (sseEvent, error) {
	var ev sseEvent
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if err == io.EOF && line != "" {
				err = io.ErrUnexpectedEOF
			}
			return ev, err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if ev.Type != "" || ev.Data != "" {
				return ev, nil
			}
		case strings.HasPrefix(line, ":"):
			return sseEvent{Type: ":", Data: strings.TrimSpace(line[1:])}, nil
		default:
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "event":
				ev.Type = value
			case "data":
				if ev.Data != "" {
					ev.Data += "\n"
				}
				ev.Data += value
			}
		}
	}
}

// recv returns the next event of s, failing the test if none comes.
func recv(t *testing.T, s *Subscription) Event {
	t.Helper()
	select {
	case ev, ok := <-s.C():
		if !ok {
			t.Fatal("subscription closed")
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
		return Event{}
	}
}

// pending returns the events s holds now, without waiting.
func pending(s *Subscription) []Event {
	var evs []Event
	for {
		select {
		case ev, ok := <-s.C():
			if !ok {
				return evs
			}
			evs = append(evs, ev)
		default:
			return evs
		}
	}
}

func types(evs []Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.Type
	}
	return out
}
