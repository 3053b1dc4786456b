// Package spandsp wraps the G.722 codec of the spandsp C library for the
// bit-exactness test of package g722. It is empty unless built with the
// spandsp build tag (and cgo, and libspandsp-dev installed):
//
//	go test -tags spandsp ./media/g722/
//
// It lives in its own package because cgo cannot be used in _test.go files.
package spandsp
