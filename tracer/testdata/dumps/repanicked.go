//go:build ignore

// This program recovers a nil pointer dereference and re-panics with the same
// value: the runtime prints "[recovered, repanicked]" and the signal.
package main

type config struct{ name string }

func load(c *config) string {
	return c.name // LINE:deref
}

func main() {
	defer func() {
		panic(recover()) // LINE:repanic
	}()
	load(nil)
}
