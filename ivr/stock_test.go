package ivr

import (
	"strconv"
	"sync"
	"testing"
)

var (
	stockMu   sync.Mutex
	stockSets = map[int]*PromptSet{}
)

// stockSet loads the stock prompts at rate once per test binary.
func stockSet(t testing.TB, rate int) *PromptSet {
	t.Helper()
	stockMu.Lock()
	defer stockMu.Unlock()
	if s, ok := stockSets[rate]; ok {
		return s
	}
	s, err := LoadPrompts(PromptConfig{Rate: rate})
	if err != nil {
		t.Fatal(err)
	}
	stockSets[rate] = s
	return s
}

func rateName(rate int) string { return strconv.Itoa(rate) + " Hz" }
