//go:build ignore

// This program writes a map from two goroutines, and then reads a variable
// another goroutine writes: two reports, the first with runtime frames above
// the user's, then "Found 2 data race(s)".
package main

import (
	"fmt"
	"time"
)

func put(m map[int]int, done chan bool) {
	m[1] = 1 // LINE:put
	done <- true
}

func main() {
	m := map[int]int{}
	done := make(chan bool)
	go put(m, done) // LINE:go-put
	m[2] = 2        // LINE:main-put
	<-done

	var flag bool
	go func() { // LINE:go-flag
		flag = true // LINE:flag-write
	}()
	time.Sleep(50 * time.Millisecond)
	fmt.Println(flag) // LINE:flag-read
}
