//go:build ignore

// This program dereferences a nil pointer in a goroutine: the runtime
// reports a runtime error with the signal that caused it.
package main

import "time"

type node struct{ next *node }

func walk(n *node) int {
	return walk(n.next) // LINE:deref
}

func main() {
	go walk(nil) // LINE:go-walk
	time.Sleep(time.Hour)
}
