package leaky

import (
	"sync"
	"testing"
)

func TestFirstResult(t *testing.T) {
	if got := firstResult(); got != 0 && got != 1 {
		t.Fatalf("firstResult() = %d", got)
	}
}

// TestWatcher leaks a goroutine created by a goroutine that has exited: only
// the chain of creations ties it to the test.
func TestWatcher(t *testing.T) {
	startWatcher(make(chan string))
}

// TestParallel's subtests run at the same time; only "leaks" leaves a
// goroutine behind, and it must be reported for that subtest alone.
func TestParallel(t *testing.T) {
	t.Run("leaks", func(t *testing.T) {
		t.Parallel()
		block := make(chan struct{})
		go func() { // STARTED
			<-block // LEAK
		}()
	})
	t.Run("clean", func(t *testing.T) {
		t.Parallel()
		var wg sync.WaitGroup
		done := make(chan struct{})
		wg.Go(func() { <-done })
		close(done)
		wg.Wait()
	})
}

func TestNoGoroutines(t *testing.T) {
	if 1+1 != 2 {
		t.Fatal("arithmetic")
	}
}
