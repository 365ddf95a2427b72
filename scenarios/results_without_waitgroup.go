package scenarios

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

var resultsWithoutWaitgroup = Scenario{
	ID:       "results-without-waitgroup",
	Title:    "Returning before the workers finish",
	Category: "Races",
	Statement: "ProcessItems starts one goroutine per item; each stores its result in its own " +
		"slot of a results slice. The function then returns the slice. What does the caller get?",
	Failure: "Nothing waits for the goroutines, so the function returns the slice while they " +
		"are still working: the caller reads zeros, and the goroutines write into a slice the " +
		"caller is already reading. That is a data race as well as a wrong result, and the race " +
		"detector reports the write against the caller's read. Each item takes a few " +
		"milliseconds here, which makes the early return happen in every run.",
	Fix: "Wait for the goroutines before returning: wg.Add(1) before each go statement, " +
		"defer wg.Done() in the goroutine, wg.Wait() before reading the slice. Writing distinct " +
		"slots of one slice from different goroutines is fine once the reader waits.",
	File: "results_without_waitgroup.go",
	Race: true,
	Variants: []Variant{
		{Name: "broken", Expect: Race, Run: resultsBroken},
		{Name: "fixed", Expect: OK, Run: resultsFixed},
	},
}

// square stands for a slow computation on one item.
func square(x int) int {
	time.Sleep(5 * time.Millisecond)
	return x * x
}

// checkSquares is the scenario's check of the returned results.
func checkSquares(results []int) error {
	fmt.Println("results:", results)
	if want := []int{1, 4, 9, 16, 25}; !slices.Equal(results, want) {
		return fmt.Errorf("results = %v, want %v", results, want)
	}
	return nil
}

// resultsBroken returns without waiting for its goroutines.
func resultsBroken(ctx context.Context) error {
	items := []int{1, 2, 3, 4, 5}
	results := make([]int, len(items))
	for i, item := range items {
		go func() {
			results[i] = square(item) // BUG: written after the caller has read the slice
		}()
	}
	got := slices.Clone(results) // BUG: reads results without waiting for the writers
	return checkSquares(got)
}

// resultsFixed waits for every goroutine before it reads the results.
func resultsFixed(ctx context.Context) error {
	items := []int{1, 2, 3, 4, 5}
	results := make([]int, len(items))
	var wg sync.WaitGroup
	for i, item := range items {
		wg.Add(1) // FIX
		go func() {
			defer wg.Done() // FIX
			results[i] = square(item)
		}()
	}
	wg.Wait() // FIX: every result is written before it is read
	return checkSquares(results)
}
