package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/concviz/concviz/tracer"
)

func cmdRecord(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("record", "record ID [--variant V] -o FILE", stderr)
	variant := fs.String("variant", "broken", "the variant to run")
	out := fs.String("o", "", "write the raw execution trace to this file (required)")
	timeout := fs.Duration("timeout", tracer.DefaultTimeout, "kill the run after this long")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	id, err := oneScenario("record", rest)
	if err != nil {
		return err
	}
	if *out == "" {
		return usagef("record needs -o FILE")
	}
	f, err := os.Create(*out)
	if err != nil {
		return fmt.Errorf("record: %w", err)
	}
	res, err := runScenario(ctx, tracer.RunOptions{Scenario: id, Variant: *variant, Timeout: *timeout, TraceOut: f, OnStatus: statusTo(stderr)})
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("record: %w", cerr)
	}
	if err != nil {
		os.Remove(*out)
		return err
	}
	fmt.Fprintf(stdout, "%s (%s): %s; trace written to %s (open it with: go tool trace %s)\n",
		res.Report.Scenario, res.Report.Variant, res.Report.Outcome, *out, *out)
	return nil
}
