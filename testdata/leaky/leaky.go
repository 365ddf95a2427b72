// Package leaky has tests that leave goroutines behind, for viz test's own
// tests: each leaking line carries a LEAK comment, and the go statement that
// started it a STARTED one.
package leaky

// firstResult asks two replicas and returns the first answer. The slower
// replica's send has no receiver once the first answer is in.
func firstResult() int {
	results := make(chan int) // unbuffered: the loser blocks for ever
	for i := range 2 {
		go func() { // STARTED
			results <- i // LEAK
		}()
	}
	return <-results
}

// startWatcher starts a goroutine that starts the real watcher and returns:
// the watcher outlives both.
func startWatcher(events chan string) {
	go func() {
		go watch(events) // STARTED
	}()
}

func watch(events chan string) {
	for e := range events { // LEAK
		_ = e
	}
}
