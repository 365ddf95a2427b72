//go:build ignore

// This program races and then panics: its stderr holds a race report
// followed by a crash, as a race scenario's child may print.
package main

import (
	"fmt"
	"os"
	"time"
)

var total int

func add() {
	total += 2 // LINE:add
}

func main() {
	go add() // LINE:go-add
	time.Sleep(50 * time.Millisecond)
	fmt.Fprintln(os.Stderr, "total:", total)         // LINE:read
	panic(fmt.Sprintf("total is %d, want 0", total)) // LINE:panic
}
