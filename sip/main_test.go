package sip

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine a leg, a registration or the server starts must be gone
// when the tests end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
