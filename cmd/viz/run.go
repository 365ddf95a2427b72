package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/concviz/concviz/scenarios"
	"github.com/concviz/concviz/tracer"
)

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("run", "run ID [--variant broken|fixed|fixed-...] [--json] [--timeout D] [--profile cpu|wall --profile-out FILE]", stderr)
	variant := fs.String("variant", "broken", "the variant to run: broken, fixed (the default fix) or a fix's name")
	asJSON := fs.Bool("json", false, "print the report as one JSON object")
	timeout := fs.Duration("timeout", tracer.DefaultTimeout, "kill the run after this long")
	width := fs.Int("width", 72, "columns of the text timeline")
	prof := fs.String("profile", "", "record a profile of the run: cpu (runtime/pprof) or wall (fgprof, running and blocked time)")
	profOut := fs.String("profile-out", "", "write the profile to this file (.pb.gz, for go tool pprof); needs --profile")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	id, err := oneScenario("run", rest)
	if err != nil {
		return err
	}
	switch *prof {
	case "", tracer.ProfileCPU, tracer.ProfileWall:
	default:
		return usagef("--profile must be %s or %s, not %q", tracer.ProfileCPU, tracer.ProfileWall, *prof)
	}
	if *profOut != "" && *prof == "" {
		return usagef("--profile-out needs --profile cpu or --profile wall")
	}
	res, err := runScenario(ctx, tracer.RunOptions{Scenario: id, Variant: *variant, Timeout: *timeout, Profile: *prof, OnStatus: statusTo(stderr)})
	if err != nil {
		return err
	}
	if *profOut != "" {
		if len(res.Profile) == 0 {
			return fmt.Errorf("run: the run ended before its profile was written")
		}
		if err := os.WriteFile(*profOut, res.Profile, 0o644); err != nil {
			return fmt.Errorf("run: %w", err)
		}
		fmt.Fprintf(stderr, "viz: %s profile written to %s (go tool pprof -http=: %s)\n", *prof, *profOut, *profOut)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		return enc.Encode(res.Report)
	}
	renderTimeline(stdout, res.Timeline, *width)
	fmt.Fprintln(stdout)
	printReport(stdout, res.Report)
	return nil
}

// oneScenario checks that exactly one scenario id was given.
func oneScenario(cmd string, rest []string) (string, error) {
	switch len(rest) {
	case 0:
		return "", usagef("%s needs a scenario id; valid ids: %s", cmd, strings.Join(scenarios.IDs(), ", "))
	case 1:
		return rest[0], nil
	}
	return "", usagef("%s takes one scenario id, got %d arguments", cmd, len(rest))
}

// statusTo prints the tracer's word on slow preparations (the first build
// of a race or linked child takes up to a minute) to w, so that the
// terminal does not sit silent meanwhile.
func statusTo(w io.Writer) func(string) {
	return func(text string) { fmt.Fprintf(w, "viz: %s\n", text) }
}

// runScenario runs a scenario, turning an unknown id or variant into a
// usage error.
func runScenario(ctx context.Context, opt tracer.RunOptions) (*tracer.Result, error) {
	s, err := scenarios.Lookup(opt.Scenario)
	if err != nil {
		return nil, usagef("%v", err)
	}
	if _, err := s.Variant(opt.Variant); err != nil {
		return nil, usagef("%v", err)
	}
	res, err := tracer.Run(ctx, opt)
	if err != nil && errors.Is(err, context.Canceled) {
		return nil, fmt.Errorf("interrupted: %w", err)
	}
	return res, err
}

// printReport prints the diagnosis in words.
func printReport(w io.Writer, r *tracer.Report) {
	verdict := "as expected"
	if r.Outcome != r.Expected {
		verdict = fmt.Sprintf("expected %s", r.Expected)
	}
	fmt.Fprintf(w, "%s (%s): %s (%s), %d goroutines, %s\n", r.Scenario, r.Variant, strings.ToUpper(string(r.Outcome)), verdict,
		r.Goroutines, time.Duration(r.DurationNS).Round(time.Microsecond))
	for _, f := range r.Findings {
		fmt.Fprintf(w, "\n%s\n", wrap(fmt.Sprintf("  %s: %s", f.Kind, f.Summary), 96, "    "))
		for _, l := range f.Locations {
			fmt.Fprintf(w, "      %s:%d  %s\n", shortPath(l.File), l.Line, l.Source)
		}
	}
	if r.Output != "" {
		fmt.Fprintf(w, "\nOutput:\n%s\n", indent(r.Output))
	}
	for _, warn := range r.Warnings {
		fmt.Fprintf(w, "\nwarning: %s\n", warn)
	}
}

// shortPath keeps the last two elements of a path.
func shortPath(p string) string {
	parts := strings.Split(p, "/")
	if len(parts) > 2 {
		parts = parts[len(parts)-2:]
	}
	return strings.Join(parts, "/")
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ")
}

// wrap breaks text into lines of at most width columns at spaces, the
// lines after the first indented.
func wrap(text string, width int, indent string) string {
	var b strings.Builder
	line := 0
	for i, word := range strings.Fields(text) {
		switch {
		case i == 0:
			b.WriteString(text[:len(text)-len(strings.TrimLeft(text, " "))])
			line = b.Len()
		case line+1+len(word) > width:
			b.WriteString("\n" + indent)
			line = len(indent)
		default:
			b.WriteByte(' ')
			line++
		}
		b.WriteString(word)
		line += len(word)
	}
	return b.String()
}
