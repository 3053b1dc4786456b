package mixerengine

import (
	"slices"
	"testing"
)

// Levels below are -dBov on the RFC 6464 scale: smaller is louder, 127 is
// silence, -1 is no audio at all. The defaults apply unless a test says
// otherwise: threshold -50 dBov, margin 6 dB, 3 frames to confirm, 500 ms
// (25 ticks) of hang-over.

type rankPart struct {
	id    string
	level int
}

type rankStep struct {
	levels map[string]int                                        // level changes before the step
	do     func(t *testing.T, h *harness, ms map[string]*Member) // changes through the API before the step
	n      int                                                   // ticks to run (1 if 0)
	want   []string                                              // talkers after the last tick, sorted
}

func TestRanking(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		parts []rankPart
		steps []rankStep
	}{
		{
			name:  "the K loudest are selected after Confirm frames",
			cfg:   Config{TopK: 3},
			parts: []rankPart{{"f", 48}, {"e", 45}, {"d", 40}, {"c", 30}, {"b", 20}, {"a", 10}, {"noise", 55}},
			steps: []rankStep{
				{n: 2, want: nil},
				{want: []string{"a", "b", "c"}},
				{n: 20, want: []string{"a", "b", "c"}},
			},
		},
		{
			name:  "a burst shorter than Confirm frames is not selected",
			cfg:   Config{TopK: 2},
			parts: []rankPart{{"a", 127}},
			steps: []rankStep{
				{levels: map[string]int{"a": 20}, n: 2, want: nil},
				{levels: map[string]int{"a": 127}, n: 5, want: nil},
				{levels: map[string]int{"a": 20}, n: 3, want: []string{"a"}},
			},
		},
		{
			name:  "the threshold is -50 dBov inclusive",
			parts: []rankPart{{"at", 50}, {"below", 51}},
			steps: []rankStep{{n: 10, want: []string{"at"}}},
		},
		{
			name:  "a newcomer must be Margin louder than the weakest for Confirm frames",
			cfg:   Config{TopK: 1},
			parts: []rankPart{{"a", 30}, {"b", 127}},
			steps: []rankStep{
				{n: 3, want: []string{"a"}},
				{levels: map[string]int{"b": 25}, n: 20, want: []string{"a"}}, // 5 dB louder: not enough
				{levels: map[string]int{"b": 24}, n: 2, want: []string{"a"}},  // 6 dB louder: 2 frames
				{levels: map[string]int{"b": 25}, n: 1, want: []string{"a"}},  // streak broken
				{levels: map[string]int{"b": 24}, n: 2, want: []string{"a"}},
				{n: 1, want: []string{"b"}}, // third consecutive frame
				{n: 30, want: []string{"b"}},
			},
		},
		{
			name:  "a talker keeps its place for the hang-over after falling silent",
			cfg:   Config{TopK: 1},
			parts: []rankPart{{"a", 20}},
			steps: []rankStep{
				{n: 3, want: []string{"a"}},
				{levels: map[string]int{"a": 127}, n: 24, want: []string{"a"}},
				{n: 1, want: nil}, // 25 silent ticks: 500 ms
			},
		},
		{
			name:  "pauses shorter than the hang-over keep the place, and no audio counts as silence",
			cfg:   Config{TopK: 1},
			parts: []rankPart{{"a", 20}, {"b", 40}},
			steps: []rankStep{
				{n: 3, want: []string{"a"}},
				{levels: map[string]int{"a": -1}, n: 20, want: []string{"a"}},
				{levels: map[string]int{"a": 45}, n: 1, want: []string{"a"}}, // one quiet word
				{levels: map[string]int{"a": 127}, n: 24, want: []string{"a"}},
				{n: 1, want: []string{"b"}}, // released; b, waiting, takes the place on the same tick
			},
		},
		{
			name:  "a talker in hang-over is displaced by a newcomer Margin louder than its held level",
			cfg:   Config{TopK: 1},
			parts: []rankPart{{"a", 30}, {"b", 127}},
			steps: []rankStep{
				{n: 3, want: []string{"a"}},
				{levels: map[string]int{"a": 127, "b": 20}, n: 2, want: []string{"a"}},
				{n: 1, want: []string{"b"}},
			},
		},
		{
			name:  "the held level of a talker getting quieter rises by 1 dB per frame",
			cfg:   Config{TopK: 1},
			parts: []rankPart{{"a", 20}, {"b", 127}},
			steps: []rankStep{
				{n: 3, want: []string{"a"}},
				// a drops to -40 dBov: its held level climbs 20 → 21, 22,
				// 23, ... b at -16 dBov is 6 dB louder than the held level a
				// tick starts with from 22 on: ticks 6, 7 and 8.
				{levels: map[string]int{"a": 40, "b": 16}, n: 2, want: []string{"a"}},
				{n: 2, want: []string{"a"}},
				{n: 1, want: []string{"b"}},
			},
		},
		{
			name:  "the held level of a talker getting louder follows at once",
			cfg:   Config{TopK: 1},
			parts: []rankPart{{"a", 20}, {"b", 127}},
			steps: []rankStep{
				{n: 3, want: []string{"a"}},
				{levels: map[string]int{"a": 10}, n: 1, want: []string{"a"}}, // held 10
				// From 10 the held level needs 12 frames to reach 22.
				{levels: map[string]int{"a": 40, "b": 16}, n: 12, want: []string{"a"}},
				{n: 2, want: []string{"a"}},
				{n: 1, want: []string{"b"}},
			},
		},
		{
			name:  "a muted participant is never selected, and muting a talker releases it at once",
			cfg:   Config{TopK: 2},
			parts: []rankPart{{"a", 20}, {"b", 20}, {"c", 127}},
			steps: []rankStep{
				{do: mute("a", true), n: 10, want: []string{"b"}},
				{do: mute("a", false), n: 2, want: []string{"b"}},
				{n: 1, want: []string{"a", "b"}},
				{do: mute("b", true), n: 1, want: []string{"a"}},
			},
		},
		{
			name:  "K changes at runtime",
			cfg:   Config{TopK: 5},
			parts: []rankPart{{"a", 10}, {"b", 12}, {"c", 14}, {"d", 16}, {"e", 18}, {"f", 20}},
			steps: []rankStep{
				{n: 3, want: []string{"a", "b", "c", "d", "e"}},
				{do: topK(2), n: 1, want: []string{"a", "b"}},
				{do: topK(4), n: 1, want: []string{"a", "b", "c", "d"}},
				{do: topK(6), n: 1, want: []string{"a", "b", "c", "d", "e", "f"}},
				{do: topK(1), n: 1, want: []string{"a"}},
			},
		},
		{
			name:  "a talker leaving while selected is replaced on the next tick",
			cfg:   Config{TopK: 2},
			parts: []rankPart{{"a", 20}, {"b", 20}, {"c", 20}},
			steps: []rankStep{
				{n: 3, want: []string{"a", "b"}},
				{n: 5, want: []string{"a", "b"}},
				{do: leave("a"), n: 1, want: []string{"b", "c"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.cfg)
			parts := map[string]*scripted{}
			ms := map[string]*Member{}
			for _, p := range tt.parts {
				parts[p.id] = newScripted(p.level)
				ms[p.id] = h.join(ParticipantID(p.id), parts[p.id])
			}
			for i, st := range tt.steps {
				for id, l := range st.levels {
					parts[id].level.Store(int32(l))
				}
				if st.do != nil {
					st.do(t, h, ms)
				}
				h.steps(max(st.n, 1))
				if got := h.talkers(); !slices.Equal(got, st.want) {
					t.Fatalf("step %d: talkers %v, want %v", i, got, st.want)
				}
			}
		})
	}
}

func mute(id string, muted bool) func(*testing.T, *harness, map[string]*Member) {
	return func(_ *testing.T, _ *harness, ms map[string]*Member) { ms[id].SetMuted(muted) }
}

func leave(id string) func(*testing.T, *harness, map[string]*Member) {
	return func(_ *testing.T, _ *harness, ms map[string]*Member) { ms[id].Leave() }
}

func topK(k int) func(*testing.T, *harness, map[string]*Member) {
	return func(t *testing.T, h *harness, _ map[string]*Member) {
		if err := h.e.SetTopK(h.room, k); err != nil {
			t.Fatal(err)
		}
	}
}
