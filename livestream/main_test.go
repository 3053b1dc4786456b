package livestream

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine a Manager starts must be gone when the tests end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
