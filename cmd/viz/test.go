package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/concviz/concviz/scenarios"
	"github.com/concviz/concviz/tracer"
)

// errFound is what viz test and viz trace return when they found a leak, a
// hang, a race, a crash or a failing test: the report is printed, and the
// exit status 1 lets the command guard CI.
var errFound = errors.New("problems found")

// testOpensBrowser says whether viz test --open starts a browser on the
// page it serves; tests of --open turn it off and read the page's API.
var testOpensBrowser = true

func cmdTest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("test", "test [packages] [-run regexp] [-race] [--json] [--open [--addr HOST:PORT]] [--timeout D] [--hang-after D] [--trace-dir DIR] [-- test binary flags]", stderr)
	run := fs.String("run", "", "run only the tests matching this regexp, as go test -run")
	race := fs.Bool("race", false, "build the tests with the race detector and report each race with its test")
	asJSON := fs.Bool("json", false, "print one JSON object per test (and per package problem outside any test)")
	timeout := fs.Duration("timeout", tracer.DefaultTestTimeout, "stop a package's tests after this long, as go test -timeout")
	hangAfter := fs.Duration("hang-after", tracer.DefaultHangAfter, "report a hang when every goroutine of a test stays blocked this long")
	traceDir := fs.String("trace-dir", "", "keep each package's execution trace in `DIR`, for viz open or go tool trace, and beside it the recording (.concviz) of a package with a problem")
	open := fs.Bool("open", false, "then show the first package with a problem in the browser, its lanes named after the tests and its report beside them, until interrupted")
	addr := fs.String("addr", "127.0.0.1:0", "with --open, serve the page on `HOST:PORT`; port 0 picks a free port")
	mine, binArgs := splitDashDash(args)
	pkgs, err := parseArgs(fs, mine)
	if err != nil {
		return err
	}
	if *open && *traceDir == "" {
		dir, err := os.MkdirTemp("", "concviz-traces-")
		if err != nil {
			return fmt.Errorf("test: keep the traces to open: %w", err)
		}
		// The visualizer reads the file before it serves it.
		defer os.RemoveAll(dir)
		*traceDir = dir
	}
	if *hangAfter <= 0 || *timeout <= 0 {
		return usagef("test: --timeout and --hang-after must be positive")
	}
	// A wrong address is said before the tests run, not after.
	if host, _, err := net.SplitHostPort(*addr); err != nil || !isLoopback(host) {
		return usagef("test: --addr %q: want a loopback HOST:PORT (for example 127.0.0.1:0); the server runs code, so only viz serve --share listens beyond this machine", *addr)
	}
	opt := tracer.TestOptions{
		Packages:  pkgs,
		Run:       *run,
		Race:      *race,
		Timeout:   *timeout,
		HangAfter: *hangAfter,
		Args:      testBinaryFlags(binArgs),
		TraceDir:  *traceDir,
	}
	problems, total := 0, 0
	var show *tracer.PackageReport
	opt.OnPackage = func(p *tracer.PackageReport) {
		total++
		if p.Problem() {
			problems++
		}
		if p.TracePath != "" && (show == nil || p.Problem() && !show.Problem()) {
			show = p
		}
		if *asJSON {
			writeTestJSON(stdout, p)
		} else {
			printPackage(stdout, p)
		}
	}
	_, err = tracer.Test(ctx, opt)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("interrupted: %w", err)
		}
		return err
	}
	if *open && show != nil {
		// The recording carries the report and the tests' names; a package
		// without a problem has only its trace.
		path := show.RecordingPath
		if path == "" {
			path = show.TracePath
		}
		fmt.Fprintf(stdout, "\nviz: showing %s%s\n", show.Package, testLanes(show))
		if err := openTraceAt(ctx, path, *addr, testOpensBrowser, stdout, stderr); err != nil {
			return err
		}
	}
	if problems > 0 {
		return fmt.Errorf("%w in %d of %d packages", errFound, problems, total)
	}
	return nil
}

// testLanes says which lane of the timeline runs which test with a
// problem, so that the terminal's words lead to the page's lanes.
func testLanes(p *tracer.PackageReport) string {
	var parts []string
	for _, t := range p.Tests {
		if t.Goroutine != 0 && (t.Outcome != scenarios.OK || t.Result == "fail") {
			parts = append(parts, fmt.Sprintf("%s runs in G%d", t.Test, t.Goroutine))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return ": " + strings.Join(parts, ", ")
}

// openTrace serves a kept recording or trace in the visualizer, as viz
// open does, on a free port, until ctx ends; browser says whether to open
// a browser on it.
func openTrace(ctx context.Context, path string, browser bool, stdout, stderr io.Writer) error {
	return openTraceAt(ctx, path, "127.0.0.1:0", browser, stdout, stderr)
}

// openTraceAt is openTrace on addr.
func openTraceAt(ctx context.Context, path, addr string, browser bool, stdout, stderr io.Writer) error {
	// The file is the user's, or temporary: no copy goes to the data
	// directory of recordings.
	args := []string{"--addr", addr, "--data=", path}
	if browser {
		args = append([]string{"--open"}, args...)
	}
	err := cmdOpen(ctx, args, stdout, stderr)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// splitDashDash splits the arguments at the first "--".
func splitDashDash(args []string) (before, after []string) {
	if i := slices.Index(args, "--"); i >= 0 {
		return args[:i], args[i+1:]
	}
	return args, nil
}

// testBinaryFlags spells go test's short flags (-short, -count=2) the way
// the test binary wants them (-test.short, -test.count=2).
func testBinaryFlags(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		name := strings.TrimLeft(a, "-")
		if strings.HasPrefix(a, "-") && name != "" && !strings.HasPrefix(name, "test.") {
			a = "-test." + name
		}
		out[i] = a
	}
	return out
}

// testLine is one line of viz test --json: a test, or (with Test empty)
// what belongs to the package as a whole.
type testLine struct {
	tracer.TestReport
	BuildError string   `json:"build_error,omitempty"`
	NoTests    bool     `json:"no_tests,omitempty"`
	Warnings   []string `json:"warnings,omitempty"`
	Trace      string   `json:"trace,omitempty"`
	Recording  string   `json:"recording,omitempty"`
}

func writeTestJSON(w io.Writer, p *tracer.PackageReport) {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, t := range p.Tests {
		enc.Encode(testLine{TestReport: t})
	}
	if p.BuildError != "" || len(p.Findings) > 0 || len(p.Tests) == 0 || p.TracePath != "" {
		pkg := testLine{
			TestReport: tracer.TestReport{Package: p.Package, Outcome: p.Outcome, Findings: p.Findings},
			BuildError: p.BuildError,
			NoTests:    p.NoTests,
			Warnings:   p.Warnings,
			Trace:      p.TracePath,
			Recording:  p.RecordingPath,
		}
		if p.BuildError != "" {
			pkg.Result = "fail"
		}
		enc.Encode(pkg)
	}
}

// printPackage prints one package's report in words: what went wrong in
// each test, then a verdict line in go test's manner.
func printPackage(w io.Writer, p *tracer.PackageReport) {
	elapsed := time.Duration(p.ElapsedNS).Round(10 * time.Millisecond)
	switch {
	case p.BuildError != "":
		fmt.Fprintf(w, "FAIL  %s [build failed]\n%s\n", p.Package, indent(p.BuildError))
		return
	case p.NoTests:
		fmt.Fprintf(w, "?     %s [no test files]\n", p.Package)
		return
	}
	unfinished := 0
	for _, t := range p.Tests {
		if t.Result == "" {
			unfinished++
		}
		if t.Outcome == scenarios.OK && (t.Result != "fail" || t.Output == "") {
			// Passed, or failed only because a subtest did.
			continue
		}
		label := strings.ToUpper(string(t.Outcome))
		if t.Outcome == scenarios.OK {
			label = "FAIL"
		}
		fmt.Fprintf(w, "--- %s: %s\n", label, t.Test)
		printFindings(w, t.Findings)
		switch {
		case t.Note != "":
			fmt.Fprintf(w, "    note: %s\n", t.Note)
		case len(t.Findings) == 0:
			fmt.Fprintf(w, "%s\n", indent(t.Output))
		}
	}
	if len(p.Findings) > 0 {
		fmt.Fprintf(w, "--- %s: %s\n", strings.ToUpper(string(p.Outcome)), p.Package)
		printFindings(w, p.Findings)
	}
	switch {
	case unfinished == 1:
		fmt.Fprintf(w, "    (1 test did not finish: the binary was stopped)\n")
	case unfinished > 1:
		fmt.Fprintf(w, "    (%d tests did not finish: the binary was stopped)\n", unfinished)
	}
	for _, warn := range p.Warnings {
		fmt.Fprintf(w, "    warning: %s\n", warn)
	}
	switch {
	case p.RecordingPath != "":
		fmt.Fprintf(w, "    trace: %s\n    recording, with this report: %s (viz open %s)\n", p.TracePath, p.RecordingPath, p.RecordingPath)
	case p.TracePath != "":
		fmt.Fprintf(w, "    trace: %s (viz open %s)\n", p.TracePath, p.TracePath)
	}
	if p.Problem() {
		fmt.Fprintf(w, "FAIL  %s  %s (%s)\n", p.Package, countProblems(p), elapsed)
		return
	}
	tests := fmt.Sprintf("%d tests", len(p.Tests))
	if len(p.Tests) == 1 {
		tests = "1 test"
	}
	fmt.Fprintf(w, "ok    %s  %s, no leaks, hangs or races (%s)\n", p.Package, tests, elapsed)
}

// printFindings prints findings the way viz run does: the sentence, then
// each location with its line of source.
func printFindings(w io.Writer, fs []tracer.Finding) {
	for _, f := range fs {
		fmt.Fprintf(w, "    %s: %s\n", f.Kind, f.Summary)
		for _, l := range f.Locations {
			fmt.Fprintf(w, "        %s:%d  %s\n", shortPath(l.File), l.Line, l.Source)
		}
	}
}

// countProblems says in words what a package's findings add up to.
func countProblems(p *tracer.PackageReport) string {
	counts := map[scenarios.Outcome]int{}
	failed := 0
	for _, t := range p.Tests {
		for _, f := range t.Findings {
			counts[f.Kind]++
		}
		if t.Result == "fail" && t.Output != "" && t.Note == "" && len(t.Findings) == 0 {
			failed++
		}
	}
	for _, f := range p.Findings {
		counts[f.Kind]++
	}
	var parts []string
	for _, k := range []struct {
		kind       scenarios.Outcome
		one, other string
	}{
		{scenarios.Leak, "leak", "leaks"},
		{scenarios.Deadlock, "hang", "hangs"},
		{scenarios.Race, "race", "races"},
		{scenarios.Panic, "panic", "panics"},
		{scenarios.Crash, "crash", "crashes"},
		{scenarios.Timeout, "timeout", "timeouts"},
	} {
		switch n := counts[k.kind]; n {
		case 0:
		case 1:
			parts = append(parts, "1 "+k.one)
		default:
			parts = append(parts, fmt.Sprintf("%d %s", n, k.other))
		}
	}
	switch {
	case failed == 1:
		parts = append(parts, "1 failing test")
	case failed > 1:
		parts = append(parts, fmt.Sprintf("%d failing tests", failed))
	}
	if len(parts) == 0 {
		return "tests failed"
	}
	return strings.Join(parts, ", ")
}
