package scenarios

import (
	"context"
	"sync/atomic"
	"time"
)

var contextIgnored = Scenario{
	ID:       "context-ignored",
	Title:    "A worker that ignores cancellation",
	Category: "Leaks",
	Statement: "A poller takes a context and polls every 10 ms. The caller cancels the context " +
		"after 30 ms and returns. Does the poller stop?",
	Failure: "Cancelling a context only closes its Done channel; it stops nothing by itself. " +
		"The poller never looks at ctx.Done(), so it polls for ever after the caller has gone: " +
		"a goroutine leak, and work nobody wants any more.",
	Fix: "Select on ctx.Done() wherever the worker waits, here beside the ticker, and return " +
		"when it is closed. The caller also waits until the poller has exited, so that it " +
		"knows the work has stopped.",
	File: "context_ignored.go",
	Variants: []Variant{
		{Name: "broken", Expect: Leak, Run: ctxIgnoredBroken},
		{Name: "fixed", Expect: OK, Run: ctxIgnoredFixed},
	},
}

// pollEvery is the poller's period.
const pollEvery = 10 * time.Millisecond

// pollBroken takes a context and never looks at it.
func pollBroken(ctx context.Context, polls *atomic.Int32) {
	for { // BUG: loops for ever; nothing here looks at ctx.Done()
		polls.Add(1)
		time.Sleep(pollEvery) // BUG: goes on polling after cancel
	}
}

// pollFixed returns as soon as its context is cancelled.
func pollFixed(ctx context.Context, polls *atomic.Int32) {
	ticker := time.NewTicker(pollEvery)
	defer ticker.Stop()
	for {
		polls.Add(1)
		select {
		case <-ctx.Done(): // FIX: stop when cancelled
			return
		case <-ticker.C:
		}
	}
}

// ctxIgnoredBroken cancels a poller that does not listen.
func ctxIgnoredBroken(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	var polls atomic.Int32
	go pollBroken(ctx, &polls)

	time.Sleep(30 * time.Millisecond)
	cancel()
	show(ctx, "polls", "%d before cancel", polls.Load())
	return nil
}

// ctxIgnoredFixed cancels a poller that listens, and waits for it to stop.
func ctxIgnoredFixed(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	var polls atomic.Int32
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		pollFixed(ctx, &polls)
	}()

	time.Sleep(30 * time.Millisecond)
	cancel()
	<-exited // FIX: the poller has stopped
	show(ctx, "polls", "%d before cancel", polls.Load())
	return nil
}
