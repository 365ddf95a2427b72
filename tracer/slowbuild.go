package tracer

import (
	"sync"
	"time"
)

// A child that must be built (the race child, a linked child) takes about a
// second when the go command's cache is warm and up to a minute when it is
// cold. Only the slow case is worth a word: saying "first time, about a
// minute" on every run of a fresh viz process would be noise, and untrue.
const (
	// slowBuildAfter is how long a build runs before the run says why it
	// waits.
	slowBuildAfter = 1500 * time.Millisecond
	// slowBuildEvery is how often it then says how long it has waited.
	slowBuildEvery = 5 * time.Second
)

// whileSlow runs build and, if onStatus is set and build is still running
// after slowBuildAfter, tells onStatus what it waits for (say(0)), then again
// every slowBuildEvery with the time waited so far. It returns build's
// results once build returns; the goroutine that speaks ends with it.
func whileSlow(onStatus func(string), say func(waited time.Duration) string, build func() (string, error)) (string, error) {
	if onStatus == nil {
		return build()
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		start := time.Now()
		first := time.NewTimer(slowBuildAfter)
		defer first.Stop()
		select {
		case <-stop:
			return
		case <-first.C:
			onStatus(say(0))
		}
		tick := time.NewTicker(slowBuildEvery)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				onStatus(say(time.Since(start)))
			}
		}
	})
	out, err := build()
	close(stop)
	wg.Wait()
	return out, err
}
