package tracer

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/concviz/concviz/scenarios"
)

// record runs a real scenario variant and returns its recording and the
// timeline the runner built while it ran.
func record(t *testing.T, scenario, variant string) (*Recording, *Result) {
	t.Helper()
	var raw bytes.Buffer
	res, err := Run(context.Background(), RunOptions{Scenario: scenario, Variant: variant, TraceOut: &raw})
	if err != nil {
		t.Fatalf("run %s %s: %v", scenario, variant, err)
	}
	return NewRecording(raw.Bytes(), res.Report), res
}

// TestRecordingRoundTrip records a run, saves it, reopens it, and expects
// the same report and the same timeline as reading the run's trace itself.
func TestRecordingRoundTrip(t *testing.T) {
	for _, tc := range []struct{ scenario, variant string }{
		{"deadlock-cross-wait", "broken"},
		{"leak-unread-result", "broken"},
		{"deadlock-cross-wait", "fixed"},
	} {
		t.Run(tc.scenario+"/"+tc.variant, func(t *testing.T) {
			rec, res := record(t, tc.scenario, tc.variant)
			path := filepath.Join(t.TempDir(), "run"+RecordingExt)
			if err := rec.SaveFile(path); err != nil {
				t.Fatal(err)
			}
			back, tl, err := OpenRecordingFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(back.Trace, rec.Trace) {
				t.Errorf("trace changed on the way: %d bytes, want %d", len(back.Trace), len(rec.Trace))
			}
			// The report is the JSON of `viz run --json`: that is what must
			// come back byte for byte.
			got, _ := json.Marshal(back.Report)
			want, _ := json.Marshal(res.Report)
			if !bytes.Equal(got, want) {
				t.Errorf("report changed on the way:\ngot  %s\nwant %s", got, want)
			}
			if !reflect.DeepEqual(back.Meta, rec.Meta) {
				t.Errorf("meta = %+v, want %+v", back.Meta, rec.Meta)
			}
			if back.Meta.Scenario != tc.scenario || back.Meta.Outcome != res.Report.Outcome {
				t.Errorf("meta names %s with %s, want %s with %s", back.Meta.Scenario, back.Meta.Outcome, tc.scenario, res.Report.Outcome)
			}
			direct, err := ReadTrace(bytes.NewReader(rec.Trace), ReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(tl, direct) {
				t.Errorf("the reopened timeline differs from the trace's own")
			}
			// The reopened timeline shows what the live one showed: the
			// scenario's goroutines, by name, in the same states at the end.
			if got, want := laneSummary(tl), laneSummary(res.Timeline); got != want {
				t.Errorf("reopened lanes:\n%s\nlive lanes:\n%s", got, want)
			}
			if tl.Scenario != tc.scenario {
				t.Errorf("timeline names scenario %q, want %q", tl.Scenario, tc.scenario)
			}
		})
	}
}

// laneSummary lists the visible goroutines by name with their final state.
func laneSummary(tl *Timeline) string {
	var b strings.Builder
	for _, g := range visible(tl) {
		last := State(StateNone)
		if len(g.Spans) > 0 {
			last = g.Spans[len(g.Spans)-1].State
		}
		b.WriteString(g.Name + " " + last.String() + "\n")
	}
	return b.String()
}

// TestRecordingOpensInGoToolTrace unzips a saved recording's trace.out and
// runs the parse step of `go tool trace` on it.
func TestRecordingOpensInGoToolTrace(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to run go tool trace")
	}
	rec, _ := record(t, "deadlock-cross-wait", "broken")
	var archive bytes.Buffer
	if err := rec.Save(&archive); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(archive.Bytes()), int64(archive.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	out := filepath.Join(t.TempDir(), "trace.out")
	for _, f := range zr.File {
		names = append(names, f.Name)
		if f.Name != "trace.out" {
			continue
		}
		b, err := readEntry(f, TraceCap)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(out, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want := []string{"trace.out", "meta.json", "report.json"}; !reflect.DeepEqual(names[:3], want) {
		t.Errorf("archive entries = %q, want %q first", names, want)
	}
	b, err := exec.Command(goTool, "tool", "trace", "-d=parsed", out).CombinedOutput()
	if err != nil {
		t.Fatalf("go tool trace -d=parsed: %v\n%.2000s", err, b)
	}
	if !bytes.Contains(b, []byte("StateTransition")) {
		t.Errorf("go tool trace parsed no goroutine events:\n%.500s", b)
	}
}

// TestOpenRecordingOfARawTrace opens a raw concviz trace: no report, and the
// meta names the run that the trace itself names.
func TestOpenRecordingOfARawTrace(t *testing.T) {
	data, err := os.ReadFile(fixture(t, "deadlock-cross-wait", "broken"))
	if err != nil {
		t.Fatal(err)
	}
	rec, tl, err := OpenRecording(data, "x.trace")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Report != nil {
		t.Errorf("a raw trace came with a report: %+v", rec.Report)
	}
	if rec.Meta.Scenario != "deadlock-cross-wait" || rec.Meta.Variant != "broken" || rec.Meta.Name != "x.trace" {
		t.Errorf("meta = %+v, want the run the trace names", rec.Meta)
	}
	if len(visible(tl)) != 2 {
		t.Errorf("visible goroutines = %d, want 2", len(visible(tl)))
	}
}

// TestOpenRecordingRejects: garbage is not a trace; a zip without our
// entries is not a recording; a recording from a later format is refused
// with a hint. None of them panics.
func TestOpenRecordingRejects(t *testing.T) {
	good, err := os.ReadFile(fixture(t, "deadlock-cross-wait", "broken"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
		want error
		text string
	}{
		{"text", []byte("hello, world\n"), ErrNotTrace, ""},
		{"empty", nil, ErrNotTrace, ""},
		{"other zip", zipOf(map[string]string{"a.txt": "a"}), ErrNotRecording, "lacks"},
		{"cut zip", zipOf(map[string]string{"trace.out": string(good)})[:100], ErrNotRecording, ""},
		{"bad meta", zipOf(map[string]string{"trace.out": string(good), "meta.json": "{"}), ErrNotRecording, "meta.json"},
		{"garbage trace", zipOf(map[string]string{"trace.out": "nope", "meta.json": `{"format":1}`}), ErrNotTrace, ""},
		{"future", zipOf(map[string]string{"trace.out": string(good), "meta.json": `{"format":99}`}), nil, "update concviz"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := OpenRecording(tc.data, "f")
			if err == nil {
				t.Fatal("no error")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Errorf("err = %v, want it to mention %q", err, tc.text)
			}
		})
	}
}

// TestRecordingOfAScenarioOutcome keeps outcomes in the meta, for lists.
func TestRecordingOfAScenarioOutcome(t *testing.T) {
	rec := NewRecording([]byte("x"), &Report{Scenario: "s", Variant: "v", Outcome: scenarios.Leak})
	if rec.Meta.Scenario != "s" || rec.Meta.Variant != "v" || rec.Meta.Outcome != scenarios.Leak {
		t.Errorf("meta = %+v", rec.Meta)
	}
	if rec.Meta.GoVersion == "" || rec.Meta.Recorded.IsZero() {
		t.Errorf("meta lacks the Go version or the time: %+v", rec.Meta)
	}
}

// zipOf is a zip archive of the given files, written by hand.
func zipOf(files map[string]string) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for name, body := range files {
		w, _ := zw.Create(name)
		w.Write([]byte(body))
	}
	zw.Close()
	return b.Bytes()
}
