package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/concviz/concviz/scenarios"
	"github.com/concviz/concviz/tracer"
)

func cmdTrace(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("trace", "trace [--json] [--open] [--timeout D] [--hang-after D] [--trace-out FILE] -- [build flags] package|files.go [arguments]", stderr)
	asJSON := fs.Bool("json", false, "print the report as one JSON object (the program's output goes to stderr)")
	timeout := fs.Duration("timeout", tracer.DefaultTimeout, "kill the program after this long")
	hangAfter := fs.Duration("hang-after", tracer.DefaultHangAfter, "report a deadlock when every goroutine stays blocked this long")
	width := fs.Int("width", 72, "columns of the text timeline")
	traceOut := fs.String("trace-out", "", "keep the program's execution trace in `FILE`, for viz open or go tool trace")
	open := fs.Bool("open", false, "then show the trace in the browser, until interrupted")
	// The program's arguments are go run's: they start at the first
	// argument that is not one of viz's flags, or after "--".
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return usagef("trace: %v", err)
	}
	runArgs := fs.Args()
	if len(runArgs) == 0 {
		return usagef("trace needs a program: viz trace -- ./cmd/prog [arguments]")
	}
	if *hangAfter <= 0 || *timeout <= 0 {
		return usagef("trace: --timeout and --hang-after must be positive")
	}
	if *open && *traceOut == "" {
		dir, err := os.MkdirTemp("", "concviz-trace-")
		if err != nil {
			return fmt.Errorf("trace: keep the trace to open: %w", err)
		}
		// The visualizer reads the file before it serves it.
		defer os.RemoveAll(dir)
		*traceOut = filepath.Join(dir, "program.trace")
	}
	progOut := stdout
	if *asJSON {
		progOut = stderr
	}
	res, err := tracer.TraceProgram(ctx, tracer.ProgramOptions{
		Args:      runArgs,
		Timeout:   *timeout,
		HangAfter: *hangAfter,
		Stdin:     os.Stdin,
		Stdout:    progOut,
		Stderr:    stderr,
		TraceOut:  *traceOut,
	})
	var ue *tracer.ProgramArgsError
	switch {
	case errors.As(err, &ue):
		return usagef("trace: %v", err)
	case res == nil && err != nil:
		return err
	}
	// An interrupted program is still reported: what it did up to the
	// interrupt is in the trace.
	interrupted := errors.Is(err, context.Canceled)
	rep := res.Report
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(stdout)
		renderTimeline(stdout, res.Timeline, *width)
		fmt.Fprintln(stdout)
		printProgramReport(stdout, rep)
		if *traceOut != "" && !*open {
			fmt.Fprintf(stdout, "\ntrace: %s (viz open %s)\n", *traceOut, *traceOut)
		}
	}
	if interrupted {
		return fmt.Errorf("interrupted: %w", err)
	}
	if *open {
		if err := openTrace(ctx, *traceOut, true, stdout, stderr); err != nil {
			return err
		}
	}
	if rep.Outcome != scenarios.OK {
		return fmt.Errorf("%w: %s", errFound, rep.Outcome)
	}
	if rep.ExitCode != 0 {
		return fmt.Errorf("the program exited with status %d", rep.ExitCode)
	}
	return nil
}

// printProgramReport prints a traced program's diagnosis in words. The
// program's output was shown as it ran, so it is not repeated.
func printProgramReport(w io.Writer, r *tracer.Report) {
	goroutines := fmt.Sprintf("%d goroutines", r.Goroutines)
	if r.Goroutines == 1 {
		goroutines = "1 goroutine"
	}
	fmt.Fprintf(w, "%s: %s, %s, %s, exit status %d\n", r.Scenario, strings.ToUpper(string(r.Outcome)),
		goroutines, time.Duration(r.DurationNS).Round(time.Microsecond), r.ExitCode)
	for _, f := range r.Findings {
		fmt.Fprintf(w, "\n  %s: %s\n", f.Kind, f.Summary)
		for _, l := range f.Locations {
			fmt.Fprintf(w, "      %s:%d  %s\n", shortPath(l.File), l.Line, l.Source)
		}
	}
	for _, warn := range r.Warnings {
		fmt.Fprintf(w, "\nwarning: %s\n", warn)
	}
}
