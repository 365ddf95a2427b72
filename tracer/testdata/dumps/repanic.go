//go:build ignore

// This program recovers a panic and panics again with another value, so the
// runtime prints both: "panic: first [recovered]" then "panic: second".
package main

func main() {
	defer func() {
		recover()
		panic("second") // LINE:second
	}()
	panic("first") // LINE:first
}
