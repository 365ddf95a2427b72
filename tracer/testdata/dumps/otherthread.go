//go:build ignore

// This program panics while another goroutine spins on another thread. Run
// with GODEBUG=asyncpreemptoff=1, the spinner cannot be stopped, so the dump
// says its stack is unavailable.
package main

import (
	"runtime"
	"time"
)

var sink int

func spin() {
	for i := 0; ; i++ {
		sink = i
	}
}

func main() {
	runtime.GOMAXPROCS(2)
	go spin() // LINE:go-spin
	time.Sleep(50 * time.Millisecond)
	panic("while spinning") // LINE:panic
}
