// Package panicky has a test whose goroutine panics, which kills the whole
// test binary; the panicking line carries a PANIC comment.
package panicky

import "testing"

func TestFine(t *testing.T) {}

func TestNilMap(t *testing.T) {
	done := make(chan bool)
	go func() {
		var counts map[string]int
		//lint:ignore SA5000 the panic is what this test is for
		counts["x"]++ // PANIC
		done <- true
	}()
	<-done
}
