package tracer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/concviz/concviz/scenarios"
)

// TestPackageRecording checks that the recording viz test keeps of a
// package with a problem opens again with what the run found: each test's
// goroutine named after its test, the leaks as findings on the goroutines
// that leaked, and the same lanes the analysed timeline showed.
func TestPackageRecording(t *testing.T) {
	dir := t.TempDir()
	reps := runTests(t, TestOptions{Packages: []string{"./testdata/leaky", "./testdata/clean"}, TraceDir: dir})
	if len(reps) != 2 {
		t.Fatalf("got %d package reports, want 2", len(reps))
	}
	p, clean := reps[0], reps[1]
	if clean.RecordingPath != "" || clean.TracePath == "" {
		t.Errorf("clean package: recording %q, trace %q; want only the trace", clean.RecordingPath, clean.TracePath)
	}
	want := filepath.Join(dir, "github.com_concviz_concviz_testdata_leaky"+RecordingExt)
	if p.RecordingPath != want {
		t.Fatalf("recording kept at %q, want %q (warnings %q)", p.RecordingPath, want, p.Warnings)
	}
	rec, tl, err := OpenRecordingFile(p.RecordingPath)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Meta.Name != p.Package || rec.Meta.Outcome != scenarios.Leak {
		t.Errorf("meta names %q with %s, want %q with leak", rec.Meta.Name, rec.Meta.Outcome, p.Package)
	}

	// Lanes: the runners carry their tests' names, as in the analysed
	// timeline, and a plain read of the trace does not.
	if got, want := laneSummary(tl), laneSummary(p.Timeline); got != want {
		t.Errorf("reopened lanes:\n%s\nanalysed lanes:\n%s", got, want)
	}
	names := map[string]int64{}
	for _, g := range visible(tl) {
		names[g.Name] = g.ID
	}
	for _, tr := range p.Tests {
		id, ok := names[tr.Test]
		if !ok || id != tr.Goroutine {
			t.Errorf("no lane %s for G%d; lanes %v", tr.Test, tr.Goroutine, names)
		}
	}
	plain, err := ReadTraceFile(p.TracePath, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if g := plain.Goroutine(testReport(t, p, "TestFirstResult").Goroutine); g == nil || g.Name != "testing.tRunner" {
		t.Errorf("the plain trace names the runner %+v, want testing.tRunner: the test would not show what it checks", g)
	}

	// Report: the findings of every test, each on a goroutine of the
	// timeline, byte for byte what --json printed.
	if rec.Report == nil {
		t.Fatal("the recording has no report")
	}
	var all []Finding
	for _, tr := range p.Tests {
		all = append(all, tr.Findings...)
	}
	got, _ := json.Marshal(rec.Report.Findings)
	wantJSON, _ := json.Marshal(all)
	if string(got) != string(wantJSON) {
		t.Errorf("report findings:\n%s\nwant\n%s", got, wantJSON)
	}
	var leaked []string
	for _, f := range rec.Report.Findings {
		for _, ref := range f.Goroutines {
			g := tl.Goroutine(ref.ID)
			if g == nil || g.Hidden || g.Name != ref.Name {
				t.Errorf("finding names G%d %s, lane %+v", ref.ID, ref.Name, g)
			}
			leaked = append(leaked, ref.Name)
		}
	}
	// Which leaks a run sees is TestLeaks's business; here each must be
	// one of the package's three.
	if len(leaked) == 0 {
		t.Error("the report has no leak")
	}
	for _, name := range leaked {
		if !slices.Contains([]string{"leaky.TestParallel.func1.1", "leaky.firstResult.func1", "leaky.watch"}, name) {
			t.Errorf("leaked goroutine %s is none of the package's", name)
		}
	}
	if rec.Report.Outcome != scenarios.Leak || rec.Report.DurationNS != tl.Duration {
		t.Errorf("report outcome %s over %d ns, want leak over %d", rec.Report.Outcome, rec.Report.DurationNS, tl.Duration)
	}
}

// TestRecordingLaneNames checks meta.json's optional lane names and
// hidden goroutines: applied when the trace is read again, ignored for a
// goroutine the trace does not have, and absent from an older recording,
// which opens with the trace's own names.
func TestRecordingLaneNames(t *testing.T) {
	trace, err := os.ReadFile(fixture(t, "deadlock-cross-wait", "broken"))
	if err != nil {
		t.Fatal(err)
	}
	direct, err := ReadTrace(bytes.NewReader(trace), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lanes := visible(direct)
	if len(lanes) < 2 {
		t.Fatalf("want two visible lanes, have %s", laneSummary(direct))
	}
	named, hidden := lanes[0].ID, lanes[1].ID
	for _, tc := range []struct {
		name, meta string
		want       func(g *Goroutine) (string, bool)
	}{
		{"old", `{"format":1}`, func(g *Goroutine) (string, bool) { return g.Name, g.Hidden }},
		{"named", fmt.Sprintf(`{"format":1,"names":{"%d":"TestFoo/sub","999999":"TestGone"},"hidden":[%d]}`, named, hidden),
			func(g *Goroutine) (string, bool) {
				switch g.ID {
				case named:
					return "TestFoo/sub", g.Hidden
				case hidden:
					return g.Name, true
				}
				return g.Name, g.Hidden
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, tl, err := OpenRecording(zipOf(map[string]string{"trace.out": string(trace), "meta.json": tc.meta}), "x"+RecordingExt)
			if err != nil {
				t.Fatal(err)
			}
			if len(tl.Goroutines) != len(direct.Goroutines) {
				t.Fatalf("%d goroutines, want the trace's %d", len(tl.Goroutines), len(direct.Goroutines))
			}
			for i, g := range tl.Goroutines {
				wantName, wantHidden := tc.want(direct.Goroutines[i])
				if g.Name != wantName || g.Hidden != wantHidden {
					t.Errorf("G%d is %q (hidden %v), want %q (hidden %v)", g.ID, g.Name, g.Hidden, wantName, wantHidden)
				}
			}
		})
	}
}
