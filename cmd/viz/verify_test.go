package main

import (
	"strings"
	"testing"

	"github.com/concviz/concviz/scenarios"
	"github.com/concviz/concviz/tracer"
)

// A miss says what the run ended in, the finding of that kind, the first
// line of a crash and the warnings, on one line.
func TestMissText(t *testing.T) {
	rep := &tracer.Report{
		Outcome: scenarios.Crash,
		Findings: []tracer.Finding{
			{Kind: scenarios.Deadlock, Summary: "G1 waits."},
			{Kind: scenarios.Crash, Summary: "The program ended without reporting (exit status 2)."},
		},
		Crash:    "fatal error: all goroutines are asleep - deadlock!\n\ngoroutine 1 [chan send]:",
		Warnings: []string{"the trace broke off"},
	}
	got := missText(7, rep)
	want := "run 7: crash: The program ended without reporting (exit status 2). (fatal error: all goroutines are asleep - deadlock!); warning: the trace broke off"
	if got != want {
		t.Errorf("missText =\n%q\nwant\n%q", got, want)
	}
	if strings.Contains(got, "\n") {
		t.Errorf("missText spans lines: %q", got)
	}
}
