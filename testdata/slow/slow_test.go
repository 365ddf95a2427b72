// Package slow has a test that is busy (asleep, not blocked) far longer
// than the timeout viz test's own tests give it: go test's -timeout must end
// it, and the report must name the test.
package slow

import (
	"testing"
	"time"
)

func TestSlow(t *testing.T) {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // SLEEP
	}
}
