package scenarios

import (
	"context"
	"fmt"
	"sync"
)

var workerPool = Scenario{
	ID:       "worker-pool",
	Title:    "A worker pool whose results never end",
	Category: "Deadlocks",
	Statement: "Three workers square the numbers 1 to 9 from a jobs channel and send them on " +
		"results. The caller sums the results with a range loop. Does the loop end?",
	Failure: "A range over a channel ends only when the channel is closed. The workers stop " +
		"when jobs is closed, but nobody closes results, so after the ninth result the caller " +
		"waits for a tenth that never comes. Every other goroutine has exited: a deadlock. " +
		"Closing results in the workers would be wrong too: the first worker to finish would " +
		"close it under the others, whose next send would panic.",
	Fix: "The module's pool gets this right: a WaitGroup counts the workers, and one extra " +
		"goroutine waits for all of them and then closes results, once, after the last send. " +
		"Each send also selects on ctx.Done(), so that workers do not block for ever on a " +
		"caller that stopped reading after a cancel.",
	File: "worker_pool.go",
	Variants: []Variant{
		{Name: "broken", Expect: Deadlock, Run: workerPoolBroken},
		{Name: "fixed", Expect: OK, Run: workerPoolFixed},
	},
}

// feedJobs sends 1..9 on a new jobs channel and closes it.
func feedJobs() <-chan int {
	jobs := make(chan int)
	go func() {
		defer close(jobs)
		for j := 1; j <= 9; j++ {
			jobs <- j
		}
	}()
	return jobs
}

// poolBroken starts n workers and never closes their results.
func poolBroken(ctx context.Context, n int, jobs <-chan int) <-chan int {
	results := make(chan int, n)
	for range n {
		go func() {
			for j := range jobs {
				results <- j * j
			}
		}()
	}
	return results // BUG: nothing ever closes results
}

// poolFixed closes results after the last worker has finished.
func poolFixed(ctx context.Context, n int, jobs <-chan int) <-chan int {
	results := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				select {
				case results <- j * j:
				case <-ctx.Done(): // FIX: never block on a caller that left
					return
				}
			}
		}()
	}
	go func() {
		wg.Wait()      // FIX: after the last send ...
		close(results) // FIX: ... close once, which ends the caller's range
	}()
	return results
}

// sumSquares is the scenario's check of the pool's output.
func sumSquares(results <-chan int) error {
	sum := 0
	for r := range results { // BUG: ends only when results is closed
		sum += r
	}
	fmt.Println("sum of squares:", sum)
	if sum != 285 {
		return fmt.Errorf("sum of squares of 1..9 = %d, want 285", sum)
	}
	return nil
}

func workerPoolBroken(ctx context.Context) error {
	return sumSquares(poolBroken(ctx, 3, feedJobs()))
}

func workerPoolFixed(ctx context.Context) error {
	return sumSquares(poolFixed(ctx, 3, feedJobs()))
}
