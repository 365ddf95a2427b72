package tracer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/exp/trace"

	"github.com/concviz/concviz/scenarios"
)

// This file is viz test: a user's tests run under the execution tracer,
// and each test is checked for goroutines it leaks, for a hang, and (with
// -race) for data races. The pieces: gotest_harness.go is the watchdog
// added to the package under test, gotest_analyze.go turns the trace, the
// hang report and stderr into findings per test, gotest_program.go does the
// same for a program (viz trace).

// DefaultTestTimeout bounds one package's test binary, as go test's own
// -timeout does by default.
const DefaultTestTimeout = 10 * time.Minute

// TestOptions says which tests to run and how.
type TestOptions struct {
	// Dir is the directory the package patterns are relative to (the
	// current directory if empty).
	Dir string
	// Packages are go list patterns; none means ".".
	Packages []string
	// Run is the -run regexp; empty runs every test.
	Run string
	// Race builds the test binaries with the race detector.
	Race bool
	// Timeout bounds each package's test binary; 0 means
	// DefaultTestTimeout. go test's -timeout is set to it, and the
	// binary's process group is killed shortly after.
	Timeout time.Duration
	// HangAfter is how long every goroutine of a test must stay blocked
	// to count as a hang; 0 means DefaultHangAfter.
	HangAfter time.Duration
	// Args are passed to each test binary after concviz's own flags
	// (-test.short, -test.count=3, ...).
	Args []string
	// TraceDir, if set, keeps each package's execution trace there, as
	// a file that viz open and go tool trace read, and, for a package
	// with a problem, its recording beside it (PackageReport.RecordingPath).
	TraceDir string
	// OnPackage, if set, receives each package's report as soon as it
	// is done, so that a long run shows progress.
	OnPackage func(*PackageReport)
}

// PackageReport is what viz test found in one package.
type PackageReport struct {
	Package string `json:"package"`
	// Outcome is the worst outcome of its tests and of Findings.
	Outcome scenarios.Outcome `json:"outcome"`
	Tests   []TestReport      `json:"tests"`
	// Findings are what belongs to no single test: a hang outside any
	// test's own code, a crash, the binary's timeout.
	Findings []Finding `json:"findings"`
	// BuildError is the compiler's output when the tests did not build.
	BuildError string `json:"build_error,omitempty"`
	// NoTests says the package has no test files.
	NoTests bool `json:"no_tests,omitempty"`
	// Race is the raw race detector output, when there was any.
	Race string `json:"race,omitempty"`
	// Crash is the test binary's stderr when it panicked or crashed.
	Crash     string   `json:"crash,omitempty"`
	ExitCode  int      `json:"exit_code"`
	ElapsedNS int64    `json:"elapsed_ns"`
	Warnings  []string `json:"warnings,omitempty"`
	// TracePath is where the package's execution trace was kept, when
	// TestOptions.TraceDir asked for it.
	TracePath string `json:"trace,omitempty"`
	// RecordingPath is where the package's recording (RecordingExt) was
	// kept beside its trace, for a package with a problem: the trace with
	// this report and the lanes named after the tests, as viz open shows
	// them.
	RecordingPath string `json:"recording,omitempty"`
	// Timeline is the package's goroutine timeline, with each test's
	// goroutine named after the test.
	Timeline *Timeline `json:"-"`
}

// TestReport is what viz test found in one test: the unit of its --json
// output, with findings shaped as in a scenario's Report.
type TestReport struct {
	Test    string            `json:"test"`
	Package string            `json:"package"`
	Outcome scenarios.Outcome `json:"outcome"`
	// Result is what the testing package said: "pass", "fail", "skip",
	// or "" when the test never finished (a hang, a crash).
	Result   string    `json:"result"`
	Findings []Finding `json:"findings"`
	// Output is what the test printed (capped), kept for a failing test.
	Output string `json:"output,omitempty"`
	// Note explains a result that is not what it seems: a test the
	// testing package failed only because the race detector fired while
	// it ran, for a race that belongs to another test.
	Note string `json:"note,omitempty"`
	// Goroutine is the trace's id of the goroutine that ran the test, 0
	// if unknown.
	Goroutine int64 `json:"goroutine,omitempty"`
}

// Problem reports whether the package needs attention: a finding, a
// failing test or a build error.
func (p *PackageReport) Problem() bool {
	if p.BuildError != "" || p.Outcome != scenarios.OK {
		return true
	}
	for _, t := range p.Tests {
		if t.Result == "fail" || t.Outcome != scenarios.OK {
			return true
		}
	}
	return false
}

// Test runs the tests of each package matched by opt.Packages, one
// package at a time, and returns a report per package. A package that does
// not build gets a report with its BuildError; an error means the packages
// could not even be listed, or ctx was cancelled (the reports so far are
// returned with it).
func Test(ctx context.Context, opt TestOptions) ([]*PackageReport, error) {
	goTool, err := findGo()
	if err != nil {
		return nil, err
	}
	pkgs, err := listPackages(ctx, goTool, opt.Dir, opt.Packages)
	if err != nil {
		return nil, err
	}
	var reports []*PackageReport
	for _, p := range pkgs {
		rep := testPackage(ctx, goTool, opt, p)
		reports = append(reports, rep)
		if opt.OnPackage != nil {
			opt.OnPackage(rep)
		}
		if err := ctx.Err(); err != nil {
			return reports, err
		}
	}
	return reports, nil
}

// listedPackage is the part of go list -json that viz test uses.
type listedPackage struct {
	ImportPath   string
	Name         string
	Dir          string
	GoFiles      []string
	TestGoFiles  []string
	XTestGoFiles []string
	Error        *struct{ Err string }
}

// listPackages expands package patterns with go list.
func listPackages(ctx context.Context, goTool, dir string, patterns []string) ([]listedPackage, error) {
	if len(patterns) == 0 {
		patterns = []string{"."}
	}
	args := append([]string{"list", "-e", "-json=ImportPath,Name,Dir,GoFiles,TestGoFiles,XTestGoFiles,Error", "--"}, patterns...)
	cmd := exec.CommandContext(ctx, goTool, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list %s: %w: %s", strings.Join(patterns, " "), err, strings.TrimSpace(stderr.String()))
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list: read its output: %w", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		return nil, fmt.Errorf("go list %s: no packages match", strings.Join(patterns, " "))
	}
	return pkgs, nil
}

// findGo finds the go command, which builds the user's code.
func findGo() (string, error) {
	goTool, err := exec.LookPath("go")
	if err != nil && os.Getenv("GOROOT") != "" {
		goTool, err = exec.LookPath(filepath.Join(os.Getenv("GOROOT"), "bin", "go"))
	}
	if err != nil {
		return "", fmt.Errorf("find the go command, which builds the code under test: %w", err)
	}
	return goTool, nil
}

// testPackage builds one package's test binary with the harness, runs it
// under the tracer and analyses what it left.
func testPackage(ctx context.Context, goTool string, opt TestOptions, p listedPackage) *PackageReport {
	start := time.Now()
	rep := &PackageReport{Package: p.ImportPath, Outcome: scenarios.OK, Tests: []TestReport{}, Findings: []Finding{}}
	defer func() { rep.ElapsedNS = int64(time.Since(start)) }()
	if p.Error != nil {
		rep.BuildError = p.Error.Err
		return rep
	}
	if len(p.TestGoFiles)+len(p.XTestGoFiles) == 0 {
		rep.NoTests = true
		return rep
	}
	work, err := os.MkdirTemp("", "concviz-test-")
	if err != nil {
		rep.BuildError = fmt.Sprintf("make a work directory: %v", err)
		return rep
	}
	defer os.RemoveAll(work)

	overlay, err := writeOverlay(work, map[string]string{
		filepath.Join(p.Dir, harnessTestFile): harnessFor(p.Name, false),
	})
	if err != nil {
		rep.BuildError = err.Error()
		return rep
	}
	bin := filepath.Join(work, "pkg.test")
	// go test's vet check is left to go test: a vet complaint would stop
	// the build, and this run is about what the tests do.
	args := []string{"test", "-c", "-vet=off", "-o", bin, "-overlay", overlay}
	if opt.Race {
		args = append(args, "-race")
	}
	args = append(args, p.ImportPath)
	if msg, err := goBuild(ctx, goTool, opt.Dir, opt.Race, args); err != nil {
		switch {
		case strings.Contains(msg, "import cycle") && strings.Contains(msg, harnessTestFile):
			msg += "\n(viz test adds a file that imports " + harnessImports + " to the package under test, so the packages those depend on cannot be tested with it)"
		case strings.Contains(msg, "GOMODCACHE"):
			msg += "\n(viz test adds a file to the package under test, and the go command allows no such addition in the module cache: test a dependency from a checkout of its module)"
		}
		rep.BuildError = msg
		return rep
	}

	timeout := opt.Timeout
	if timeout <= 0 {
		timeout = DefaultTestTimeout
	}
	tracePath := filepath.Join(work, "trace.out")
	hangPath := filepath.Join(work, "hang.txt")
	binArgs := []string{"-test.v=test2json", "-test.trace=" + tracePath, "-test.timeout=" + timeout.String()}
	if opt.Run != "" {
		binArgs = append(binArgs, "-test.run="+opt.Run)
	}
	binArgs = append(binArgs, opt.Args...)
	var events testEvents
	pr := &procRun{
		path:     bin,
		args:     binArgs,
		dir:      p.Dir,
		env:      harnessEnv(hangPath, opt.HangAfter),
		stopFile: hangPath + stopSuffix,
		onStdout: events.read,
	}
	// go test's own timeout panics with every goroutine's stack; the
	// group is killed only if even that does not end the binary.
	out := pr.run(ctx, timeout+10*time.Second)
	rep.ExitCode = out.exitCode
	rep.Warnings = append(rep.Warnings, out.warnings...)

	if opt.TraceDir != "" {
		kept := filepath.Join(opt.TraceDir, strings.ReplaceAll(p.ImportPath, "/", "_")+".trace")
		if err := keepFile(tracePath, kept); err != nil {
			rep.Warnings = append(rep.Warnings, err.Error())
		} else {
			rep.TracePath = kept
		}
	}
	tl := readTraceFile(tracePath)
	hang, _ := readHang(hangPath)
	a := newTestAnalysis(p.ImportPath, tl, &events)
	a.analyze(rep, hang, out)
	if rep.TracePath != "" && rep.Problem() {
		keepRecording(rep, a, tracePath)
	}
	return rep
}

// keepFile copies a file out of the work directory before it goes.
func keepFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return fmt.Errorf("keep the trace: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return fmt.Errorf("keep the trace: %w", err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		return fmt.Errorf("keep the trace: %w", err)
	}
	return nil
}

// goBuild runs a go build command and returns its output on failure.
func goBuild(ctx context.Context, goTool, dir string, race bool, args []string) (string, error) {
	cmd := goCommand(ctx, goTool, dir, race, args...)
	b, err := cmd.CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(b))
		if msg == "" {
			msg = err.Error()
		}
		return msg, fmt.Errorf("go %s: %w", args[0], err)
	}
	return "", nil
}

// harnessEnv is the environment that switches the harness on.
func harnessEnv(hangPath string, hangAfter time.Duration) []string {
	if hangAfter <= 0 {
		hangAfter = DefaultHangAfter
	}
	godebug := fmt.Sprintf("traceadvanceperiod=%d", TracePeriod.Nanoseconds())
	if old := os.Getenv("GODEBUG"); old != "" {
		godebug = old + "," + godebug
	}
	return []string{
		envHangFile + "=" + hangPath,
		envHangAfter + "=" + hangAfter.String(),
		"GODEBUG=" + godebug,
		"GOTRACEBACK=all",
	}
}

// readTraceFile builds the timeline of a trace file, keeping what came
// before a cut or a corruption.
func readTraceFile(path string) *Timeline {
	b := NewBuilder(false)
	f, err := os.Open(path)
	if err != nil {
		tl := b.Finish()
		tl.Truncated = true
		tl.Warnings = append(tl.Warnings, "no trace was written")
		return tl
	}
	defer f.Close()
	tr, err := trace.NewReader(bufio.NewReader(f))
	for err == nil {
		var ev trace.Event
		ev, err = tr.ReadEvent()
		if err == nil {
			b.Event(&ev)
		}
	}
	switch {
	case !b.started:
		b.tl.Truncated = true
		b.tl.Warnings = append(b.tl.Warnings, "no trace was written")
	case err != io.EOF:
		b.Truncate(err)
	}
	return b.Finish()
}

// procRun is one run of a user's binary in a process group of its own.
type procRun struct {
	path string
	args []string
	dir  string
	env  []string
	// onStdout, if set, reads the binary's stdout to its end; otherwise
	// stdout is kept like stderr.
	onStdout func(io.Reader)
	// stdin, if set, is the binary's standard input.
	stdin io.Reader
	// stdoutTee and stderrTee, if set, get a copy of the output as it
	// arrives.
	stdoutTee, stderrTee io.Writer
	// stopFile, if set, is created to ask the harness to stop the binary
	// (trace flushed) before its process group is killed.
	stopFile string
}

// stopGrace is how long a harnessed binary asked to stop has to do so
// before its process group is killed: the watchdog notices within a poll,
// and flushing the trace takes milliseconds.
const stopGrace = 3 * time.Second

// procOutput is what a finished binary left behind.
type procOutput struct {
	stdout, stderr string
	exitCode       int
	timedOut       bool
	started        bool
	elapsed        time.Duration
	warnings       []string
}

// run starts the binary and waits for it and everything it started. On
// timeout or cancellation it asks the harness to stop, then kills the
// whole group.
func (r *procRun) run(ctx context.Context, timeout time.Duration) *procOutput {
	out := &procOutput{exitCode: -1}
	cmd := exec.Command(r.path, r.args...)
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(), r.env...)
	if r.dir != "" {
		// As go test does: code that reads $PWD sees where it runs.
		cmd.Env = append(cmd.Env, "PWD="+r.dir)
	}
	cmd.Stdin = r.stdin
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		out.warnings = append(out.warnings, fmt.Sprintf("stdout pipe: %v", err))
		return out
	}
	stderrR, stderrW, err := os.Pipe()
	if err != nil {
		closeAll(stdoutR, stdoutW)
		out.warnings = append(out.warnings, fmt.Sprintf("stderr pipe: %v", err))
		return out
	}
	cmd.Stdout, cmd.Stderr = stdoutW, stderrW
	start := time.Now()
	err = cmd.Start()
	closeAll(stdoutW, stderrW)
	if err != nil {
		closeAll(stdoutR, stderrR)
		out.warnings = append(out.warnings, fmt.Sprintf("start %s: %v", filepath.Base(r.path), err))
		return out
	}
	out.started = true
	pgid := cmd.Process.Pid

	var wg sync.WaitGroup
	var stdout, stderr capBuffer
	wg.Add(2)
	go func() {
		defer wg.Done()
		src := tee(stdoutR, r.stdoutTee)
		if r.onStdout != nil {
			r.onStdout(src)
			io.Copy(io.Discard, src)
		} else {
			copyCapped(&stdout, src)
		}
	}()
	go func() { defer wg.Done(); copyCapped(&stderr, tee(stderrR, r.stderrTee)) }()
	waitDone := make(chan error, 1)
	go func() { waitDone <- cmd.Wait() }()

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var waitErr error
	select {
	case waitErr = <-waitDone:
	case <-timer.C:
		out.timedOut = true
		waitErr = r.stop(pgid, waitDone)
	case <-ctx.Done():
		waitErr = r.stop(pgid, waitDone)
		out.warnings = append(out.warnings, "interrupted")
	}
	killGroup(pgid)
	wg.Wait()
	closeAll(stdoutR, stderrR)
	out.elapsed = time.Since(start)
	out.stdout, out.stderr = stdout.String(), stderr.String()
	out.exitCode = cmd.ProcessState.ExitCode()
	var ee *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &ee) {
		out.warnings = append(out.warnings, fmt.Sprintf("waiting for %s: %v", filepath.Base(r.path), waitErr))
	}
	if stderr.truncated {
		out.warnings = append(out.warnings, fmt.Sprintf("the error output was cut at %d bytes", outputCap))
	}
	return out
}

// tee copies what is read from r to w, if w is set. A failing w does not
// stop the reading: the child must never block on a full pipe.
func tee(r io.Reader, w io.Writer) io.Reader {
	if w == nil {
		return r
	}
	return io.TeeReader(r, ignoreErrors{w})
}

type ignoreErrors struct{ w io.Writer }

func (i ignoreErrors) Write(p []byte) (int, error) {
	i.w.Write(p)
	return len(p), nil
}

// stop asks the harness to stop the binary, gives it stopGrace, then kills
// the group; it returns what Wait returned.
func (r *procRun) stop(pgid int, waitDone <-chan error) error {
	if r.stopFile != "" && os.WriteFile(r.stopFile, nil, 0o644) == nil {
		grace := time.NewTimer(stopGrace)
		defer grace.Stop()
		select {
		case err := <-waitDone:
			return err
		case <-grace.C:
		}
	}
	killGroup(pgid)
	return <-waitDone
}

// testOutputCap bounds the output kept per test.
const testOutputCap = 16 << 10

// testEvents is what a test binary run with -test.v=test2json said about
// its tests: the framing lines (marked by a leading ^V) name the test that
// starts, pauses, continues or ends, and every other line is output of the
// test named last.
type testEvents struct {
	// order lists the tests in the order they started ("=== RUN"),
	// which for the subtests of one test is the order in which their
	// goroutines were created.
	order []string
	// result maps a test to "pass", "fail" or "skip".
	result map[string]string
	output map[string]*strings.Builder
	// current is the test the next output line belongs to.
	current string
}

const framing = "\x16"

// read consumes the binary's stdout.
func (e *testEvents) read(r io.Reader) {
	e.result = map[string]string{}
	e.output = map[string]*strings.Builder{}
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			e.line(strings.TrimSuffix(line, "\n"))
		}
		if err != nil {
			return
		}
	}
}

func (e *testEvents) line(line string) {
	if rest, ok := strings.CutPrefix(line, framing); ok {
		switch {
		case strings.HasPrefix(rest, "=== RUN   "):
			name := strings.TrimPrefix(rest, "=== RUN   ")
			e.order = append(e.order, name)
			e.current = name
			return
		case strings.HasPrefix(rest, "=== PAUSE "), strings.HasPrefix(rest, "=== CONT  "), strings.HasPrefix(rest, "=== NAME  "):
			e.current = strings.TrimSpace(rest[len("=== NAME  "):])
			return
		}
		for _, r := range []struct{ prefix, result string }{
			{"--- PASS: ", "pass"}, {"--- FAIL: ", "fail"}, {"--- SKIP: ", "skip"},
		} {
			if name, ok := strings.CutPrefix(strings.TrimLeft(rest, " "), r.prefix); ok {
				name, _, _ = strings.Cut(name, " (")
				e.result[name] = r.result
				e.current = name
				return
			}
		}
		line = rest
	}
	if e.current == "" {
		return
	}
	b := e.output[e.current]
	if b == nil {
		b = &strings.Builder{}
		e.output[e.current] = b
	}
	if b.Len() < testOutputCap {
		b.WriteString(line)
		b.WriteByte('\n')
	}
}
