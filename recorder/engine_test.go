package recorder_test

import (
	"bytes"
	"crypto/ed25519"
	"io"
	"log/slog"
	"math"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/setbridge/setbridge/media"
	"github.com/setbridge/setbridge/media/wav"
	"github.com/setbridge/setbridge/mixerengine"
	"github.com/setbridge/setbridge/recorder"
)

// burster speaks a numbered tone burst every period ticks (burst k at
// 300+50k Hz for 10 ticks) and loses every 7th packet.
type burster struct {
	rate   int
	period int
	frame  int
}

func (b *burster) ReadFrame(dst []int16) bool {
	b.frame++
	if b.frame%7 == 0 {
		return false // lost: the mixer mixes silence for it
	}
	k := b.frame / b.period
	if b.frame%b.period >= 10 {
		clear(dst)
		return true
	}
	f := 300 + 50*float64(k)
	for i := range dst {
		n := float64(b.frame*len(dst) + i)
		dst[i] = int16(6000 * math.Sin(2*math.Pi*f*n/float64(b.rate)))
	}
	return true
}

func (b *burster) WriteFrame([]int16) {}

// TestRecordingEqualsTheMixerTapBetweenStartAndStop drives a real room on a
// fake clock and checks the recording against the tap, byte for byte.
func TestRecordingEqualsTheMixerTapBetweenStartAndStop(t *testing.T) {
	const (
		rate   = 16000
		t1, t2 = 17, 140
	)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	clk := media.NewFakeClock(time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC))
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, ed25519.SeedSize))
	id, _ := recorder.NewID(clk.Now())
	rec, err := recorder.New(recorder.Config{Dir: t.TempDir(), Room: "r", ID: id, Rate: rate,
		SegmentDuration: time.Second, Clock: clk, Logger: quiet, Signer: key})
	if err != nil {
		t.Fatal(err)
	}
	e := mixerengine.New(mixerengine.Config{Clock: clk, Rate: rate, Logger: quiet,
		OnTalkers: func(_ mixerengine.RoomID, tick uint64, talkers []mixerengine.ParticipantID) {
			ids := make([]recorder.ParticipantID, len(talkers))
			for i, p := range talkers {
				ids[i] = recorder.ParticipantID(p)
			}
			rec.Talkers(tick, ids)
		}})
	defer e.Close()

	var (
		mu    sync.Mutex
		tap   = map[uint64][]int16{}
		ticks = make(chan uint64, 1)
	)
	defer e.Tap("r", rec.Frame)()
	defer e.Tap("r", func(tick uint64, mix []int16) {
		mu.Lock()
		tap[tick] = slices.Clone(mix)
		mu.Unlock()
		ticks <- tick
	})()
	if err := rec.Start(t1); err != nil {
		t.Fatal(err)
	}
	if err := rec.Stop(t2); err != nil {
		t.Fatal(err)
	}
	for i, p := range []*burster{{rate: rate, period: 23}, {rate: rate, period: 31, frame: 5}} {
		id := mixerengine.ParticipantID([]string{"alice", "bob"}[i])
		rec.Event(0, recorder.EventJoin, recorder.ParticipantID(id))
		if _, err := e.JoinWithID("r", id, p); err != nil {
			t.Fatal(err)
		}
	}
	for range t2 + 20 {
		clk.Advance(media.FrameDuration)
		select {
		case <-ticks:
		case <-time.After(10 * time.Second):
			t.Fatal("the room did not tick")
		}
	}
	st, err := rec.Wait(t.Context())
	if err != nil || st.StartTick != t1 || st.StopTick != t2 {
		t.Fatalf("%+v, %v", st, err)
	}

	m, _, err := recorder.ReadManifest(rec.Dir())
	if err != nil {
		t.Fatal(err)
	}
	var got []int16
	for _, s := range m.Segments {
		a, err := wav.ReadFile(filepath.Join(rec.Dir(), s.Name))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, a.Samples...)
	}
	var exp []int16
	loud := 0
	mu.Lock()
	for tick := uint64(t1); tick < t2; tick++ {
		exp = append(exp, tap[tick]...)
		for _, v := range tap[tick] {
			if v > 1000 || v < -1000 {
				loud++
				break
			}
		}
	}
	mu.Unlock()
	n := media.FrameSamples(rate)
	if len(got) != (t2-t1)*n || !slices.Equal(got, exp) {
		t.Fatalf("recording of %d samples differs from the tap's %d for ticks [%d, %d)", len(got), len(exp), t1, t2)
	}
	if loud < 20 {
		t.Fatalf("only %d loud frames: the room did not mix the bursts", loud)
	}
	if len(m.Participants) != 2 || len(m.Timeline) < 4 {
		t.Errorf("participants %v, timeline %v", m.Participants, m.Timeline)
	}
	if _, err := recorder.Verify(rec.Dir(), key.Public().(ed25519.PublicKey)); err != nil {
		t.Fatal(err)
	}
}
