package tracer

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/concviz/concviz/scenarios"
)

// A package's trace says nothing of its tests: every test runs in a
// goroutine that starts in testing.tRunner, and the leaks, hangs and races
// are viz test's findings, not the runtime's. The recording of a package
// with a problem carries both, so that viz open draws the lanes named after
// the tests and the report pane shows what the terminal said.

// lanes returns what the analysis changed in the trace's own picture of
// the goroutines: the names it gave (a test's runner is named after its
// test) and the goroutines it hid (the harness's watchdog).
func (a *testAnalysis) lanes() (names map[int64]string, hidden []int64) {
	names = map[int64]string{}
	for _, g := range a.tl.Goroutines {
		if was, ok := a.traceNames[g.ID]; ok && g.Name != was {
			names[g.ID] = g.Name
		}
		if g.Hidden && !a.traceHidden[g.ID] {
			hidden = append(hidden, g.ID)
		}
	}
	slices.Sort(hidden)
	return names, hidden
}

// Report is the package's report in the shape of a scenario run's, which
// the page's report pane draws: every test's findings, then the package's
// own, and the output of the tests that failed without a finding.
func (p *PackageReport) Report() *Report {
	rep := &Report{
		Outcome:  p.Outcome,
		Findings: []Finding{},
		Crash:    p.Crash,
		Race:     p.Race,
		ExitCode: p.ExitCode,
		Warnings: p.Warnings,
	}
	if rep.Outcome == "" {
		rep.Outcome = scenarios.OK
	}
	var out strings.Builder
	for _, t := range p.Tests {
		rep.Findings = append(rep.Findings, t.Findings...)
		if t.Result == "fail" && t.Output != "" && len(t.Findings) == 0 {
			fmt.Fprintf(&out, "--- FAIL: %s\n%s", t.Test, t.Output)
			if !strings.HasSuffix(t.Output, "\n") {
				out.WriteByte('\n')
			}
		}
	}
	rep.Findings = append(rep.Findings, p.Findings...)
	rep.Output = out.String()
	if tl := p.Timeline; tl != nil {
		rep.DurationNS = tl.Duration
		for _, g := range tl.Goroutines {
			if !g.Hidden {
				rep.Goroutines++
			}
		}
	}
	return rep
}

// keepRecording saves the package's recording (RecordingExt) beside its
// kept trace: the trace, the report and the lanes the analysis named. A
// failure is a warning; the raw trace is still there.
func keepRecording(rep *PackageReport, a *testAnalysis, tracePath string) {
	data, err := os.ReadFile(tracePath)
	if err != nil {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("keep the recording: %v", err))
		return
	}
	rec := NewRecording(data, rep.Report())
	rec.Meta.Name = rep.Package
	rec.Meta.Names, rec.Meta.Hidden = a.lanes()
	path := strings.TrimSuffix(rep.TracePath, ".trace") + RecordingExt
	if err := rec.SaveFile(path); err != nil {
		rep.Warnings = append(rep.Warnings, err.Error())
		return
	}
	rep.RecordingPath = path
}
