//go:build ignore

// This program panics in a labelled goroutine while others wait in each of
// the common ways, so that its dump shows every usual wait reason, labels
// with several keys and a goroutine without labels. The comments "LINE:x"
// name the lines the tests look for.
package main

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"sync"
	"time"
)

func waitRecv(ch chan int) {
	<-ch // LINE:recv
}

func waitSend(ch chan int) {
	ch <- 1 // LINE:send
}

func waitMutex(mu *sync.Mutex) {
	mu.Lock() // LINE:mutex
}

func waitRLock(rw *sync.RWMutex) {
	rw.RLock() // LINE:rlock
}

func waitGroup(wg *sync.WaitGroup) {
	wg.Wait() // LINE:waitgroup
}

func waitCond(c *sync.Cond) {
	c.L.Lock()
	c.Wait() // LINE:cond
}

func waitSelect(a, b chan int) {
	select { // LINE:select
	case <-a:
	case b <- 1:
	}
}

func waitForever() {
	select {} // LINE:selectnone
}

func waitNil() {
	var ch chan int
	<-ch // LINE:nilchan
}

func sleep() {
	time.Sleep(time.Hour) // LINE:sleep
}

func crash() {
	panic("boom") // LINE:panic
}

func main() {
	ctx := pprof.WithLabels(context.Background(), pprof.Labels("concviz", "scenario", "variant", "broken"))
	pprof.SetGoroutineLabels(ctx)
	fmt.Fprintln(os.Stderr, "scenario output before the crash")

	var mu sync.Mutex
	mu.Lock()
	var rw sync.RWMutex
	rw.Lock()
	var wg sync.WaitGroup
	wg.Add(1)
	cond := sync.NewCond(&sync.Mutex{})
	a, b := make(chan int), make(chan int)

	go waitRecv(a)      // LINE:go-recv
	go waitSend(b)      // LINE:go-send
	go waitMutex(&mu)   // LINE:go-mutex
	go waitRLock(&rw)   // LINE:go-rlock
	go waitGroup(&wg)   // LINE:go-waitgroup
	go waitCond(cond)   // LINE:go-cond
	go waitSelect(a, b) // LINE:go-select
	go waitForever()    // LINE:go-selectnone
	go waitNil()        // LINE:go-nilchan

	pprof.SetGoroutineLabels(context.Background())
	go sleep() // LINE:go-sleep

	time.Sleep(100 * time.Millisecond)
	odd := pprof.WithLabels(ctx, pprof.Labels("note", `say "hi", {ok}]: é`))
	pprof.SetGoroutineLabels(odd)
	go crash()            // LINE:go-panic
	time.Sleep(time.Hour) // LINE:main
}
