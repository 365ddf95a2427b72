package scenarios

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

var waitgroupAddInGoroutine = Scenario{
	ID:       "waitgroup-add-in-goroutine",
	Title:    "wg.Add inside the goroutine",
	Category: "Wrong results",
	Statement: "Five workers each call wg.Add(1) as their first statement and wg.Done when " +
		"they finish; the caller calls wg.Wait and then counts the finished jobs. " +
		"How many does it count?",
	Failure: "wg.Wait returns as soon as the counter is zero, and nothing has been added yet " +
		"when the caller reaches it: a new goroutine does not run at once, so its wg.Add comes " +
		"too late. The caller counts before the workers have even started, and the workers then " +
		"finish unobserved. In a real program the goroutines usually start late and sometimes " +
		"do not; here each waits a few milliseconds before its wg.Add, so that the bad timing " +
		"happens in every run.",
	Fix: "Call wg.Add before the go statement, in the goroutine that will call Wait. The counter " +
		"then covers every worker before Wait can look at it, however late they start. Since " +
		"Go 1.25, wg.Go(f) does the Add and the go statement together.",
	File: "waitgroup_add_in_goroutine.go",
	Variants: []Variant{
		{Name: "broken", Expect: Wrong, Run: addInGoroutineBroken},
		{Name: "fixed", Expect: OK, Run: addInGoroutineFixed},
	},
}

const (
	addWorkers = 5
	// addLateStart stands for the time before a new goroutine runs.
	addLateStart = 50 * time.Millisecond
)

// checkFinished is the scenario's check that Wait waited for every worker.
func checkFinished(n int32) error {
	fmt.Println("finished jobs:", n)
	if n != addWorkers {
		return fmt.Errorf("wg.Wait returned with %d of %d jobs finished", n, addWorkers)
	}
	return nil
}

// addInGoroutineBroken adds to the WaitGroup from inside each worker.
func addInGoroutineBroken(ctx context.Context) error {
	var wg sync.WaitGroup
	var finished atomic.Int32
	for range addWorkers {
		go func() {
			time.Sleep(addLateStart) // the goroutine starts late
			wg.Add(1)                // BUG: too late: Wait may have returned already
			defer wg.Done()
			finished.Add(1)
		}()
	}
	wg.Wait() // returns at once: the counter is still zero
	return checkFinished(finished.Load())
}

// addInGoroutineFixed adds before starting each worker.
func addInGoroutineFixed(ctx context.Context) error {
	var wg sync.WaitGroup
	var finished atomic.Int32
	for range addWorkers {
		wg.Add(1) // FIX: count the worker before it exists
		go func() {
			time.Sleep(addLateStart) // the goroutine starts late
			defer wg.Done()
			finished.Add(1)
		}()
	}
	wg.Wait()
	return checkFinished(finished.Load())
}
