//go:build ignore

// This program deadlocks without the tracer, so the runtime stops it with
// "all goroutines are asleep".
package main

func relay(in, out chan int) {
	v := <-in // LINE:relay
	out <- v
}

func main() {
	a, b := make(chan int), make(chan int)
	go relay(a, b) // LINE:go-relay
	v := <-b       // LINE:main
	a <- v
}
