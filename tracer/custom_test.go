package tracer

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/concviz/concviz/scenarios"
)

// crossWaitSource returns the catalog's deadlock-cross-wait file with old
// replaced by new, failing the test if old is not in it exactly once.
func crossWaitSource(t *testing.T, old, new string) string {
	t.Helper()
	s, err := scenarios.Lookup("deadlock-cross-wait")
	if err != nil {
		t.Fatal(err)
	}
	src := s.Source()
	if n := strings.Count(src, old); n != 1 {
		t.Fatalf("the scenario's file has %q %d times, want once", old, n)
	}
	return strings.Replace(src, old, new, 1)
}

// lineOf returns the 1-based line of the first line of src that contains
// sub.
func lineOf(t *testing.T, src, sub string) int {
	t.Helper()
	for i, l := range strings.Split(src, "\n") {
		if strings.Contains(l, sub) {
			return i + 1
		}
	}
	t.Fatalf("no line contains %q", sub)
	return 0
}

// The learner fixes the broken variant the way the reference fix does: the
// caller sends before it waits. Their version runs as "broken" (the variant
// they edited) and must end well, where the catalog's broken one deadlocks.
func TestCustomFixRunsOK(t *testing.T) {
	src := crossWaitSource(t,
		"\tv := <-ch2 // BUG: waits for the helper, who waits for us\n\tch1 <- v\n",
		"\tch1 <- 41 // FIX: my fix, send first\n\tif v := <-ch2; v != 41 {\n\t\treturn fmt.Errorf(\"got %d\", v)\n\t}\n")
	for i := range 2 {
		start := time.Now()
		res, err := Run(context.Background(), RunOptions{Scenario: "deadlock-cross-wait", Variant: "broken", Source: src, Timeout: 20 * time.Second})
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		if got := res.Report.Outcome; got != scenarios.OK {
			t.Fatalf("run %d: outcome %s, want ok; findings %+v", i, got, res.Report.Findings)
		}
		if res.Report.Variant != "broken" {
			t.Errorf("run %d: variant %q, want broken", i, res.Report.Variant)
		}
		t.Logf("run %d (build %s) took %s", i, map[bool]string{true: "cold or warm", false: "cached"}[i == 0], time.Since(start))
	}
}

// An edit that deadlocks in another way is diagnosed from the edited lines:
// the finding's locations are the learner's text, not the catalog's.
func TestCustomDiagnosisReadsTheEdit(t *testing.T) {
	src := crossWaitSource(t,
		"\tv := <-ch2 // BUG: waits for the helper, who waits for us\n",
		"\tv := <-ch2 // MINE: still waiting for the helper\n")
	res, err := Run(context.Background(), RunOptions{Scenario: "deadlock-cross-wait", Variant: "broken", Source: src, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.Report.Outcome != scenarios.Deadlock {
		t.Fatalf("outcome %s, want deadlock", res.Report.Outcome)
	}
	found := false
	for _, f := range res.Report.Findings {
		for _, g := range f.Goroutines {
			if strings.Contains(g.Location.Source, "MINE") {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("no finding quotes the edited line; findings %+v", res.Report.Findings)
	}
}

// An edit that does not compile gives the compiler's complaints on the
// lines of the edit.
func TestCustomCompileError(t *testing.T) {
	src := crossWaitSource(t, "\t\tch2 <- v\n", "\t\tch2 <- w // undefined\n")
	want := lineOf(t, src, "ch2 <- w")
	_, err := Run(context.Background(), RunOptions{Scenario: "deadlock-cross-wait", Variant: "broken", Source: src, Timeout: 20 * time.Second})
	var ce *CompileError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T), want a *CompileError", err, err)
	}
	if ce.File != "deadlock_cross_wait.go" {
		t.Errorf("file %q, want deadlock_cross_wait.go", ce.File)
	}
	if len(ce.Errors) == 0 {
		t.Fatalf("no errors parsed from %q", ce.Output)
	}
	// v is now unused, too: the compiler says so on the line that
	// declares it, so look for the undefined name among all of them.
	ok := false
	for _, e := range ce.Errors {
		if e.Line == want && e.Column > 0 && strings.Contains(e.Message, "undefined: w") {
			ok = true
		}
	}
	if !ok {
		t.Errorf("errors %+v, want \"undefined: w\" on line %d", ce.Errors, want)
	}
	if strings.Contains(ce.Output, "build-") {
		t.Errorf("the output names the build's work directory: %q", ce.Output)
	}
}

// An edit that never ends is killed at the run's timeout, like any run.
func TestCustomHangKilledAtTimeout(t *testing.T) {
	src := crossWaitSource(t, "\tch1 := make(chan int)\n\tch2 := make(chan int)\n\n\tgo func() {\n\t\tv := <-ch1 // BUG",
		"\tch1 := make(chan int)\n\tch2 := make(chan int)\n\tfor start := time.Now(); time.Since(start) < time.Hour; {\n\t}\n\n\tgo func() {\n\t\tv := <-ch1 // BUG")
	src = strings.Replace(src, "\t\"fmt\"\n", "\t\"fmt\"\n\t\"time\"\n", 1)
	// The first run may build; the timed one finds the build cached.
	if _, err := buildCustom(context.Background(), mustLookup(t, "deadlock-cross-wait"), src, false, time.Minute); err != nil {
		t.Fatal(err)
	}
	const timeout = 1500 * time.Millisecond
	start := time.Now()
	res, err := Run(context.Background(), RunOptions{Scenario: "deadlock-cross-wait", Variant: "broken", Source: src, Timeout: timeout})
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if res.Report.Outcome != scenarios.Timeout {
		t.Errorf("outcome %s, want timeout", res.Report.Outcome)
	}
	if elapsed > timeout+3*time.Second {
		t.Errorf("the run took %s with a timeout of %s", elapsed, timeout)
	}
}

// A build that takes longer than the timeout is stopped.
func TestCustomBuildTimeout(t *testing.T) {
	// A fresh edit (a comment with the time in it) is never cached.
	src := crossWaitSource(t, "package scenarios\n", "package scenarios\n\n// "+time.Now().String()+"\n")
	_, err := buildCustom(context.Background(), mustLookup(t, "deadlock-cross-wait"), src, false, time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "took longer than") {
		t.Fatalf("error %v, want the build stopped at its timeout", err)
	}
}

// An oversized edit is refused before anything is built.
func TestCustomTooLarge(t *testing.T) {
	src := "package scenarios\n" + strings.Repeat("//\n", MaxSource/3+1)
	_, err := Run(context.Background(), RunOptions{Scenario: "deadlock-cross-wait", Source: src})
	if err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("error %v, want the edit refused for its size", err)
	}
}

func TestParseCompileErrors(t *testing.T) {
	out := "# github.com/concviz/concviz/scenarios\n" +
		"/w/build-1/x.go:34:3: declared and not used: v\n" +
		"/w/build-1/x.go:2:7: syntax error: unexpected EOF, expected )\n" +
		"/w/build-1/x.go:9: some message: with a colon\n" +
		"scenarios/other.go:1:1: elsewhere\n"
	ce := parseCompileErrors("x.go", "/w/build-1/x.go", out)
	want := []SourceError{
		{34, 3, "declared and not used: v"},
		{2, 7, "syntax error: unexpected EOF, expected )"},
		{9, 0, "some message: with a colon"},
	}
	if len(ce.Errors) != len(want) {
		t.Fatalf("got %+v, want %+v", ce.Errors, want)
	}
	for i := range want {
		if ce.Errors[i] != want[i] {
			t.Errorf("error %d: got %+v, want %+v", i, ce.Errors[i], want[i])
		}
	}
	if !strings.Contains(ce.Output, "x.go:34:3") || strings.Contains(ce.Output, "/w/build-1") {
		t.Errorf("output %q should name the file by its own name", ce.Output)
	}
}

func mustLookup(t *testing.T, id string) *scenarios.Scenario {
	t.Helper()
	s, err := scenarios.Lookup(id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A learner's version of a scenario whose child links a package of its own
// (pagination-offset's SQLite driver) is built with that package too: the
// learner who replaces OFFSET with the keyset cursor sees every post once.
func TestCustomLinkedScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a child that links SQLite")
	}
	s, err := scenarios.Lookup("pagination-offset")
	if err != nil {
		t.Fatal(err)
	}
	src := s.Source()
	old := "func paginationBroken(ctx context.Context) error {\n"
	if strings.Count(src, old) != 1 {
		t.Fatalf("the scenario's file has no single %q", old)
	}
	// The broken variant's body becomes a call of the fixed one.
	src = strings.Replace(src, old, old+"\treturn paginationFixed(ctx) // FIX: my fix\n", 1)
	res, err := Run(context.Background(), RunOptions{Scenario: "pagination-offset", Variant: "broken", Source: src, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Report.Outcome; got != scenarios.OK {
		t.Fatalf("outcome %s, want ok; findings %+v; output %q", got, res.Report.Findings, res.Report.Output)
	}
}
