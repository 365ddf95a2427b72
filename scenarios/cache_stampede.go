package scenarios

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

var cacheStampede = Scenario{
	ID:       "cache-stampede",
	Title:    "Ten misses, ten trips to the database",
	Category: "Wrong results",
	Statement: "A read-through cache loads a missing key from a slow database (20 ms) and " +
		"stores it. Ten requests for the same cold key arrive at once. How many times is the " +
		"database asked?",
	Failure: "Ten. Each request finds the key missing before the first load has stored it, so " +
		"each one loads it itself: a stampede of identical queries at the moment the database " +
		"can least afford it (after a restart, or when a hot key expires). The cache's lock " +
		"does not help; it protects the map, not the loading. The requests start together here " +
		"so that all ten miss in every run.",
	Fix: "Deduplicate concurrent loads of one key with golang.org/x/sync/singleflight: the " +
		"first caller of Do for a key runs the load, and the callers that arrive while it runs " +
		"wait for it and share its result. Inside Do the cache is checked once more, so a " +
		"caller that arrives just after a load finished does not start another.",
	File: "cache_stampede.go",
	Variants: []Variant{
		{Name: "broken", Expect: Wrong, Run: stampedeBroken},
		{Name: "fixed", Expect: OK, Run: stampedeFixed},
	},
}

// readThrough is a cache in front of a slow database.
type readThrough struct {
	mu    sync.Mutex
	data  map[string]string
	loads atomic.Int32 // database queries
	group singleflight.Group
}

// query stands for the slow database.
func (c *readThrough) query(key string) string {
	c.loads.Add(1)
	time.Sleep(20 * time.Millisecond)
	return "profile of " + key
}

func (c *readThrough) cached(key string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.data[key]
	return v, ok
}

func (c *readThrough) store(key, v string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.data[key] = v
}

// getBroken loads on every miss.
func (c *readThrough) getBroken(key string) string {
	if v, ok := c.cached(key); ok {
		return v
	}
	v := c.query(key) // BUG: every concurrent miss queries the database
	c.store(key, v)
	return v
}

// getFixed lets one load per key run at a time; the others share it.
func (c *readThrough) getFixed(key string) string {
	if v, ok := c.cached(key); ok {
		return v
	}
	v, _, _ := c.group.Do(key, func() (any, error) { // FIX: one load per key at a time
		if v, ok := c.cached(key); ok { // FIX: loaded just before we got here
			return v, nil
		}
		v := c.query(key)
		c.store(key, v)
		return v, nil
	})
	return v.(string)
}

// requestProfile sends ten requests for one cold key at once.
func requestProfile(ctx context.Context, c *readThrough, get func(string) string) error {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_ = get("user:42")
		}()
	}
	close(start)
	wg.Wait()
	n := c.loads.Load()
	show(ctx, "database", "%d queries for 10 requests", n)
	if n != 1 {
		return fmt.Errorf("%d database queries for one key, want 1", n)
	}
	return nil
}

func stampedeBroken(ctx context.Context) error {
	c := &readThrough{data: map[string]string{}}
	return requestProfile(ctx, c, c.getBroken)
}

func stampedeFixed(ctx context.Context) error {
	c := &readThrough{data: map[string]string{}}
	return requestProfile(ctx, c, c.getFixed)
}
