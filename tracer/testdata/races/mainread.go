//go:build ignore

// This program reads in the main goroutine a variable that a finished
// goroutine wrote: the report says "by main goroutine" and "(finished)".
package main

import (
	"fmt"
	"time"
)

func main() {
	x := 0
	go func() { // LINE:go-write
		x = 1 // LINE:write
	}()
	time.Sleep(50 * time.Millisecond)
	fmt.Println(x) // LINE:read
}
