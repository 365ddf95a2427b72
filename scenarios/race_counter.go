package scenarios

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

var raceCounter = Scenario{
	ID:       "race-counter",
	Title:    "A thousand goroutines increment one counter",
	Category: "Races",
	Statement: "1000 goroutines each run counter++ on one shared int, and a WaitGroup waits " +
		"for all of them. Does the program print 1000?",
	Failure: "counter++ is three steps: read the value, add one, write it back. Two goroutines " +
		"that read the same value both write value+1, and one increment is lost. Nothing orders " +
		"the goroutines' accesses, so this is a data race; the race detector reports it in every " +
		"run, even in the runs where the total happens to come out right. The WaitGroup only " +
		"makes the caller wait; it does not protect the counter.",
	Fix: "Make each increment indivisible. A sync.Mutex lets one goroutine at a time do the " +
		"read-add-write; an atomic.Int64 does it in one hardware instruction (the best choice for " +
		"a plain counter); or the goroutines send their 1 on a channel and only the caller adds, " +
		"so the counter has a single owner.",
	File: "race_counter.go",
	Race: true,
	Variants: []Variant{
		{Name: "broken", Expect: Race, Run: counterBroken},
		{Name: "fixed-mutex", Expect: OK, Run: counterMutex},
		{Name: "fixed-atomic", Expect: OK, Run: counterAtomic},
		{Name: "fixed-channel", Expect: OK, Run: counterChannel},
	},
	DefaultFixed: "fixed-mutex",
}

// counterGoroutines is how many goroutines increment the counter.
const counterGoroutines = 1000

// checkCount is the scenario's own check of the total.
func checkCount(counter int) error {
	fmt.Println("counter =", counter)
	if counter != counterGoroutines {
		return fmt.Errorf("counter = %d, want %d", counter, counterGoroutines)
	}
	return nil
}

// counterBroken increments a plain int from every goroutine.
func counterBroken(ctx context.Context) error {
	counter := 0
	var wg sync.WaitGroup
	for range counterGoroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			counter++ // BUG: unsynchronised read-modify-write
		}()
	}
	wg.Wait()
	return checkCount(counter)
}

// counterMutex holds a mutex around each increment.
func counterMutex(ctx context.Context) error {
	counter := 0
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range counterGoroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mu.Lock() // FIX: one goroutine at a time
			counter++
			mu.Unlock() // FIX
		}()
	}
	wg.Wait()
	return checkCount(counter)
}

// counterAtomic uses an atomic integer.
func counterAtomic(ctx context.Context) error {
	var counter atomic.Int64 // FIX: increments are indivisible
	var wg sync.WaitGroup
	for range counterGoroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			counter.Add(1) // FIX
		}()
	}
	wg.Wait()
	return checkCount(int(counter.Load()))
}

// counterChannel lets the caller own the counter; goroutines only send.
func counterChannel(ctx context.Context) error {
	ones := make(chan int, counterGoroutines)
	for range counterGoroutines {
		go func() {
			ones <- 1 // FIX: send instead of touching the counter
		}()
	}
	counter := 0
	for range counterGoroutines {
		counter += <-ones // FIX: only the caller adds
	}
	return checkCount(counter)
}
