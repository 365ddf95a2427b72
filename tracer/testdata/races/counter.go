//go:build ignore

// This program increments a shared counter from two goroutines without a
// lock: the race detector reports a read racing with a previous write, both
// in goroutines it numbers, with the stacks that created them.
package main

import (
	"fmt"
	"sync"
)

var counter int

func bump(wg *sync.WaitGroup) {
	defer wg.Done()
	counter++ // LINE:bump
}

func main() {
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go bump(&wg) // LINE:go-bump
	}
	wg.Wait()
	fmt.Println(counter)
}
