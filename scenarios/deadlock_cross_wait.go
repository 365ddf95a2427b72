package scenarios

import (
	"context"
	"fmt"
)

var deadlockCrossWait = Scenario{
	ID:       "deadlock-cross-wait",
	Title:    "Two goroutines wait for each other",
	Category: "Deadlocks",
	Statement: "A helper goroutine waits for a value on ch1 and then sends it on ch2. " +
		"The caller waits for a value on ch2 and then sends on ch1. What happens?",
	Failure: "Each side receives before it sends. The helper waits on ch1, which only the caller " +
		"sends on; the caller waits on ch2, which only the helper sends on. Neither receive can " +
		"complete, so neither send is ever reached: a cycle of waits, a deadlock. Without the " +
		"tracer, Go would stop the program with \"all goroutines are asleep\".",
	Fix: "Break the cycle: one side must send before it waits. Here the caller sends on ch1 first " +
		"(ch1 is unbuffered, so it waits until the helper is ready to receive), then receives the " +
		"reply on ch2.",
	File: "deadlock_cross_wait.go",
	Variants: []Variant{
		{Name: "broken", Expect: Deadlock, Run: crossWaitBroken},
		{Name: "fixed", Expect: OK, Run: crossWaitFixed},
	},
}

// crossWaitBroken receives before it sends, on both sides.
func crossWaitBroken(ctx context.Context) error {
	ch1 := make(chan int)
	ch2 := make(chan int)

	go func() {
		v := <-ch1 // BUG: waits for the caller, who waits for us
		ch2 <- v
	}()

	v := <-ch2 // BUG: waits for the helper, who waits for us
	ch1 <- v
	return nil
}

// crossWaitFixed sends first on one side, so one of the waits can finish.
func crossWaitFixed(ctx context.Context) error {
	ch1 := make(chan int)
	ch2 := make(chan int)

	go func() {
		v := <-ch1
		ch2 <- v + 1
	}()

	ch1 <- 41 // FIX: send first; the helper is waiting to receive
	if v := <-ch2; v != 42 {
		return fmt.Errorf("got %d, want 42", v)
	}
	return nil
}
