package scenarios

import (
	"context"
	"fmt"
	"strings"
	"sync"
)

var sliceSharedAppend = Scenario{
	ID:       "slice-shared-append",
	Title:    "Appending to a shared prefix",
	Category: "Races",
	Statement: "Two goroutines build paths from one prefix slice [usr local]: one appends " +
		"\"bin\", the other \"lib\". The prefix was made with room for four elements. What " +
		"are the two paths?",
	Failure: "append writes into the backing array in place when it has spare capacity, and " +
		"slices made from one array share it. Both appends write the same third slot of the " +
		"prefix's array, so both paths end in whichever word was written last: a data race " +
		"(reported by the race detector in every run, both writes on the same line) and a " +
		"wrong result in every run, since both results are views of one slot.",
	Fix: "Take away the spare capacity with a full slice expression, prefix[:n:n]: append must " +
		"then copy into a new array, and each goroutine gets its own. Copying the prefix " +
		"first (slices.Clone) works as well.",
	File: "slice_shared_append.go",
	Race: true,
	Variants: []Variant{
		{Name: "broken", Expect: Race, Run: sharedAppendBroken},
		{Name: "fixed", Expect: OK, Run: sharedAppendFixed},
	},
}

// buildPaths appends a directory to prefix in two goroutines at once.
func buildPaths(prefix []string) error {
	paths := make([][]string, 2)
	var wg sync.WaitGroup
	for i, dir := range []string{"bin", "lib"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			paths[i] = append(prefix, dir) // BUG: with spare capacity, both write the same slot
		}()
	}
	wg.Wait()

	a, b := strings.Join(paths[0], "/"), strings.Join(paths[1], "/")
	fmt.Println("paths:", a, b)
	if a != "usr/local/bin" || b != "usr/local/lib" {
		return fmt.Errorf("paths = %s and %s, want usr/local/bin and usr/local/lib", a, b)
	}
	return nil
}

func sharedAppendBroken(ctx context.Context) error {
	prefix := make([]string, 0, 4)
	prefix = append(prefix, "usr", "local")
	return buildPaths(prefix)
}

func sharedAppendFixed(ctx context.Context) error {
	prefix := make([]string, 0, 4)
	prefix = append(prefix, "usr", "local")
	n := len(prefix)
	return buildPaths(prefix[:n:n]) // FIX: no spare capacity, so append copies
}
