package scenarios

import (
	"context"
	"fmt"
	"runtime/trace"
)

// show prints a value for the learner and records it in the execution trace
// as a log event under the given name, so that the timeline can draw the
// value at the moment it was produced, on the goroutine that produced it.
// Traces carry no values of their own. Without an active trace the log
// costs almost nothing.
func show(ctx context.Context, name, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	trace.Log(ctx, name, msg)
	fmt.Printf("%s: %s\n", name, msg)
}
