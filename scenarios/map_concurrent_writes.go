package scenarios

import (
	"context"
	"fmt"
	"sync"
)

var mapConcurrentWrites = Scenario{
	ID:       "map-concurrent-writes",
	Title:    "Two goroutines write one map",
	Category: "Crashes",
	Statement: "Two goroutines fill one map, each with its own keys. No key is written twice. " +
		"Is that safe?",
	Failure: "No. A Go map is not safe for concurrent use, even with distinct keys: an insert " +
		"may grow the table and move every entry. The runtime flags a map while it writes to it " +
		"and, when a second writer sees the flag, stops the whole program with \"fatal error: " +
		"concurrent map writes\". This is not a panic: recover cannot catch it. Here the two " +
		"writers run in parallel from a common start, so the runtime catches them within the " +
		"first few thousand writes.",
	Fix: "Let one goroutine at a time touch the map. A sync.Mutex around each write is the " +
		"plain answer. sync.Map does its own locking and suits keys written once and read " +
		"often. Or give the map a single owner goroutine that applies writes sent to it on a " +
		"channel, so no one else ever touches it.",
	File: "map_concurrent_writes.go",
	Variants: []Variant{
		{Name: "broken", Expect: Crash, Run: mapWritesBroken},
		{Name: "fixed-mutex", Expect: OK, Run: mapWritesMutex},
		{Name: "fixed-syncmap", Expect: OK, Run: mapWritesSyncMap},
		{Name: "fixed-owner", Expect: OK, Run: mapWritesOwner},
	},
	DefaultFixed: "fixed-mutex",
}

// The broken writers write until the runtime notices them; the fixed ones
// write a small number of keys each, enough to check and to watch.
const (
	mapBrokenWrites = 50_000_000
	mapFixedWrites  = 1000
)

// checkMapLen is the fixed variants' check that no write was lost.
func checkMapLen(n int) error {
	fmt.Println("keys in the map:", n)
	if n != 2*mapFixedWrites {
		return fmt.Errorf("map has %d keys, want %d", n, 2*mapFixedWrites)
	}
	return nil
}

// mapWritesBroken writes one map from two goroutines at once.
func mapWritesBroken(ctx context.Context) error {
	m := map[int]int{}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range mapBrokenWrites {
				m[w*mapBrokenWrites+i%1000] = i // BUG: two goroutines write the map at once
			}
		}()
	}
	close(start)
	wg.Wait()
	return fmt.Errorf("%d parallel writes went unnoticed", 2*mapBrokenWrites)
}

// mapWritesMutex takes a lock around each write.
func mapWritesMutex(ctx context.Context) error {
	m := map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range mapFixedWrites {
				mu.Lock() // FIX: one writer at a time
				m[w*mapFixedWrites+i] = i
				mu.Unlock() // FIX
			}
		}()
	}
	wg.Wait()
	return checkMapLen(len(m))
}

// mapWritesSyncMap uses sync.Map, which locks internally.
func mapWritesSyncMap(ctx context.Context) error {
	var m sync.Map // FIX: safe for concurrent use
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range mapFixedWrites {
				m.Store(w*mapFixedWrites+i, i) // FIX
			}
		}()
	}
	wg.Wait()
	n := 0
	m.Range(func(k, v any) bool { n++; return true })
	return checkMapLen(n)
}

// put is a write request sent to the map's owner.
type put struct{ key, value int }

// mapWritesOwner lets a single goroutine own the map.
func mapWritesOwner(ctx context.Context) error {
	puts := make(chan put)
	owned := make(chan map[int]int)
	go func() {
		m := map[int]int{} // FIX: only this goroutine touches m
		for p := range puts {
			m[p.key] = p.value
		}
		owned <- m
	}()

	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range mapFixedWrites {
				puts <- put{w*mapFixedWrites + i, i} // FIX: ask the owner to write
			}
		}()
	}
	wg.Wait()
	close(puts)
	return checkMapLen(len(<-owned))
}
