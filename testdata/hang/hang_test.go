// Package hang has a test that deadlocks while another keeps running, for
// viz test's own tests: the blocking lines carry a HANG comment.
package hang

import (
	"testing"
	"time"
)

func TestFine(t *testing.T) {}

// TestBusy keeps running for longer than it takes to report the hang, so
// the hang must be told apart per test, not from the whole process.
func TestBusy(t *testing.T) {
	t.Parallel()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
}

// TestCrossWait's two goroutines each wait for the other first.
func TestCrossWait(t *testing.T) {
	t.Parallel()
	ping, pong := make(chan int), make(chan int)
	go func() {
		v := <-ping // HANG
		pong <- v
	}()
	v := <-pong // HANG
	ping <- v
}
