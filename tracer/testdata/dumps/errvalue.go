//go:build ignore

// This program panics with an error whose text spans several lines; the
// runtime indents the lines after the first with a tab.
package main

import "fmt"

type MyErr struct {
	Op   string
	Code int
}

func (e MyErr) Error() string {
	return fmt.Sprintf("main.MyErr{Op: %q,\n    Code: %d}", e.Op, e.Code)
}

func main() {
	panic(MyErr{Op: "read", Code: 7}) // LINE:panic
}
