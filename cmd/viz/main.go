// Command viz runs Go concurrency puzzles under the execution tracer and
// shows what their goroutines do: on the terminal, or live in a browser.
//
// Usage:
//
//	viz                      start the visualizer (same as viz serve)
//	viz serve [flags]        start the visualizer on 127.0.0.1:7070
//	viz open FILE [FILE2]    show a trace or a recording; two side by side
//	viz list [--json]        list the scenarios
//	viz run ID [flags]       run a scenario and print its timeline and diagnosis
//	viz record ID -o FILE    write a scenario's raw execution trace
//	viz test [packages]      run Go tests; report leaks, hangs and races per test
//	viz trace -- PROGRAM     run a Go program; report deadlocks, leaks and races
//	viz verify [--count N]   run every variant N times; check each outcome
//
// Run "viz help COMMAND" for a command's flags.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/concviz/concviz/tracer"
)

func main() {
	// A scenario child is this same binary, re-executed; it never returns.
	tracer.MaybeRunChild()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// command is one subcommand: its one-line summary and its entry point.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands maps each subcommand's name to its implementation, one file each.
func commands() map[string]command {
	return map[string]command{
		"serve":  {"start the visualizer in the browser (the default)", cmdServe},
		"list":   {"list the scenarios", cmdList},
		"run":    {"run a scenario and print its timeline and diagnosis", cmdRun},
		"record": {"write a scenario's raw execution trace to a file", cmdRecord},
		"test":   {"run Go tests under the tracer; report leaks, hangs and races per test", cmdTest},
		"trace":  {"run a Go program under the tracer; report deadlocks, leaks and races", cmdTrace},
		"verify": {"run every variant N times and check its outcome", cmdVerify},
		"open":   {"open a trace or a recording in the visualizer; two side by side", cmdOpen},
	}
}

// Run runs viz with the given arguments (without the program name).
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return cmdServe(ctx, nil, stdout, stderr)
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 {
			if c, ok := commands()[rest[0]]; ok {
				return c.run(ctx, []string{"--help"}, stdout, stderr)
			}
			return usagef("unknown command %q", rest[0])
		}
		printUsage(stdout)
		return nil
	}
	c, ok := commands()[name]
	if !ok {
		return usagef("unknown command %q", name)
	}
	return c.run(ctx, rest, stdout, stderr)
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, `viz shows Go concurrency bugs happening.

Usage:
  viz                      start the visualizer (same as viz serve)
  viz serve [flags]        start the visualizer on 127.0.0.1:7070
  viz open FILE [FILE2]    show a trace or a recording; two side by side
  viz list [--json]        list the scenarios
  viz run ID [flags]       run a scenario; print its timeline and diagnosis
  viz record ID -o FILE    write a scenario's raw execution trace
  viz test [packages]      run Go tests; report leaks, hangs and races per test
  viz trace -- PROGRAM     run a Go program (go run's arguments); same report
  viz verify [--count N]   run every variant N times; check each outcome

Run "viz help COMMAND" for a command's flags.
`)
}

// usageError is a mistake in the command line; it exits with status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// usagef returns a usage error.
func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exitCode maps an error to the process exit status: 0 when the run was
// observed and reported (a broken scenario is not viz's failure), 2 for a
// usage error, 1 for anything else.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "viz: %v\nRun \"viz help\" for usage.\n", err)
		return 2
	}
	if errors.Is(err, errHelp) {
		return 0
	}
	fmt.Fprintf(stderr, "viz: %v\n", err)
	return 1
}
