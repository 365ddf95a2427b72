package tracer

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/concviz/concviz/scenarios"
)

// The packages of the repository's testdata directory are real Go tests
// and programs with known bugs; their lines are marked // LEAK, // STARTED,
// // HANG and // RACE, and the tests below check the findings against those
// marks, so that editing a test package cannot silently break them.

// moduleDir is the repository root, which the testdata patterns are
// relative to.
const moduleDir = ".."

// needGo skips a test when no go command is there to build user code.
func needGo(t *testing.T) {
	t.Helper()
	if _, err := findGo(); err != nil {
		t.Skip(err)
	}
}

// marked returns the numbers of the lines of a file that carry a marker.
func marked(t *testing.T, file, marker string) []int {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []int
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if strings.Contains(sc.Text(), marker) {
			lines = append(lines, n)
		}
	}
	if len(lines) == 0 {
		t.Fatalf("%s has no line marked %s", file, marker)
	}
	return lines
}

// at reports whether a location is one of the marked lines of a file.
func at(l Location, file string, lines []int) bool {
	return baseName(l.File) == baseName(file) && slices.Contains(lines, l.Line)
}

func testReport(t *testing.T, p *PackageReport, name string) *TestReport {
	t.Helper()
	for i := range p.Tests {
		if p.Tests[i].Test == name {
			return &p.Tests[i]
		}
	}
	t.Fatalf("%s: no report for %s; have %+v", p.Package, name, p.Tests)
	return nil
}

func runTests(t *testing.T, opt TestOptions) []*PackageReport {
	t.Helper()
	needGo(t)
	opt.Dir = moduleDir
	reps, err := Test(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	return reps
}

// TestLeaks runs the leaking package several times over (-test.count), so
// that each leak must be found in every run, each attached to its own test
// even under t.Parallel, with the go statement and the blocking line.
func TestLeaks(t *testing.T) {
	const count = 5
	reps := runTests(t, TestOptions{Packages: []string{"./testdata/leaky/..."}, Args: []string{"-test.count=5"}})
	if len(reps) != 1 {
		t.Fatalf("got %d package reports, want 1", len(reps))
	}
	p := reps[0]
	if p.Outcome != scenarios.Leak || !p.Problem() || len(p.Findings) != 0 {
		t.Errorf("package: outcome %s, problem %v, package findings %+v; want leak, true, none", p.Outcome, p.Problem(), p.Findings)
	}
	leaky := filepath.Join(moduleDir, "testdata/leaky/leaky.go")
	leakyTest := filepath.Join(moduleDir, "testdata/leaky/leaky_test.go")
	tests := []struct {
		name      string
		file      string
		goroutine string
	}{
		{"TestFirstResult", leaky, "leaky.firstResult.func1"},
		{"TestWatcher", leaky, "leaky.watch"},
		{"TestParallel/leaks", leakyTest, "leaky.TestParallel.func1.1"},
		{"TestParallel", "", ""},
		{"TestParallel/clean", "", ""},
		{"TestNoGoroutines", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := testReport(t, p, tt.name)
			if tr.Result != "pass" {
				t.Errorf("result %q, want pass", tr.Result)
			}
			if tt.file == "" {
				if len(tr.Findings) != 0 || tr.Outcome != scenarios.OK {
					t.Errorf("clean test has outcome %s and findings %+v", tr.Outcome, tr.Findings)
				}
				return
			}
			if len(tr.Findings) != count {
				t.Fatalf("%d findings in %d runs, want one leak per run: %+v", len(tr.Findings), count, tr.Findings)
			}
			leakLines, startLines := marked(t, tt.file, "// LEAK"), marked(t, tt.file, "// STARTED")
			for _, f := range tr.Findings {
				if f.Kind != scenarios.Leak || len(f.Goroutines) != 1 || len(f.Locations) != 2 {
					t.Fatalf("finding %+v, want a leak of one goroutine with its blocking and creation lines", f)
				}
				if g := f.Goroutines[0]; g.Name != tt.goroutine || !g.State.Blocked() {
					t.Errorf("leaked goroutine %s in state %s, want %s, blocked", g.Name, g.State, tt.goroutine)
				}
				if !at(f.Locations[0], tt.file, leakLines) || !at(f.Locations[1], tt.file, startLines) {
					t.Errorf("locations %v, want a // LEAK line %v then a // STARTED line %v of %s", f.Locations, leakLines, startLines, tt.file)
				}
				if !strings.Contains(f.Summary, "after "+tt.name+" ended") {
					t.Errorf("summary does not name the test: %s", f.Summary)
				}
			}
		})
	}
}

// TestHang checks that a deadlocked test is reported as a hang, with both
// blocking lines, within a few seconds, while another test keeps running
// for far longer.
func TestHang(t *testing.T) {
	start := time.Now()
	reps := runTests(t, TestOptions{Packages: []string{"./testdata/hang"}})
	elapsed := time.Since(start)
	p := reps[0]
	tr := testReport(t, p, "TestCrossWait")
	if tr.Outcome != scenarios.Deadlock || len(tr.Findings) != 1 {
		t.Fatalf("TestCrossWait: outcome %s, findings %+v; want one deadlock", tr.Outcome, tr.Findings)
	}
	f := tr.Findings[0]
	file := filepath.Join(moduleDir, "testdata/hang/hang_test.go")
	hang := marked(t, file, "// HANG")
	var got []int
	for _, l := range f.Locations {
		if !at(l, file, hang) {
			t.Errorf("location %v is not a // HANG line %v", l, hang)
		}
		got = append(got, l.Line)
	}
	slices.Sort(got)
	if !slices.Equal(got, hang) {
		t.Errorf("hang lines %v, want %v", got, hang)
	}
	if len(f.Goroutines) != 2 {
		t.Errorf("goroutines %+v, want the test's two", f.Goroutines)
	}
	if !strings.Contains(f.Summary, "TestCrossWait hangs") || !strings.Contains(f.Summary, "cycle") {
		t.Errorf("summary does not name the test and the cycle: %s", f.Summary)
	}
	for _, name := range []string{"TestFine", "TestBusy"} {
		if o := testReport(t, p, name); len(o.Findings) != 0 {
			t.Errorf("%s has findings %+v", name, o.Findings)
		}
	}
	if r := testReport(t, p, "TestBusy").Result; r != "" {
		t.Errorf("TestBusy result %q, want none: the binary was stopped while it ran", r)
	}
	if p.ExitCode != hangExitCode {
		t.Errorf("exit code %d, want the harness's %d", p.ExitCode, hangExitCode)
	}
	// TestBusy runs for 20 s: only a per-test hang ends the run early.
	t.Logf("hang reported at %v into the trace, %v after viz test started (build included)", time.Duration(f.Time).Round(time.Millisecond), elapsed.Round(time.Millisecond))
	if elapsed > 10*time.Second {
		t.Errorf("the hang took %v to report, want a few seconds", elapsed)
	}
}

// TestClean checks that correct concurrent tests report nothing, with a
// hang period shorter than one test's timer wait.
func TestClean(t *testing.T) {
	p := runTests(t, TestOptions{Packages: []string{"./testdata/clean"}, HangAfter: 250 * time.Millisecond, Args: []string{"-test.count=3"}})[0]
	if p.Problem() || p.Outcome != scenarios.OK || len(p.Findings) != 0 {
		t.Fatalf("clean package: outcome %s, findings %+v, tests %+v", p.Outcome, p.Findings, p.Tests)
	}
	if len(p.Tests) != 8 {
		t.Errorf("%d tests, want 8", len(p.Tests))
	}
	for _, tr := range p.Tests {
		if tr.Result != "pass" || tr.Outcome != scenarios.OK || len(tr.Findings) != 0 {
			t.Errorf("%s: result %q, outcome %s, findings %+v", tr.Test, tr.Result, tr.Outcome, tr.Findings)
		}
	}
}

// TestRun checks that -run selects tests, that each report names its
// package, and that a kept trace is a whole trace.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	p := runTests(t, TestOptions{Packages: []string{"./testdata/leaky"}, Run: "^TestNoGoroutines$", TraceDir: dir})[0]
	if len(p.Tests) != 1 || p.Tests[0].Test != "TestNoGoroutines" || p.Problem() {
		t.Fatalf("tests %+v, want TestNoGoroutines alone, clean", p.Tests)
	}
	if p.Tests[0].Package != "github.com/concviz/concviz/testdata/leaky" {
		t.Errorf("package %q", p.Tests[0].Package)
	}
	if filepath.Dir(p.TracePath) != dir {
		t.Fatalf("trace kept at %q, want in %s", p.TracePath, dir)
	}
	tl := readTraceFile(p.TracePath)
	if tl.Truncated || tl.Goroutine(p.Tests[0].Goroutine) == nil {
		t.Errorf("kept trace: truncated %v, warnings %q, test goroutine G%d present %v", tl.Truncated, tl.Warnings, p.Tests[0].Goroutine, tl.Goroutine(p.Tests[0].Goroutine) != nil)
	}
}

// TestRaces checks that each race is attached to the test whose goroutines
// made it, under t.Parallel too, and that a test the testing package
// failed for another's race says so.
func TestRaces(t *testing.T) {
	if err := exec.Command("gcc", "--version").Run(); err != nil {
		t.Skip("no C compiler for -race")
	}
	p := runTests(t, TestOptions{Packages: []string{"./testdata/racy"}, Race: true})[0]
	if p.BuildError != "" {
		t.Fatalf("build: %s", p.BuildError)
	}
	file := filepath.Join(moduleDir, "testdata/racy/racy_test.go")
	race := marked(t, file, "// RACE")
	for _, name := range []string{"TestCounter", "TestParallel/racy"} {
		tr := testReport(t, p, name)
		if tr.Outcome != scenarios.Race || len(tr.Findings) != 1 {
			t.Errorf("%s: outcome %s, findings %+v; want one race", name, tr.Outcome, tr.Findings)
			continue
		}
		f := tr.Findings[0]
		for i, l := range f.Locations {
			if !at(l, file, race) {
				t.Errorf("%s: location %v is not a // RACE line %v", name, l, race)
			}
			if f.Goroutines[i].ID == 0 {
				t.Errorf("%s: access %d has no goroutine of the trace", name, i)
			}
		}
		if f.Goroutines[0].ID == f.Goroutines[1].ID {
			t.Errorf("%s: both accesses by G%d", name, f.Goroutines[0].ID)
		}
	}
	for _, name := range []string{"TestLocked", "TestParallel/clean"} {
		if tr := testReport(t, p, name); len(tr.Findings) != 0 {
			t.Errorf("%s has findings %+v", name, tr.Findings)
		}
	}
	if tr := testReport(t, p, "TestParallel/clean"); tr.Result == "fail" && tr.Note == "" {
		t.Errorf("TestParallel/clean failed for another test's race without a note")
	}
}

// TestBuildError checks that a package that does not compile gets its
// compiler output, not a crash.
func TestBuildError(t *testing.T) {
	needGo(t)
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/broken\n\ngo 1.26\n")
	write("x_test.go", "package broken\n\nimport \"testing\"\n\nfunc TestX(t *testing.T) { undefined() }\n")
	reps, err := Test(context.Background(), TestOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	p := reps[0]
	if !strings.Contains(p.BuildError, "undefined") || !p.Problem() {
		t.Errorf("build error %q, problem %v", p.BuildError, p.Problem())
	}
}

// TestTraceProgram runs the testdata program in each of its modes.
func TestTraceProgram(t *testing.T) {
	needGo(t)
	file := filepath.Join(moduleDir, "testdata/prog/main.go")
	tests := []struct {
		args    []string
		outcome scenarios.Outcome
		marker  string
		warn    string
	}{
		{[]string{"./testdata/prog", "deadlock"}, scenarios.Deadlock, "// HANG", ""},
		// Stopped at its timeout, through the harness: the trace is whole.
		{[]string{"./testdata/prog", "forever"}, scenarios.Timeout, "// SLEEP", ""},
		{[]string{"./testdata/prog", "leak"}, scenarios.Leak, "// LEAK", ""},
		{[]string{"-race", "./testdata/prog", "race"}, scenarios.Race, "// RACE", ""},
		{[]string{"testdata/prog/main.go", "ok"}, scenarios.OK, "", ""},
		{[]string{"./testdata/prog", "exit"}, scenarios.OK, "", "os.Exit"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			res, err := TraceProgram(context.Background(), ProgramOptions{Dir: moduleDir, Args: tt.args, Timeout: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			rep := res.Report
			if rep.Outcome != tt.outcome {
				t.Fatalf("outcome %s, want %s: %+v", rep.Outcome, tt.outcome, rep.Findings)
			}
			if tt.marker != "" {
				lines := marked(t, file, tt.marker)
				for _, f := range rep.Findings {
					if len(f.Locations) == 0 || !at(f.Locations[0], file, lines) {
						t.Errorf("finding %q does not point at a %s line %v: %v", f.Summary, tt.marker, lines, f.Locations)
					}
				}
			}
			warned := false
			for _, w := range rep.Warnings {
				warned = warned || tt.warn != "" && strings.Contains(w, tt.warn)
			}
			if tt.warn != "" && !warned {
				t.Errorf("no warning about %s in %q", tt.warn, rep.Warnings)
			}
			if tt.warn == "" && rep.Goroutines == 0 {
				t.Errorf("a program that returned from main or was stopped has no goroutines in its trace")
			}
			if tt.warn == "" && res.Timeline.Truncated {
				t.Errorf("the trace is cut: %q", res.Timeline.Warnings)
			}
			for _, f := range rep.Findings {
				for _, g := range f.Goroutines {
					if g.ID == 0 {
						t.Errorf("finding %q names a goroutine that is not in the trace", f.Summary)
					}
				}
			}
			for _, g := range res.Timeline.Goroutines {
				if !g.Hidden && (strings.Contains(g.Name, harnessPrefix) || isTraceWriter(res.Timeline, g)) {
					t.Errorf("the harness's goroutine %s is visible", g.Name)
				}
			}
		})
	}
}

func TestSplitGoRun(t *testing.T) {
	tests := []struct {
		args                   []string
		build, target, program []string
		err                    bool
	}{
		{args: []string{"./cmd/x", "-v", "a"}, target: []string{"./cmd/x"}, program: []string{"-v", "a"}},
		{args: []string{"-race", "-tags", "t1", "./cmd/x"}, build: []string{"-race", "-tags", "t1"}, target: []string{"./cmd/x"}},
		{args: []string{"-ldflags=-s", "a.go", "b.go", "arg.go.txt"}, build: []string{"-ldflags=-s"}, target: []string{"a.go", "b.go"}, program: []string{"arg.go.txt"}},
		{args: []string{"-o", "x", "./cmd/x"}, err: true},
		{args: []string{"-race"}, err: true},
	}
	for _, tt := range tests {
		got, err := splitGoRun(tt.args)
		if (err != nil) != tt.err {
			t.Errorf("%q: error %v, want error %v", tt.args, err, tt.err)
			continue
		}
		if tt.err {
			continue
		}
		if !slices.Equal(got.build, tt.build) || !slices.Equal(got.target, tt.target) || !slices.Equal(got.program, tt.program) {
			t.Errorf("%q: got %+v, want build %q target %q program %q", tt.args, got, tt.build, tt.target, tt.program)
		}
	}
}

// TestTestEvents checks the reading of -test.v=test2json output, whose
// framing lines carry a ^V.
func TestTestEvents(t *testing.T) {
	out := "\x16=== RUN   TestA\n" +
		"    a_test.go:5: hello\n" +
		"\x16=== RUN   TestA/x/y\n" +
		"\x16=== PAUSE TestA/x/y\n" +
		"\x16=== CONT  TestA/x/y\n" +
		"    a_test.go:9: inner\n" +
		"\x16    --- FAIL: TestA/x/y (0.00s)\n" +
		"\x16--- FAIL: TestA (0.00s)\n" +
		"\x16=== RUN   TestB\n" +
		"\x16--- SKIP: TestB (0.00s)\n"
	var e testEvents
	e.read(strings.NewReader(out))
	if want := []string{"TestA", "TestA/x/y", "TestB"}; !slices.Equal(e.order, want) {
		t.Errorf("order %q, want %q", e.order, want)
	}
	for name, want := range map[string]string{"TestA": "fail", "TestA/x/y": "fail", "TestB": "skip"} {
		if e.result[name] != want {
			t.Errorf("%s: result %q, want %q", name, e.result[name], want)
		}
	}
	if got := e.output["TestA/x/y"].String(); !strings.Contains(got, "inner") || strings.Contains(got, "hello") {
		t.Errorf("TestA/x/y output %q", got)
	}
}

// TestHarnessSourceBuilds vets the harness as the user's package would
// compile it, for a test package and for a program, in a module that
// declares an old Go version: the harness must not need newer language.
func TestHarnessSourceBuilds(t *testing.T) {
	needGo(t)
	goTool, _ := findGo()
	for _, program := range []bool{false, true} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/h\n\ngo 1.18\n"), 0o644)
		name, user := "h", "package h\n"
		if program {
			name, user = "main", "package main\n\nfunc "+renamedMain+"() {}\n"
		}
		os.WriteFile(filepath.Join(dir, "user.go"), []byte(user), 0o644)
		os.WriteFile(filepath.Join(dir, "harness.go"), []byte(harnessFor(name, program)), 0o644)
		cmd := exec.Command(goTool, "vet", ".")
		cmd.Dir = dir
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("program %v: go vet: %v\n%s", program, err, b)
		}
	}
}

// TestTimeout checks that a test that never blocks for good, only takes
// too long, is ended by go test's own -timeout and reported with its line.
func TestTimeout(t *testing.T) {
	p := runTests(t, TestOptions{Packages: []string{"./testdata/slow"}, Timeout: 2 * time.Second})[0]
	tr := testReport(t, p, "TestSlow")
	if tr.Outcome != scenarios.Timeout || len(tr.Findings) != 1 {
		t.Fatalf("outcome %s, findings %+v; want one timeout", tr.Outcome, tr.Findings)
	}
	f := tr.Findings[0]
	file := filepath.Join(moduleDir, "testdata/slow/slow_test.go")
	if len(f.Locations) != 1 || !at(f.Locations[0], file, marked(t, file, "// SLEEP")) {
		t.Errorf("locations %v, want the // SLEEP line", f.Locations)
	}
	if !strings.Contains(f.Summary, "while TestSlow ran") {
		t.Errorf("summary does not name the test: %s", f.Summary)
	}
}

// TestPanic checks that a panic in a test's goroutine, which kills the
// binary, is a finding of that test with the panicking line.
func TestPanic(t *testing.T) {
	p := runTests(t, TestOptions{Packages: []string{"./testdata/panicky"}})[0]
	tr := testReport(t, p, "TestNilMap")
	if tr.Outcome != scenarios.Panic || len(tr.Findings) != 1 {
		t.Fatalf("outcome %s, findings %+v; want one panic", tr.Outcome, tr.Findings)
	}
	file := filepath.Join(moduleDir, "testdata/panicky/panicky_test.go")
	if l := tr.Findings[0].Locations; len(l) == 0 || !at(l[0], file, marked(t, file, "// PANIC")) {
		t.Errorf("locations %v, want the // PANIC line first", l)
	}
	if fine := testReport(t, p, "TestFine"); fine.Result != "pass" || len(fine.Findings) != 0 {
		t.Errorf("TestFine: result %q, findings %+v", fine.Result, fine.Findings)
	}
}

// TestInterrupt checks that cancelling a run stops the test binary through
// the harness, so that the trace ends whole and what finished is reported.
func TestInterrupt(t *testing.T) {
	// A first run that runs no test warms the build cache, so that the
	// interrupt below falls while the tests run, not while they build.
	runTests(t, TestOptions{Packages: []string{"./testdata/hang"}, Run: "^$"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var reps []*PackageReport
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		// A hang period longer than the run: only the interrupt ends it.
		reps, err = Test(ctx, TestOptions{Dir: moduleDir, Packages: []string{"./testdata/hang"}, HangAfter: time.Minute})
	}()
	time.Sleep(3 * time.Second)
	cancel()
	<-done
	if !errors.Is(err, context.Canceled) || len(reps) != 1 {
		t.Fatalf("error %v and %d reports, want the cancellation and one report", err, len(reps))
	}
	p := reps[0]
	if p.BuildError != "" || p.Timeline == nil {
		t.Fatalf("interrupted before the tests ran: %s", p.BuildError)
	}
	if p.Timeline.Truncated {
		t.Errorf("the trace is cut: %q", p.Timeline.Warnings)
	}
	if !slices.Contains(p.Warnings, "interrupted") {
		t.Errorf("warnings %q do not say interrupted", p.Warnings)
	}
	if r := testReport(t, p, "TestFine").Result; r != "pass" {
		t.Errorf("TestFine result %q, want pass", r)
	}
	if f := testReport(t, p, "TestCrossWait").Findings; len(f) != 0 {
		t.Errorf("an interrupted run reports a hang: %+v", f)
	}
}
