package web

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/concviz/concviz/tracer"
)

// TestMain is the only one of this package's test binary, shared with the
// browser tests of browser_test.go. The binary doubles as the scenario child
// of tracer.Run, so MaybeRunChild comes first; then every test must leave
// no goroutine behind.
func TestMain(m *testing.M) {
	tracer.MaybeRunChild()
	goleak.VerifyTestMain(m)
}
