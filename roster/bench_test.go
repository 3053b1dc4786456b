package roster

import (
	"log/slog"
	"testing"
)

func BenchmarkSetSpeakingUnchanged(b *testing.B) {
	r := New(Options{Logger: slog.New(slog.DiscardHandler)})
	defer r.Close()
	for _, id := range []string{"a", "b", "c"} {
		r.Join("demo", Participant{ID: id})
	}
	s := r.Subscribe("demo")
	defer s.Close()
	ids := []string{"a", "b", "c"}
	r.SetSpeaking("demo", ids)
	b.ReportAllocs()
	for b.Loop() {
		r.SetSpeaking("demo", ids)
	}
}

func BenchmarkSetSpeakingChanged(b *testing.B) {
	r := New(Options{Logger: slog.New(slog.DiscardHandler)})
	defer r.Close()
	s := r.Subscribe("demo")
	defer s.Close()
	sel := [2][]string{{"a", "b"}, {"b", "a"}}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r.SetSpeaking("demo", sel[i&1])
		i++
	}
}
