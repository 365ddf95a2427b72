package scenarios

import (
	"context"
	"fmt"
	"time"
)

var selectDefaultSpin = Scenario{
	ID:       "select-default-spin",
	Title:    "A select with default that spins",
	Category: "Wrong results",
	Statement: "A loop waits for a result with select { case v := <-ready: ... default: }. " +
		"The result comes after 50 ms. What does the loop do meanwhile?",
	Failure: "default makes the select non-blocking: when ready has nothing, the select " +
		"returns at once and the loop goes round again, millions of times, burning a whole " +
		"CPU to wait. On the timeline the waiting goroutine is running the whole time, beside " +
		"the sender that sleeps. The scenario counts the rounds and fails when the loop spun.",
	Fix: "Drop the default and let the select block: the goroutine parks, uses no CPU, and " +
		"wakes when the value arrives (add a case <-ctx.Done() or a timer case to give up). " +
		"default is for doing something else when nothing is ready, not for waiting.",
	File: "select_default_spin.go",
	Variants: []Variant{
		{Name: "broken", Expect: Wrong, Run: spinBroken},
		{Name: "fixed", Expect: OK, Run: spinFixed},
	},
}

// produceLater sends a result after a while, as a slow worker would.
func produceLater() <-chan int {
	ready := make(chan int, 1)
	go func() {
		time.Sleep(50 * time.Millisecond)
		ready <- 42
	}()
	return ready
}

// checkSpins is the scenario's check that the wait did not spin.
func checkSpins(ctx context.Context, rounds int, took time.Duration) error {
	show(ctx, "wait", "%d rounds of the loop in %v", rounds, took.Round(time.Millisecond))
	if rounds > 10 {
		return fmt.Errorf("the loop went round %d times in %v while waiting: a CPU busy doing nothing", rounds, took.Round(time.Millisecond))
	}
	return nil
}

func spinBroken(ctx context.Context) error {
	ready := produceLater()
	start := time.Now()
	for rounds := 1; ; rounds++ {
		select {
		case v := <-ready:
			fmt.Println("result:", v)
			return checkSpins(ctx, rounds, time.Since(start))
		default: // BUG: nothing ready: loop again at once, a busy wait
		}
	}
}

func spinFixed(ctx context.Context) error {
	ready := produceLater()
	start := time.Now()
	for rounds := 1; ; rounds++ {
		select { // FIX: no default: block until a case is ready
		case v := <-ready:
			fmt.Println("result:", v)
			return checkSpins(ctx, rounds, time.Since(start))
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
