//go:build spandsp && !cgo

package g722

import "testing"

// The spandsp reference test needs cgo; without it the tag would otherwise
// select no test at all and pass vacuously.
func TestReferenceSpandsp(t *testing.T) {
	t.Fatal("the spandsp build tag needs cgo (CGO_ENABLED=1, a C compiler and libspandsp-dev)")
}
