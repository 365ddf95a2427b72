package tracer

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/concviz/concviz/scenarios"
)

// runCount is how many times each variant runs: schedules vary, so one
// passing run proves little. CONCVIZ_RUNS overrides it; -short lowers it.
func runCount(t *testing.T) int {
	if s := os.Getenv("CONCVIZ_RUNS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("CONCVIZ_RUNS=%q is not a positive count", s)
		}
		return n
	}
	if testing.Short() {
		return 3
	}
	return 20
}

// TestEveryVariantYieldsItsOutcome runs every variant of every scenario for
// real, repeatedly, and checks the diagnosis against what the variant must
// produce and against the // BUG lines of its source.
func TestEveryVariantYieldsItsOutcome(t *testing.T) {
	n := runCount(t)
	for _, s := range scenarios.Catalog() {
		for _, v := range s.Variants {
			t.Run(s.ID+"/"+v.Name, func(t *testing.T) {
				t.Parallel()
				for i := range n {
					res, err := Run(context.Background(), RunOptions{Scenario: s.ID, Variant: v.Name})
					if err != nil {
						t.Fatalf("run %d: %v", i, err)
					}
					rep := res.Report
					if rep.Outcome != v.Expect {
						t.Fatalf("run %d: outcome %s, want %s\nfindings: %+v\nwarnings: %q\ncrash: %s", i, rep.Outcome, v.Expect, rep.Findings, rep.Warnings, rep.Crash)
					}
					checkFindingLines(t, s, rep)
					if rep.Goroutines == 0 {
						t.Errorf("run %d: no scenario goroutine in the timeline", i)
					}
				}
			})
		}
	}
}

// checkFindingLines checks that a failing run's main finding points at a
// line marked // BUG in the scenario's own file.
func checkFindingLines(t *testing.T, s *scenarios.Scenario, rep *Report) {
	t.Helper()
	switch rep.Outcome {
	case scenarios.OK, scenarios.Wrong, scenarios.Timeout:
		return
	}
	bug := s.MarkedLines("// BUG")
	for _, f := range rep.Findings {
		if f.Kind != rep.Outcome {
			continue
		}
		for _, l := range f.Locations {
			if baseName(l.File) == s.File && slices.Contains(bug, l.Line) {
				return
			}
		}
	}
	t.Errorf("no %s finding points at a // BUG line %v of %s: %+v", rep.Outcome, bug, s.File, rep.Findings)
}

// TestDiagnosisDetails checks what the core scenarios' reports must say
// beyond their outcome.
func TestDiagnosisDetails(t *testing.T) {
	run := func(t *testing.T, id, variant string) *Report {
		t.Helper()
		res, err := Run(context.Background(), RunOptions{Scenario: id, Variant: variant})
		if err != nil {
			t.Fatal(err)
		}
		return res.Report
	}
	t.Run("deadlock-cross-wait names both goroutines and lines", func(t *testing.T) {
		rep := run(t, "deadlock-cross-wait", "broken")
		f := findingOf(t, rep, scenarios.Deadlock)
		if len(f.Goroutines) != 2 {
			t.Fatalf("deadlock names %d goroutines, want 2: %+v", len(f.Goroutines), f.Goroutines)
		}
		for _, g := range f.Goroutines {
			if g.State != StateBlockedRecv {
				t.Errorf("G%d state %s, want blocked-recv", g.ID, g.State)
			}
			if !strings.Contains(f.Summary, "G"+strconv.FormatInt(g.ID, 10)) {
				t.Errorf("summary does not name G%d: %s", g.ID, f.Summary)
			}
		}
		if f.Goroutines[0].Location.Line == f.Goroutines[1].Location.Line {
			t.Errorf("both goroutines at the same line %d", f.Goroutines[0].Location.Line)
		}
		for _, want := range []string{"receive from ch1", "receive from ch2", "the only one that sends on ch2", "cycle"} {
			if !strings.Contains(f.Summary, want) {
				t.Errorf("summary lacks %q: %s", want, f.Summary)
			}
		}
	})
	t.Run("race-counter reports both accesses", func(t *testing.T) {
		rep := run(t, "race-counter", "broken")
		f := findingOf(t, rep, scenarios.Race)
		if len(f.Locations) != 2 {
			t.Fatalf("race has %d locations, want 2", len(f.Locations))
		}
		if rep.Race == "" {
			t.Errorf("the report carries no race detector text")
		}
		if len(f.Goroutines) != 2 || f.Goroutines[0].ID == 0 || f.Goroutines[1].ID == 0 || f.Goroutines[0].ID == f.Goroutines[1].ID {
			t.Errorf("race goroutines not matched to two trace goroutines: %+v", f.Goroutines)
		}
	})
	t.Run("leak-unread-result leaks at the send", func(t *testing.T) {
		rep := run(t, "leak-unread-result", "broken")
		f := findingOf(t, rep, scenarios.Leak)
		if len(f.Goroutines) != 1 || f.Goroutines[0].State != StateBlockedSend {
			t.Errorf("leak goroutines %+v, want one blocked-send", f.Goroutines)
		}
	})
	t.Run("nil-interface-error shows the dynamic type then panics", func(t *testing.T) {
		rep := run(t, "nil-interface-error", "broken")
		findingOf(t, rep, scenarios.Panic)
		if !strings.Contains(rep.Output, "*scenarios.MyError") {
			t.Errorf("output does not show the dynamic type *scenarios.MyError: %q", rep.Output)
		}
		if !strings.Contains(rep.Crash, "nil pointer dereference") {
			t.Errorf("crash text lacks the nil dereference: %q", rep.Crash)
		}
	})
}

func findingOf(t *testing.T, rep *Report, kind scenarios.Outcome) Finding {
	t.Helper()
	for _, f := range rep.Findings {
		if f.Kind == kind {
			return f
		}
	}
	t.Fatalf("no %s finding; outcome %s, findings %+v", kind, rep.Outcome, rep.Findings)
	return Finding{}
}

// TestGCPacingLanes checks what the gc-pacing lesson shows on its GC lane:
// more cycles under GOGC=25 than under the default GOGC=100, and the most
// under a memory limit close to the live data.
func TestGCPacingLanes(t *testing.T) {
	cycles := map[string]int{}
	for _, v := range []string{"gogc-100", "gogc-25", "memlimit"} {
		res, err := Run(context.Background(), RunOptions{Scenario: "gc-pacing", Variant: v})
		if err != nil {
			t.Fatal(err)
		}
		cycles[v] = len(res.Timeline.Runtime.GC)
	}
	t.Logf("GC cycles on the lane: %v", cycles)
	if cycles["gogc-25"] <= cycles["gogc-100"] {
		t.Errorf("gogc-25 shows %d GC cycles, gogc-100 %d: want more under GOGC=25", cycles["gogc-25"], cycles["gogc-100"])
	}
	if cycles["memlimit"] <= cycles["gogc-100"] {
		t.Errorf("memlimit shows %d GC cycles, gogc-100 %d: want more under the limit", cycles["memlimit"], cycles["gogc-100"])
	}
}
