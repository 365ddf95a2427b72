//go:build ignore

// This program writes runtime.Stack(buf, true) to stderr and exits cleanly,
// as the child's watchdog does. With MINUTES=1 in its environment it first
// waits past a minute, so that the blocked goroutine's header shows
// ", 1 minutes".
package main

import (
	"context"
	"os"
	"runtime"
	"runtime/pprof"
	"time"
)

func waitRecv(ch chan int) {
	<-ch // LINE:recv
}

func main() {
	pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels("concviz", "scenario")))
	go waitRecv(make(chan int)) // LINE:go-recv
	time.Sleep(50 * time.Millisecond)
	if os.Getenv("MINUTES") != "" {
		// The runtime starts a goroutine's wait clock when a garbage
		// collection finds it blocked, at the start time of the previous
		// collection: it takes two.
		runtime.GC()
		runtime.GC()
		time.Sleep(61 * time.Second)
	}
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true) // LINE:stack
	os.Stderr.Write(buf[:n])
}
