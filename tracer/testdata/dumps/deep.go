//go:build ignore

// This program panics at the bottom of a deep recursion, so the runtime
// elides the middle of the stack.
package main

func down(n int) int {
	if n == 0 {
		panic("bottom") // LINE:panic
	}
	return down(n-1) + 1 // LINE:recurse
}

func main() {
	down(300)
}
