package scenarios

import (
	"context"
	"fmt"
	"sync"
)

var workerPoolPanic = Scenario{
	ID:       "worker-pool-panic",
	Title:    "One bad job takes the whole process down",
	Category: "Panics",
	Statement: "Workers parse jobs such as \"7 apples\" by their first digit. One job is an " +
		"empty string. What happens to the other jobs?",
	Failure: "Indexing the empty string panics, and an unrecovered panic in any goroutine " +
		"ends the whole program, not only that goroutine: every other job, finished or not, " +
		"is lost with it. A recover in main does not help, because recover works only in the " +
		"goroutine that panics.",
	Fix: "Recover in each worker, around each job: a deferred function turns the panic into an " +
		"error for that one job, and the worker goes on with the next. The caller gets every " +
		"result and one error saying which job failed and why.",
	File: "worker_pool_panic.go",
	Variants: []Variant{
		{Name: "broken", Expect: Panic, Run: poolPanicBroken},
		{Name: "fixed", Expect: OK, Run: poolPanicFixed},
	},
}

// firstDigit parses a job by its first character.
func firstDigit(job string) int {
	return int(job[0] - '0') // BUG: panics on an empty job, and nothing recovers
}

// safeFirstDigit runs one job and turns its panic into an error.
func safeFirstDigit(job string) (n int, err error) {
	defer func() {
		if r := recover(); r != nil { // FIX: this job fails, the process lives
			err = fmt.Errorf("job %q panicked: %v", job, r)
		}
	}()
	return firstDigit(job), nil
}

// parsed is one job's outcome.
type parsed struct {
	n   int
	err error
}

// runJobs parses every job on three workers with the given parse function.
func runJobs(parse func(string) (int, error)) []parsed {
	jobs := make(chan string)
	go func() {
		defer close(jobs)
		for _, j := range []string{"7 apples", "3 pears", "", "5 plums", "2 figs"} {
			jobs <- j
		}
	}()

	out := make(chan parsed)
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				n, err := parse(j)
				out <- parsed{n, err}
			}
		}()
	}
	go func() {
		wg.Wait()
		close(out)
	}()

	var all []parsed
	for p := range out {
		all = append(all, p)
	}
	return all
}

func poolPanicBroken(ctx context.Context) error {
	all := runJobs(func(job string) (int, error) { return firstDigit(job), nil })
	fmt.Println("results:", len(all))
	return nil
}

func poolPanicFixed(ctx context.Context) error {
	sum, failed := 0, 0
	for _, p := range runJobs(safeFirstDigit) {
		if p.err != nil {
			fmt.Println("error:", p.err)
			failed++
			continue
		}
		sum += p.n
	}
	fmt.Println("sum:", sum, "failed jobs:", failed)
	if sum != 17 || failed != 1 {
		return fmt.Errorf("sum %d with %d failed jobs, want 17 with 1", sum, failed)
	}
	return nil
}
