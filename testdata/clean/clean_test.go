// Package clean has tests that use goroutines correctly; viz test must
// report nothing for them and exit 0.
package clean

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestWaitGroup(t *testing.T) {
	var wg sync.WaitGroup
	results := make([]int, 4)
	for i := range results {
		wg.Go(func() { results[i] = i * i })
	}
	wg.Wait()
}

// TestShortTimer blocks on a timer well under the hang period.
func TestShortTimer(t *testing.T) {
	select {
	case <-time.After(50 * time.Millisecond):
	case <-t.Context().Done():
		t.Fatal("cancelled")
	}
}

// TestWorkerStops stops its worker before it returns.
func TestWorkerStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
	}()
	cancel()
	<-stopped
}

func TestParallel(t *testing.T) {
	for _, name := range []string{"a", "b", "c"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ch := make(chan int, 1)
			go func() { ch <- len(name) }()
			<-ch
		})
	}
}

// TestSlowTimer waits in a select on a timer longer than the hang period
// viz test's own tests give this package: the watchdog must see the timer
// on the line and not call it a hang.
func TestSlowTimer(t *testing.T) {
	never := make(chan int)
	select {
	case <-never:
		t.Fatal("never sends")
	case <-time.After(600 * time.Millisecond):
	}
}
