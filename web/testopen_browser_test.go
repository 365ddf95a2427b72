package web

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/concviz/concviz/tracer"
)

// TestBrowserTestRecording is what viz test --open shows: the recording
// of a real viz test run of testdata/leaky, opened the way viz open opens
// a file. The lanes carry the tests' names and the report pane lists the
// leaks the terminal printed, each of which selects its goroutine's lane.
func TestBrowserTestRecording(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to build the tests with")
	}
	reps, err := tracer.Test(context.Background(), tracer.TestOptions{Dir: "..", Packages: []string{"./testdata/leaky"}, TraceDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	p := reps[0]
	if p.RecordingPath == "" {
		t.Fatalf("no recording kept of %s (outcome %s, warnings %q)", p.Package, p.Outcome, p.Warnings)
	}
	rec, tl, err := tracer.OpenRecordingFile(p.RecordingPath)
	if err != nil {
		t.Fatal(err)
	}
	store, err := NewStore("", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	info, err := store.AddFile(p.RecordingPath, rec, tl)
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowserWith(t, 1440, 1000, Options{Store: store, Open: []string{info.ID}})
	if _, err := chromedp.Run(b.ctx, chromedp.Navigate(b.base)); err != nil {
		t.Fatal(err)
	}
	poll := `(() => { const c = window.concviz; return !!c && c.mode === "recording" && c.endDrawn; })()`
	if err := b.waitAcrossNavigation(poll, 20*time.Second); err != nil {
		t.Fatalf("the recording never drew: %v", err)
	}
	b.shot(t, "test-recording.png")
	st := b.state(t)

	var lanes []string
	for _, l := range st.Lanes {
		lanes = append(lanes, l.Name)
	}
	for _, name := range []string{"TestFirstResult", "TestWatcher", "TestParallel/leaks"} {
		if !slices.Contains(lanes, name) {
			t.Errorf("no lane named %s: %q", name, lanes)
		}
	}
	if slices.Contains(lanes, "testing.tRunner") {
		t.Errorf("a lane is still named testing.tRunner: %q", lanes)
	}

	if st.Outcome != "leak" || len(st.Findings) != len(rec.Report.Findings) || len(st.Findings) == 0 {
		t.Fatalf("the page shows outcome %q with %d findings, want leak with the report's %d", st.Outcome, len(st.Findings), len(rec.Report.Findings))
	}
	pane := eval[string](t, b, `document.getElementById("report").innerText`)
	for _, f := range rec.Report.Findings {
		if !strings.Contains(pane, f.Summary) {
			t.Errorf("the report pane lacks %q:\n%s", f.Summary, pane)
		}
	}
	// A finding, clicked, shows where its goroutine waits: the stack
	// pane holds the line the report names.
	f := rec.Report.Findings[0]
	eval[bool](t, b, `(document.querySelector("#report .findings button").click(), true)`)
	type frame struct {
		File string `json:"file"`
		Line int    `json:"line"`
	}
	var frames []frame
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if frames = eval[[]frame](t, b, `window.concviz.stackFrames`); len(frames) > 0 {
			break
		}
	}
	at := f.Locations[0]
	if !slices.ContainsFunc(frames, func(fr frame) bool { return fr.File == at.File && fr.Line == at.Line }) {
		t.Errorf("after clicking %q the stack pane shows %+v, want %s:%d", f.Summary, frames, at.File, at.Line)
	}
	b.shot(t, "test-recording-finding.png")
}
