// Package racy has tests with data races, for viz test's own tests: the
// racing lines carry a RACE comment.
package racy

import (
	"sync"
	"testing"
)

func TestCounter(t *testing.T) {
	var n int
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			n++ // RACE
		})
	}
	wg.Wait()
	if n == 0 {
		t.Fatal("no increments")
	}
}

func TestLocked(t *testing.T) {
	var mu sync.Mutex
	var n int
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			mu.Lock()
			n++
			mu.Unlock()
		})
	}
	wg.Wait()
}

// TestParallel's subtests run at the same time; only "racy" races, and the
// race must be reported for that subtest alone.
func TestParallel(t *testing.T) {
	t.Run("racy", func(t *testing.T) {
		t.Parallel()
		var hits int
		done := make(chan bool)
		go func() {
			hits++ // RACE
			done <- true
		}()
		hits++ // RACE
		<-done
	})
	t.Run("clean", func(t *testing.T) {
		t.Parallel()
		hits := make(chan int, 2)
		go func() { hits <- 1 }()
		hits <- 1
		<-hits
		<-hits
	})
}
