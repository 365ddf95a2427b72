// Package pipeline is a small real package whose test `viz open`'s tests
// trace with `go test -trace`: a producer, two squarers and a collector,
// connected by channels.
package pipeline

import (
	"sync"
	"testing"
)

// produce sends 1..n and closes its channel.
func produce(n int) <-chan int {
	out := make(chan int)
	go func() {
		defer close(out)
		for i := 1; i <= n; i++ {
			out <- i
		}
	}()
	return out
}

// square squares what it receives until its input closes.
func square(in <-chan int, out chan<- int, wg *sync.WaitGroup) {
	defer wg.Done()
	for v := range in {
		out <- v * v
	}
}

func TestPipeline(t *testing.T) {
	in := produce(200)
	out := make(chan int)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go square(in, out, &wg)
	}
	go func() {
		wg.Wait()
		close(out)
	}()
	sum := 0
	for v := range out {
		sum += v
	}
	if want := 200 * 201 * 401 / 6; sum != want {
		t.Fatalf("sum = %d, want %d", sum, want)
	}
}
