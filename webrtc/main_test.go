package webrtc

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine a session or the Edge starts must be gone when the tests
// end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
