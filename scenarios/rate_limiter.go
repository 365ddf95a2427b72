package scenarios

import (
	"context"
	"time"
)

var rateLimiter = Scenario{
	ID:       "rate-limiter",
	Title:    "A rate limiter that never stops",
	Category: "Leaks",
	Statement: "A token bucket allows 100 requests a second: a ticker adds a token every " +
		"10 ms, and Wait takes one. The caller makes 105 requests and returns. What is left " +
		"running?",
	Failure: "The limiter is the module's: it starts a refill goroutine that ranges over its " +
		"ticker's channel, and nothing ever stops the ticker, so the goroutine waits for the " +
		"next tick for ever, long after the last request. Every limiter made and dropped this " +
		"way leaks a goroutine and a ticker. (The burst is also the whole bucket: the first 100 " +
		"requests go through at once; watch the tokens on the timeline.)",
	Fix: "Give the limiter a Stop method: it stops the ticker, closes a done channel that the " +
		"refill goroutine selects on, and waits until that goroutine has returned. The caller " +
		"defers Stop right after creating the limiter.",
	File: "rate_limiter.go",
	Variants: []Variant{
		{Name: "broken", Expect: Leak, Run: rateLimiterBroken},
		{Name: "fixed", Expect: OK, Run: rateLimiterFixed},
	},
}

// bucket holds the tokens; a refill goroutine adds one per tick.
type bucket struct {
	tokens chan struct{}
	ticker *time.Ticker
}

func newBucket(rps int) *bucket {
	b := &bucket{
		tokens: make(chan struct{}, rps),
		ticker: time.NewTicker(time.Second / time.Duration(rps)),
	}
	for range rps {
		b.tokens <- struct{}{}
	}
	return b
}

// refill adds a token unless the bucket is full.
func (b *bucket) refill() {
	select {
	case b.tokens <- struct{}{}:
	default:
	}
}

// Wait takes a token, waiting for one if the bucket is empty.
func (b *bucket) Wait(ctx context.Context) error {
	select {
	case <-b.tokens:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// newLeakyLimiter is the module's limiter: a refill goroutine with no exit.
func newLeakyLimiter(rps int) *bucket {
	b := newBucket(rps)
	go func() {
		for range b.ticker.C { // BUG: nobody stops the ticker, so this never ends
			b.refill()
		}
	}()
	return b
}

// stoppableLimiter is the same bucket with a way to stop its refill.
type stoppableLimiter struct {
	*bucket
	done    chan struct{} // closed by Stop
	stopped chan struct{} // closed when the refill goroutine returns
}

func newStoppableLimiter(rps int) *stoppableLimiter {
	l := &stoppableLimiter{bucket: newBucket(rps), done: make(chan struct{}), stopped: make(chan struct{})}
	go func() {
		defer close(l.stopped)
		for {
			select {
			case <-l.done: // FIX: an exit for the refill goroutine
				return
			case <-l.ticker.C:
				l.refill()
			}
		}
	}()
	return l
}

// Stop stops the ticker and the refill goroutine and waits for it.
func (l *stoppableLimiter) Stop() {
	l.ticker.Stop() // FIX
	close(l.done)   // FIX
	<-l.stopped
}

// makeRequests takes 105 tokens and shows when they came: the burst of 100
// at once, then one per tick. Only a few requests wait for ticks, because a
// caller and a refill goroutine that both wait on the ticker look stuck to
// the tracer's deadlock watchdog if they do so for long.
func makeRequests(ctx context.Context, wait func(context.Context) error) error {
	start := time.Now()
	for i := 1; i <= 105; i++ {
		if err := wait(ctx); err != nil {
			return err
		}
		if i%25 == 0 || i > 100 {
			show(ctx, "tokens", "%d taken after %v", i, time.Since(start).Round(time.Millisecond))
		}
	}
	return nil
}

func rateLimiterBroken(ctx context.Context) error {
	rl := newLeakyLimiter(100)
	return makeRequests(ctx, rl.Wait)
}

func rateLimiterFixed(ctx context.Context) error {
	rl := newStoppableLimiter(100)
	defer rl.Stop() // FIX: stop the limiter when done with it
	return makeRequests(ctx, rl.Wait)
}
