package scenarios

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

var onceLazyInit = Scenario{
	ID:       "once-lazy-init",
	Title:    "Lazy initialisation without sync.Once",
	Category: "Races",
	Statement: "A config is loaded on first use: if cfg == nil { cfg = load() }. Ten request " +
		"goroutines ask for it at once. How many times is it loaded?",
	Failure: "Check-then-act is not atomic. Every goroutine that reads cfg before the first " +
		"load finishes sees nil and loads again, so the slow load runs up to ten times and " +
		"callers may hold different configs. The unguarded read and write of cfg are also a " +
		"data race, which the race detector reports in every run. The goroutines start together " +
		"and the load takes a few milliseconds, so several of them always see nil.",
	Fix: "sync.Once runs the load exactly once, and every other caller of Do waits until it " +
		"has finished, so they all see the loaded config, and the race detector sees the " +
		"ordering Once provides.",
	File: "once_lazy_init.go",
	Race: true,
	Variants: []Variant{
		{Name: "broken", Expect: Race, Run: lazyInitBroken},
		{Name: "fixed", Expect: OK, Run: lazyInitFixed},
	},
}

// config is something slow to build that every request needs.
type config struct{ dsn string }

// loader counts how often the config is loaded.
type loader struct{ loads atomic.Int32 }

func (l *loader) load() *config {
	l.loads.Add(1)
	time.Sleep(5 * time.Millisecond)
	return &config{dsn: "postgres://db/app"}
}

// lazyConfig loads on first use, with a plain nil check.
type lazyConfig struct {
	loader
	cfg *config
}

func (c *lazyConfig) get() *config {
	if c.cfg == nil { // BUG: many goroutines can see nil at once
		c.cfg = c.load() // BUG: and each of them loads and writes cfg
	}
	return c.cfg // BUG: may read cfg while another goroutine writes it
}

// onceConfig loads on first use, exactly once.
type onceConfig struct {
	loader
	once sync.Once // FIX
	cfg  *config
}

func (c *onceConfig) get() *config {
	c.once.Do(func() { c.cfg = c.load() }) // FIX: one load; the others wait for it
	return c.cfg
}

// requestConfig starts ten requests that all need the config.
func requestConfig(get func() *config, l *loader) error {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_ = get().dsn
		}()
	}
	close(start)
	wg.Wait()
	n := l.loads.Load()
	fmt.Println("config loaded", n, "times")
	if n != 1 {
		return fmt.Errorf("config loaded %d times, want once", n)
	}
	return nil
}

// lazyInitBroken initialises with check-then-act.
func lazyInitBroken(ctx context.Context) error {
	c := &lazyConfig{}
	return requestConfig(c.get, &c.loader)
}

// lazyInitFixed initialises with sync.Once.
func lazyInitFixed(ctx context.Context) error {
	c := &onceConfig{}
	return requestConfig(c.get, &c.loader)
}
