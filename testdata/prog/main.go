// Command prog misbehaves as its argument says, for viz trace's own tests:
// "deadlock" waits for itself (the blocking lines are marked // HANG),
// "ok" does its work and exits.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: prog deadlock|ok")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "deadlock":
		deadlock()
	case "ok":
		fmt.Println(sum(10))
	}
}

func deadlock() {
	requests, replies := make(chan int), make(chan int)
	go func() {
		for r := range requests { // HANG
			replies <- r * 2
		}
	}()
	fmt.Println(<-replies) // HANG
}

func sum(n int) int {
	parts := make(chan int)
	for i := range n {
		go func() { parts <- i }()
	}
	total := 0
	for range n {
		total += <-parts
	}
	return total
}
