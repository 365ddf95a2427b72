package scenarios

import (
	"context"
	"fmt"
)

var deadlockMainRecv = Scenario{
	ID:       "deadlock-main-recv",
	Title:    "Waiting for a value nobody sends",
	Category: "Deadlocks",
	Statement: "The caller makes an unbuffered channel and receives from it. " +
		"No other goroutine exists. What happens?",
	Failure: "A receive on an unbuffered channel waits until another goroutine sends. Here no " +
		"goroutine will ever send, so the receive waits for ever and nothing else can run: a " +
		"deadlock. A plain Go program would stop with \"fatal error: all goroutines are asleep - " +
		"deadlock!\"; the tracer catches it first so that you can see the stuck goroutine.",
	Fix: "Give the channel a sender. A goroutine started before the receive sends the value; the " +
		"receive waits until that send happens, and both go on.",
	File: "deadlock_main_recv.go",
	Variants: []Variant{
		{Name: "broken", Expect: Deadlock, Run: mainRecvBroken},
		{Name: "fixed", Expect: OK, Run: mainRecvFixed},
	},
}

// mainRecvBroken receives on a channel that nobody sends on.
func mainRecvBroken(ctx context.Context) error {
	ch := make(chan int)

	v := <-ch // BUG: no goroutine will ever send on ch
	fmt.Println("received", v)
	return nil
}

// mainRecvFixed starts a sender before it receives.
func mainRecvFixed(ctx context.Context) error {
	ch := make(chan int)

	go func() {
		ch <- 42 // FIX: a goroutine sends the value
	}()

	v := <-ch
	fmt.Println("received", v)
	if v != 42 {
		return fmt.Errorf("received %d, want 42", v)
	}
	return nil
}
