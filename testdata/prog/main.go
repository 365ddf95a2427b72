// Command prog misbehaves as its argument says, for viz trace's own tests:
// "deadlock" waits for itself (its blocking lines carry HANG comments),
// "leak" returns from main with a goroutine blocked for good (LEAK),
// "exit" leaves through os.Exit, "forever" keeps busy until it is stopped
// (its loop carries a SLEEP comment), "race" has main race a goroutine
// (RACE), "ok" does its work and returns.
package main

import (
	"fmt"
	"os"
	"time"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: prog deadlock|leak|exit|forever|race|ok")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "deadlock":
		deadlock()
	case "leak":
		leak()
	case "exit":
		fmt.Println(sum(3))
		os.Exit(0)
	case "forever":
		for {
			time.Sleep(10 * time.Millisecond) // SLEEP
		}
	case "race":
		fmt.Println(race())
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

// leak starts a worker that waits for jobs nobody sends, and returns.
func leak() {
	jobs := make(chan int)
	go func() { // STARTED
		for j := range jobs { // LEAK
			fmt.Println(j)
		}
	}()
}

// race counts in main and in a goroutine with nothing to order the two.
func race() int {
	n := 0
	done := make(chan bool)
	go func() {
		n++ // RACE
		done <- true
	}()
	n++ // RACE
	<-done
	return n
}
