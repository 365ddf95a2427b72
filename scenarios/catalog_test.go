package scenarios

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// validID is the shape of a scenario id: lower-case words joined by dashes.
var validID = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

func TestIDs(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range Catalog() {
		if !validID.MatchString(s.ID) {
			t.Errorf("id %q: want lower-case words joined by dashes", s.ID)
		}
		if seen[s.ID] {
			t.Errorf("id %q: listed twice", s.ID)
		}
		seen[s.ID] = true
		if want := strings.ReplaceAll(s.ID, "-", "_") + ".go"; s.File != want {
			t.Errorf("%s: File = %q, want %q", s.ID, s.File, want)
		}
	}
	if got := IDs(); len(got) != len(Catalog()) {
		t.Errorf("IDs() lists %d ids, catalog has %d scenarios", len(got), len(Catalog()))
	}
}

// contractIDs are ids that the CLI, URLs and recordings rely on; a scenario
// may be added but none of these may disappear or change its name.
var contractIDs = []string{
	"deadlock-main-recv", "deadlock-cross-wait", "race-counter", "leak-unread-result",
	"nil-interface-error", "deadlock-buffered-full", "map-concurrent-writes",
	"slice-shared-append", "waitgroup-add-in-goroutine", "results-without-waitgroup",
	"cache-map-race", "once-lazy-init", "select-default-spin", "unbuffered-vs-buffered",
	"context-ignored", "context-request-cancel", "worker-pool", "worker-pool-panic",
	"rate-limiter", "fan-out-fan-in", "crawler", "pubsub-slow-consumer", "cache-stampede",
	"circuit-breaker", "load-balancer", "defer-order",
}

func TestContractIDs(t *testing.T) {
	for _, id := range contractIDs {
		if _, err := Lookup(id); err != nil {
			t.Errorf("contract id %q: %v", id, err)
		}
	}
	if s, _ := Lookup("race-counter"); s != nil {
		want := []string{"broken", "fixed-mutex", "fixed-atomic", "fixed-channel"}
		if got := s.VariantNames(); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("race-counter variants = %v, want %v", got, want)
		}
	}
	if s, _ := Lookup("map-concurrent-writes"); s != nil {
		want := []string{"broken", "fixed-mutex", "fixed-syncmap", "fixed-owner"}
		if got := s.VariantNames(); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("map-concurrent-writes variants = %v, want %v", got, want)
		}
	}
}

func TestExplanations(t *testing.T) {
	for _, s := range Catalog() {
		for field, text := range map[string]string{
			"Title": s.Title, "Category": s.Category, "Statement": s.Statement,
			"Failure": s.Failure, "Fix": s.Fix,
		} {
			if strings.TrimSpace(text) == "" {
				t.Errorf("%s: %s is empty", s.ID, field)
			}
		}
	}
}

// isOutcome reports whether o is one of the declared outcomes.
func isOutcome(o Outcome) bool {
	switch o {
	case Crash, Panic, Deadlock, Race, Leak, Wrong, Timeout, OK:
		return true
	}
	return false
}

// checkLesson checks a lesson: variants named after their setting, each
// ending ok, "broken" selecting the first and "fixed" the DefaultFixed.
func checkLesson(t *testing.T, s *Scenario) {
	t.Helper()
	for _, v := range s.Variants {
		if v.Expect != OK || v.Run == nil || v.Name == "broken" || v.Name == "fixed" {
			t.Errorf("%s/%s: a lesson's variant must be named after its setting, run, and expect ok", s.ID, v.Name)
		}
	}
	if v, err := s.Variant("broken"); err != nil || v.Name != s.Variants[0].Name {
		t.Errorf("%s: \"broken\" does not select the first variant: %v", s.ID, err)
	}
	if v, err := s.Variant("fixed"); err != nil || v.Name != s.DefaultFixed {
		t.Errorf("%s: \"fixed\" does not select DefaultFixed %q: %v", s.ID, s.DefaultFixed, err)
	}
}

func TestVariants(t *testing.T) {
	for _, s := range Catalog() {
		if len(s.Variants) < 2 {
			t.Errorf("%s: %d variants, want a broken one and at least one fixed", s.ID, len(s.Variants))
			continue
		}
		if s.Lesson {
			checkLesson(t, s)
			continue
		}
		if b := s.Variants[0]; b.Name != "broken" || b.Expect == OK {
			t.Errorf("%s: first variant is %q expecting %q, want broken expecting a failure", s.ID, b.Name, b.Expect)
		}
		if s.Race && s.Variants[0].Expect != Race {
			t.Errorf("%s: a race scenario's broken variant expects %q, want %q", s.ID, s.Variants[0].Expect, Race)
		}
		names := map[string]bool{}
		for _, v := range s.Variants {
			if names[v.Name] {
				t.Errorf("%s: variant %q listed twice", s.ID, v.Name)
			}
			names[v.Name] = true
			if v.Run == nil {
				t.Errorf("%s/%s: Run is nil", s.ID, v.Name)
			}
			if !isOutcome(v.Expect) || v.Expect == Timeout {
				t.Errorf("%s/%s: Expect = %q, want a diagnosable outcome", s.ID, v.Name, v.Expect)
			}
			if v.Name == "broken" {
				continue
			}
			if v.Name != "fixed" && !strings.HasPrefix(v.Name, "fixed-") {
				t.Errorf("%s: variant %q, want broken, fixed or fixed-<how>", s.ID, v.Name)
			}
			if v.Expect != OK {
				t.Errorf("%s/%s: Expect = %q, want %q", s.ID, v.Name, v.Expect, OK)
			}
		}

		fixed, err := s.Variant("fixed")
		switch {
		case err != nil:
			t.Errorf("%s: the alias \"fixed\" does not resolve: %v", s.ID, err)
		case fixed.Name == "broken":
			t.Errorf("%s: the alias \"fixed\" selects the broken variant", s.ID)
		}
		if s.DefaultFixed != "" && !names[s.DefaultFixed] {
			t.Errorf("%s: DefaultFixed %q is not a variant", s.ID, s.DefaultFixed)
		}
		if !names["fixed"] && s.DefaultFixed == "" {
			t.Errorf("%s: no variant named fixed and no DefaultFixed", s.ID)
		}
		if b, err := s.Variant(""); err != nil || b.Name != "broken" {
			t.Errorf("%s: Variant(\"\") = %v, %v; want the broken variant", s.ID, b, err)
		}
		if _, err := s.Variant("no-such-variant"); err == nil || !strings.Contains(err.Error(), "broken") {
			t.Errorf("%s: Variant(unknown) error = %v, want one listing the variants", s.ID, err)
		}
	}
}

func TestSourcesAndMarkers(t *testing.T) {
	for _, s := range Catalog() {
		src := s.Source()
		if strings.HasPrefix(src, "// source of") {
			t.Errorf("%s: %s", s.ID, strings.TrimSpace(src))
			continue
		}
		// A lesson has no bug to mark: its settings are the point.
		if !s.Lesson && len(s.MarkedLines("// BUG")) == 0 {
			t.Errorf("%s: %s has no // BUG line", s.ID, s.File)
		}
		if !s.Lesson && len(s.Variants) > 1 && len(s.MarkedLines("// FIX")) == 0 {
			t.Errorf("%s: %s has no // FIX line", s.ID, s.File)
		}
		// A variant's code must live in the scenario's own file, or the
		// markers shown beside the timeline belong to some other code.
		for _, v := range s.Variants {
			fn := runtime.FuncForPC(funcPC(v.Run))
			if fn == nil {
				continue
			}
			file, _ := fn.FileLine(fn.Entry())
			if !strings.HasSuffix(file, "/"+s.File) {
				t.Errorf("%s/%s: Run is defined in %s, want %s", s.ID, v.Name, file, s.File)
			}
		}
	}
}

func TestMarkedLines(t *testing.T) {
	for _, tc := range []struct {
		line string
		want bool
	}{
		{"\tv := <-ch // BUG", true},
		{"\tv := <-ch // BUG: nobody sends", true},
		{"\tv := <-ch // BUG   ", true},
		{"\tv := <-ch // BUGS are here", false},
		{"\t// the // BUG line below is the one", false},
		{"\tmu.Lock() // FIX", false},
	} {
		if got := hasMarker(tc.line, "// BUG"); got != tc.want {
			t.Errorf("hasMarker(%q) = %v, want %v", tc.line, got, tc.want)
		}
	}

	s, err := Lookup("deadlock-cross-wait")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(s.Source(), "\n")
	bugs := s.MarkedLines("// BUG")
	if len(bugs) != 2 {
		t.Fatalf("deadlock-cross-wait: %d // BUG lines, want 2", len(bugs))
	}
	for _, n := range bugs {
		if !strings.Contains(lines[n-1], "<-ch") {
			t.Errorf("line %d %q: want a receive", n, lines[n-1])
		}
	}
}

func TestLookup(t *testing.T) {
	for _, id := range IDs() {
		s, err := Lookup(id)
		if err != nil || s.ID != id {
			t.Errorf("Lookup(%q) = %v, %v", id, s, err)
		}
	}

	_, err := Lookup("no-such-puzzle")
	var unknown *UnknownError
	if !errors.As(err, &unknown) {
		t.Fatalf("Lookup(unknown) error = %v (%T), want *UnknownError", err, err)
	}
	if unknown.ID != "no-such-puzzle" {
		t.Errorf("UnknownError.ID = %q, want %q", unknown.ID, "no-such-puzzle")
	}
	for _, id := range IDs() {
		if !strings.Contains(err.Error(), id) {
			t.Errorf("error %q does not list %q", err, id)
		}
	}
}

// fixedRuns is how many times each fixed variant runs in TestFixedVariants:
// schedules vary, and a fix must hold in every one of them.
const fixedRuns = 20

// runTimeout bounds one run of a fixed variant. The slowest take a few
// hundred milliseconds; a run that takes seconds is hung.
const runTimeout = 10 * time.Second

// TestFixedVariants runs every fixed variant in this process and checks
// that it succeeds and that every goroutine it started has exited. Broken
// variants are not run here: they deadlock, leak or kill the process by
// design, which is what the tracer's child process is for.
func TestFixedVariants(t *testing.T) {
	runs := fixedRuns
	if testing.Short() {
		runs = 3
	}
	for _, s := range Catalog() {
		for _, v := range s.Variants[1:] {
			t.Run(s.ID+"/"+v.Name, func(t *testing.T) {
				defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
				for i := range runs {
					if err := runBounded(v.Run); err != nil {
						t.Fatalf("run %d: %v", i+1, err)
					}
				}
			})
		}
	}
}

// runBounded runs one variant and returns its error, or an error with every
// goroutine's stack if it does not return within runTimeout.
func runBounded(run func(context.Context) error) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	timer := time.NewTimer(runTimeout)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		return fmt.Errorf("did not return within %v:\n%s", runTimeout, buf[:n])
	}
}

// funcPC returns the entry address of a function value.
func funcPC(f func(context.Context) error) uintptr {
	return reflect.ValueOf(f).Pointer()
}
