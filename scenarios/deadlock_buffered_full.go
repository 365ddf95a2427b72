package scenarios

import (
	"context"
	"fmt"
	"sync"
)

var deadlockBufferedFull = Scenario{
	ID:       "deadlock-buffered-full",
	Title:    "A full buffer and a helper that replies on it",
	Category: "Deadlocks",
	Statement: "A channel of capacity 1 already holds 1. A helper receives a value and sends " +
		"back its double on the same channel. The caller sends 3, waits for the helper to " +
		"finish, then reads. What happens?",
	Failure: "A send on a buffered channel blocks only when the buffer is full, and here it " +
		"always is. Usually the caller's send of 3 waits until the helper takes the 1, which " +
		"makes room for the 3; the helper's send of 2 then finds the buffer full, and the caller, " +
		"who alone could empty it, is waiting in wg.Wait for the helper: a deadlock. If the " +
		"helper happens to send 2 first, the caller's send of 3 finds the buffer full instead, " +
		"with nobody left to receive. The module this puzzle comes from says its version, " +
		"without the wait, deadlocks: usually it does not. The caller normally reaches its send " +
		"before the helper runs; the helper's receive then takes the 1 and moves the waiting 3 " +
		"into the buffer in one step, and the caller's final receive takes the 3, which makes " +
		"room for the helper's 2: it prints 3. Only when the helper runs first and sends 2 " +
		"before the caller's send does that version deadlock. The wait here makes the failure " +
		"certain instead of rare.",
	Fix: "Give the buffer room for every value that is in flight at once: with capacity 2, the " +
		"1, the 3 and the reply 2 never need more than two slots, so no send waits for a " +
		"receive that comes after it. Restructuring works too: replies on a channel of their own.",
	File: "deadlock_buffered_full.go",
	Variants: []Variant{
		{Name: "broken", Expect: Deadlock, Run: bufferedFullBroken},
		{Name: "fixed", Expect: OK, Run: bufferedFullFixed},
	},
}

// bufferedFullBroken fills a buffer of one and waits before it drains it.
func bufferedFullBroken(ctx context.Context) error {
	ch := make(chan int, 1)
	ch <- 1

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		v := <-ch
		ch <- v * 2 // BUG: the buffer is full again and the caller is not receiving
	}()

	ch <- 3   // BUG: waits while the buffer is full
	wg.Wait() // BUG: waits for the helper, which waits for room in the buffer
	fmt.Println(<-ch)
	return nil
}

// bufferedFullFixed gives the buffer room for every value in flight.
func bufferedFullFixed(ctx context.Context) error {
	ch := make(chan int, 2) // FIX: room for the 3 and the reply
	ch <- 1

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		v := <-ch
		ch <- v * 2
	}()

	ch <- 3
	wg.Wait()
	a, b := <-ch, <-ch
	fmt.Println(a, b)
	if a+b != 5 || a*b != 6 {
		return fmt.Errorf("read %d and %d, want 2 and 3", a, b)
	}
	return nil
}
