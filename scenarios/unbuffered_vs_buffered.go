package scenarios

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

var unbufferedVsBuffered = Scenario{
	ID:       "unbuffered-vs-buffered",
	Title:    "When does a sender block?",
	Category: "Lessons",
	Statement: "A producer sends five jobs on a channel to a consumer that takes 20 ms per " +
		"job. How long is the producer busy sending, with an unbuffered channel and with a " +
		"buffer of five?",
	Failure: "An unbuffered send completes only when a receiver takes the value: a hand-over. " +
		"The consumer takes the next job only after finishing the previous one, so the " +
		"producer is held at the consumer's pace, 80 ms for five jobs, and can do nothing else " +
		"meanwhile. On the timeline its lane is blocked on send between the consumer's " +
		"receives. That is not a bug in itself (it is back-pressure), but here the producer was " +
		"meant to hand off the jobs and go on.",
	Fix: "A buffer of five lets the producer drop all five jobs into the channel and go on at " +
		"once; the consumer works through them at its own pace. A send blocks only when the " +
		"buffer is full, so the buffer size is how far the producer may run ahead.",
	File: "unbuffered_vs_buffered.go",
	Variants: []Variant{
		{Name: "broken", Expect: Wrong, Run: unbufferedBroken},
		{Name: "fixed", Expect: OK, Run: unbufferedFixed},
	},
}

// produceConsume sends five jobs to a slow consumer and reports how long
// the producer spent sending. Its check counts instead of timing, so that a
// busy machine cannot fail it: a producer held at the consumer's pace ends
// only after the consumer has taken (nearly) every job.
func produceConsume(ctx context.Context, jobs chan int) error {
	var taken atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range jobs {
			taken.Add(1)
			time.Sleep(20 * time.Millisecond)
		}
	}()

	start := time.Now()
	for j := range 5 {
		jobs <- j // BUG: without a buffer, waits for the consumer each time
	}
	close(jobs)
	busy, n := time.Since(start), taken.Load()
	show(ctx, "producer", "sent 5 jobs in %v", busy.Round(time.Millisecond))
	<-done
	if n > 3 {
		return fmt.Errorf("the producer was held up for %v: it could finish only after the consumer had taken %d of 5 jobs", busy.Round(time.Millisecond), n)
	}
	return nil
}

func unbufferedBroken(ctx context.Context) error {
	return produceConsume(ctx, make(chan int)) // BUG: no buffer
}

func unbufferedFixed(ctx context.Context) error {
	return produceConsume(ctx, make(chan int, 5)) // FIX: room for every job
}
