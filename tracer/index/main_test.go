package index

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that Build leaves no goroutine behind: its reader exits
// with it, whether the input ends or the context does.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
