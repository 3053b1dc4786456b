package ivr

import (
	"errors"
	"slices"
	"testing"

	"github.com/setbridge/setbridge/media"
)

func testPrompt(name string, rate, n int, base int16) *Prompt {
	v := make([]int16, n)
	for i := range v {
		v[i] = base + int16(i%50) + 1
	}
	return &Prompt{name: name, rate: rate, samples: v}
}

func TestPlayerPlaysAQueueBackToBack(t *testing.T) {
	for _, rate := range []int{8000, 16000, 48000} {
		t.Run(rateName(rate), func(t *testing.T) {
			fs := media.FrameSamples(rate)
			// Lengths that end mid-frame, a prompt shorter than the rest
			// of a frame, and one that ends exactly on a frame.
			a := testPrompt("a", rate, fs*2+fs/3, 1000)
			b := testPrompt("b", rate, fs/5, 2000)
			c := testPrompt("c", rate, fs*3-fs/3-fs/5, 3000)
			p, err := NewPlayer(rate)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Enqueue(a, b, c); err != nil {
				t.Fatal(err)
			}
			var got []int16
			var frames []Frame
			dst := make([]int16, fs)
			for range 8 {
				f := p.Read(dst)
				frames = append(frames, f)
				got = append(got, dst...)
			}
			want := slices.Concat(a.samples, b.samples, c.samples)
			if d := firstDiff(got[:len(want)], want); d != "" {
				t.Fatalf("audio: %s", d)
			}
			for i, v := range got[len(want):] {
				if v != 0 {
					t.Fatalf("sample %d after the queue is %d, want 0", len(want)+i, v)
				}
			}
			wantFrames := []Frame{
				{Audio: true, Marker: true, Started: "a"},
				{Audio: true},
				{Audio: true, Started: "b"},
				{Audio: true},
				{Audio: true, Drained: true},
				{}, {}, {},
			}
			if !slices.Equal(frames, wantFrames) {
				t.Fatalf("frames:\n got  %+v\n want %+v", frames, wantFrames)
			}
		})
	}
}

func TestPlayerMarksEachTalkSpurt(t *testing.T) {
	p, _ := NewPlayer(8000)
	dst := make([]int16, p.FrameSamples())
	pr := testPrompt("a", 8000, 200, 1)
	var markers []bool
	for i := range 10 {
		if i == 0 || i == 5 {
			_ = p.Enqueue(pr)
		}
		_, m := p.ReadFrameMarker(dst)
		markers = append(markers, m)
	}
	want := []bool{true, false, false, false, false, true, false, false, false, false}
	if !slices.Equal(markers, want) {
		t.Fatalf("markers %v, want %v", markers, want)
	}
}

func TestPlayerStopTakesEffectAtTheNextFrame(t *testing.T) {
	p, _ := NewPlayer(16000)
	dst := make([]int16, p.FrameSamples())
	a := testPrompt("a", 16000, 16000, 1)
	b := testPrompt("b", 16000, 800, 500)
	_ = p.Enqueue(a, b)
	for range 3 {
		if !p.Read(dst).Audio {
			t.Fatal("prompt not playing")
		}
	}
	p.Stop()
	if p.Busy() {
		t.Fatal("busy after Stop")
	}
	if f := p.Read(dst); f.Audio || slices.ContainsFunc(dst, func(v int16) bool { return v != 0 }) {
		t.Fatalf("frame after Stop: %+v, not silent", f)
	}
	// A prompt queued after Stop plays from its start, as a new spurt.
	_ = p.Enqueue(b)
	f := p.Read(dst)
	if !f.Audio || !f.Marker || f.Started != "b" || firstDiff(dst, b.samples[:len(dst)]) != "" {
		t.Fatalf("frame after Stop and Enqueue: %+v", f)
	}
}

func TestPlayerRefusesWhatItCannotPlay(t *testing.T) {
	if _, err := NewPlayer(44100); !errors.Is(err, ErrUnsupportedRate) {
		t.Errorf("NewPlayer(44100): %v, want ErrUnsupportedRate", err)
	}
	p, _ := NewPlayer(8000)
	err := p.Enqueue(testPrompt("a", 8000, 100, 1), testPrompt("b", 16000, 100, 1))
	if !errors.Is(err, ErrRateMismatch) {
		t.Errorf("Enqueue at another rate: %v, want ErrRateMismatch", err)
	}
	if p.Busy() {
		t.Error("a refused Enqueue queued something")
	}
	_ = p.Enqueue(testPrompt("a", 8000, 100, 1))
	if f := p.Read(make([]int16, 10)); f.Audio || !p.Busy() {
		t.Errorf("a short dst played %+v", f)
	}
}

func BenchmarkPlayerReadFrame(b *testing.B) {
	for _, rate := range []int{8000, 16000, 48000} {
		b.Run(rateName(rate), func(b *testing.B) {
			p, _ := NewPlayer(rate)
			pr := testPrompt("a", rate, rate*10, 1)
			dst := make([]int16, p.FrameSamples())
			b.ReportAllocs()
			for b.Loop() {
				if !p.ReadFrame(dst) {
					_ = p.Enqueue(pr)
				}
			}
		})
	}
}
