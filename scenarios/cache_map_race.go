package scenarios

import (
	"context"
	"fmt"
	"sync"
	"time"
)

var cacheMapRace = Scenario{
	ID:       "cache-map-race",
	Title:    "A cache without a lock",
	Category: "Races",
	Statement: "A Cache wraps a map with Get and Set. One goroutine fills it while another " +
		"reads from it. The reader comes a few milliseconds later. Is that safe?",
	Failure: "No. Get reads the map and Set writes it with nothing ordering the two, which is " +
		"a data race however far apart they happen to be in time: sleeping is not " +
		"synchronisation. The race detector reports it in every run. If the accesses did " +
		"overlap, the runtime would stop the program with \"concurrent map read and map " +
		"write\"; the reader waits here so that the detector's report, not that crash, is what " +
		"you see.",
	Fix: "Guard the map with a sync.RWMutex: Get takes the read lock, so readers share it, and " +
		"Set takes the write lock, so a writer is alone. The lock's release and acquire order " +
		"the accesses, which is what the race detector checks.",
	File: "cache_map_race.go",
	Race: true,
	Variants: []Variant{
		{Name: "broken", Expect: Race, Run: cacheRaceBroken},
		{Name: "fixed", Expect: OK, Run: cacheRaceFixed},
	},
}

// unsafeCache is the cache as first written: a bare map.
type unsafeCache struct {
	data map[string]string
}

func (c *unsafeCache) Get(key string) string {
	return c.data[key] // BUG: reads the map with no lock
}

func (c *unsafeCache) Set(key, value string) {
	c.data[key] = value // BUG: writes the map with no lock
}

// lockedCache guards its map with a read-write lock.
type lockedCache struct {
	mu   sync.RWMutex // FIX: guards data
	data map[string]string
}

func (c *lockedCache) Get(key string) string {
	c.mu.RLock() // FIX: readers share the lock
	defer c.mu.RUnlock()
	return c.data[key]
}

func (c *lockedCache) Set(key, value string) {
	c.mu.Lock() // FIX: a writer is alone
	defer c.mu.Unlock()
	c.data[key] = value
}

// cache is what both versions offer.
type cache interface {
	Get(key string) string
	Set(key, value string)
}

// useCache fills the cache from one goroutine and reads it from another.
func useCache(c cache) error {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		c.Set("user:1", "ada")
		c.Set("user:2", "grace")
	}()
	go func() {
		defer wg.Done()
		time.Sleep(5 * time.Millisecond) // keeps the accesses apart in time, not in order
		fmt.Println("user:1 =", c.Get("user:1"))
	}()
	wg.Wait()
	if got := c.Get("user:2"); got != "grace" {
		return fmt.Errorf("user:2 = %q, want %q", got, "grace")
	}
	return nil
}

// cacheRaceBroken uses the cache without a lock.
func cacheRaceBroken(ctx context.Context) error {
	return useCache(&unsafeCache{data: map[string]string{}})
}

// cacheRaceFixed uses the locked cache.
func cacheRaceFixed(ctx context.Context) error {
	return useCache(&lockedCache{data: map[string]string{}})
}
