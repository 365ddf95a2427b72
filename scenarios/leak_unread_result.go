package scenarios

import (
	"context"
	"fmt"
	"time"
)

var leakUnreadResult = Scenario{
	ID:       "leak-unread-result",
	Title:    "A result that nobody reads",
	Category: "Leaks",
	Statement: "A function starts a goroutine to compute a result and waits for it, but gives " +
		"up after a short timeout. The result arrives later. Where does it go?",
	Failure: "The result channel is unbuffered, so the send waits until someone receives. The " +
		"caller stopped receiving when its timeout fired and has returned, so the send waits for " +
		"ever: the goroutine, its stack and everything it references are never freed. Every " +
		"timed-out call leaks one more goroutine.",
	Fix: "Give the channel a buffer of one. The late send then lands in the buffer, the " +
		"goroutine exits, and the channel is garbage collected with the unread value in it. The " +
		"caller still selects on ctx.Done(), so it does not wait longer than its deadline.",
	File: "leak_unread_result.go",
	Variants: []Variant{
		{Name: "broken", Expect: Leak, Run: unreadResultBroken},
		{Name: "fixed", Expect: OK, Run: unreadResultFixed},
	},
}

// slowWork stands for an expensive computation that takes longer than the
// caller is willing to wait. Real work would run late only sometimes; so
// that every run shows what happens then, this one always finishes just
// after the caller's deadline.
func slowWork(ctx context.Context) int {
	<-ctx.Done()
	time.Sleep(100 * time.Millisecond)
	return 42
}

// unreadResultBroken gives up waiting, and the worker's send blocks for ever.
func unreadResultBroken(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()

	ch := make(chan int)
	go func() {
		ch <- slowWork(ctx) // BUG: after the timeout nobody receives, so this blocks for ever
	}()

	select {
	case v := <-ch:
		fmt.Println("result:", v)
	case <-ctx.Done():
		fmt.Println("gave up:", ctx.Err())
	}
	return nil
}

// unreadResultFixed lets the late send complete into a buffer.
func unreadResultFixed(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()

	ch := make(chan int, 1) // FIX: room for the result, read or not
	go func() {
		ch <- slowWork(ctx)
	}()

	select {
	case v := <-ch:
		fmt.Println("result:", v)
	case <-ctx.Done(): // FIX: stop waiting at the deadline
		fmt.Println("gave up:", ctx.Err())
	}
	return nil
}
