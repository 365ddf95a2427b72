//go:build ignore

// This program writes one map from several labelled goroutines at once until
// the runtime notices and stops it with "fatal error: concurrent map writes".
package main

import (
	"context"
	"runtime/pprof"
	"time"
)

func fill(m map[int]int) {
	for i := 0; ; i++ {
		m[i%1000] = i // LINE:write
	}
}

func main() {
	pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels("concviz", "scenario")))
	m := map[int]int{}
	for i := 0; i < 4; i++ {
		go fill(m) // LINE:go-fill
	}
	time.Sleep(time.Hour) // LINE:main
}
