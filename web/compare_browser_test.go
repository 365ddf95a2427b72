package web

// Browser tests of recordings: the learner's "compare" path (run broken,
// click compare, step both runs on one clock), and the developer's path (a
// user's trace opened in the page, its stack and source in the code pane).
// Screenshots of both land in $CONCVIZ_SHOTS when it names a directory.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/concviz/concviz/tracer"
)

// compareState is window.concviz of the side-by-side view (compare.js).
type compareState struct {
	Mode     string `json:"mode"`
	EndDrawn bool   `json:"endDrawn"`
	Cursor   int64  `json:"cursor"`
	View     struct {
		Start, End float64
	} `json:"view"`
	Runs []struct {
		ID       string  `json:"id"`
		Scenario string  `json:"scenario"`
		Variant  string  `json:"variant"`
		Outcome  string  `json:"outcome"`
		Cursor   int64   `json:"cursor"`
		CursorX  float64 `json:"cursorX"`
		View     struct {
			Start, End float64
		} `json:"view"`
		Lanes []struct {
			ID   int64  `json:"id"`
			Name string `json:"name"`
		} `json:"lanes"`
		HighlightedLines []struct {
			Line int   `json:"line"`
			G    int64 `json:"g"`
		} `json:"highlightedLines"`
		FocusedLines []int `json:"focusedLines"`
	} `json:"runs"`
	Strip []struct {
		Label, A, B string
	} `json:"strip"`
	Diff []struct {
		Op, Text, Mark string
	} `json:"diff"`
	Error string `json:"error"`
}

// compareState reads window.concviz as the side-by-side view shows it.
func (b *browser) compareState(t *testing.T) compareState {
	t.Helper()
	return readPageState[compareState](t, b)
}

// shot saves a screenshot as name in $CONCVIZ_SHOTS, when it is set.
func (b *browser) shot(t *testing.T, name string) {
	t.Helper()
	dir := os.Getenv("CONCVIZ_SHOTS")
	if dir == "" {
		return
	}
	time.Sleep(300 * time.Millisecond)
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBrowserCompare is the learner's path of issue 5: run the broken
// race-counter, click "compare", and step both runs on one clock while
// the strip says what differs.
func TestBrowserCompare(t *testing.T) {
	b := newBrowser(t, 1440, 1000)
	b.open(t, "scenario=race-counter&variant=broken")
	st := b.waitEnded(t, "broken")
	if st.Outcome != "race" {
		t.Fatalf("broken race-counter: outcome %q, want race", st.Outcome)
	}
	b.shot(t, "single.png")
	if _, err := chromedp.Run(b.ctx, chromedp.Click(chromedp.CSS(`#compare-button`))); err != nil {
		t.Fatalf("click compare: %v", err)
	}
	// The fixed variant runs, then the page opens the pair.
	poll := `(() => { const c = window.concviz; return !!c && c.mode === "compare" && c.endDrawn && c.diff.length > 0; })()`
	if err := b.waitAcrossNavigation(poll, runTimeout); err != nil {
		t.Fatalf("the side-by-side view never drew both runs: %v (state %+v)", err, b.compareState(t))
	}
	cs := b.compareState(t)
	if len(cs.Runs) != 2 || cs.Runs[0].Variant != "broken" || cs.Runs[1].Variant != "fixed-mutex" {
		t.Fatalf("runs = %+v, want broken above fixed-mutex", cs.Runs)
	}
	url := eval[string](t, b, `location.search`)
	if url != "?open="+cs.Runs[0].ID+","+cs.Runs[1].ID {
		t.Errorf("the address %q does not carry the pair %s,%s", url, cs.Runs[0].ID, cs.Runs[1].ID)
	}
	strip := map[string][2]string{}
	for _, r := range cs.Strip {
		strip[r.Label] = [2]string{r.A, r.B}
	}
	if got := strip["outcome"]; got != [2]string{"race", "ok"} {
		t.Errorf("strip outcome = %q, want race and ok", got)
	}
	if _, ok := strip["goroutines"]; !ok {
		t.Errorf("strip lacks the goroutine count: %+v", cs.Strip)
	}
	if _, ok := strip["wall time"]; !ok {
		t.Errorf("strip lacks the wall time: %+v", cs.Strip)
	}
	var bug, fix bool
	for _, d := range cs.Diff {
		bug = bug || d.Op == "-" && d.Mark == "bug" && strings.Contains(d.Text, "counter++")
		fix = fix || d.Op == "+" && d.Mark == "fix" && strings.Contains(d.Text, "mu.Lock()")
	}
	if !bug || !fix {
		t.Errorf("the diff lacks the BUG line counter++ or the FIX line mu.Lock(): %+v", cs.Diff)
	}
	for i, r := range cs.Runs {
		if len(r.Lanes) == 0 {
			t.Errorf("run %d draws no lanes", i)
		}
	}
	b.shot(t, "compare.png")

	// Step both on one clock: the cursors move together, to the same time
	// and the same x, and each run's zoom stays the other's.
	eval[bool](t, b, `(document.activeElement.blur(), true)`)
	before := cs.Cursor
	for _, key := range []string{kb.ArrowRight, kb.ArrowRight, kb.ArrowRight, "+"} {
		b.press(t, key)
	}
	time.Sleep(200 * time.Millisecond)
	cs = b.compareState(t)
	if cs.Cursor <= before {
		t.Errorf("three steps right moved the cursor from %d to %d", before, cs.Cursor)
	}
	a, c := cs.Runs[0], cs.Runs[1]
	if a.Cursor != c.Cursor || a.Cursor != cs.Cursor {
		t.Errorf("cursors differ: %d and %d (shared %d)", a.Cursor, c.Cursor, cs.Cursor)
	}
	if math.Abs(a.CursorX-c.CursorX) > 0.5 {
		t.Errorf("the cursors are drawn at x %.1f and %.1f", a.CursorX, c.CursorX)
	}
	if a.View != c.View {
		t.Errorf("views differ after a zoom: %+v and %+v", a.View, c.View)
	}
	if len(a.FocusedLines) == 0 {
		t.Errorf("the broken run's code pane does not outline the race's lines")
	}
	b.shot(t, "compare-stepped.png")

	// Back in the single view, the tab's history holds both runs.
	b.open(t, "scenario=race-counter&variant=broken")
	b.waitEnded(t, "broken")
	if _, err := chromedp.Run(b.ctx, chromedp.Click(chromedp.CSS(`#history-button`))); err != nil {
		t.Fatal(err)
	}
	if n := eval[int](t, b, `document.querySelectorAll("#history-list li").length`); n < 3 {
		t.Errorf("history lists %d runs, want the 3 of this tab", n)
	}
	b.shot(t, "history.png")
}

// TestBrowserUserTrace is the developer's path: a trace of `go test
// -trace` uploaded to the server (as a drop does), opened in the page;
// clicking a lane shows its stack with the line from the local file.
func TestBrowserUserTrace(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to trace a package's tests")
	}
	trace := filepath.Join(t.TempDir(), "t.out")
	cmd := exec.Command(goTool, "test", "-count=1", "-trace="+trace, "../cmd/viz/testdata/pipeline")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go test -trace: %v\n%s", err, out)
	}
	data, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, 1440, 900)
	resp, err := http.Post(b.base+"api/recordings?name=t.out", "application/octet-stream", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var up UploadResult
	json.NewDecoder(resp.Body).Decode(&up)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || up.Recording.ID == "" {
		t.Fatalf("upload: %d %+v", resp.StatusCode, up)
	}
	b.open(t, "open="+up.Recording.ID)
	poll := `(() => { const c = window.concviz; return c.mode === "recording" && c.endDrawn; })()`
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](poll, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatalf("the trace never drew: %v (%+v)", err, b.state(t))
	}
	// The whole trace, so that every lane's spans are on screen.
	b.press(t, "0")
	time.Sleep(100 * time.Millisecond)
	st := b.state(t)
	var square *int
	for i, l := range st.Lanes {
		if l.Name == "pipeline.square" && len(l.Spans) > 0 {
			square = &i
			break
		}
	}
	if square == nil {
		t.Fatalf("no lane for pipeline.square with spans on screen among %d lanes", len(st.Lanes))
	}
	l := st.Lanes[*square]
	// Click the lane where it waits, in the middle of its bar.
	x := l.Spans[len(l.Spans)/2].X0 + 1
	left, top := canvasOrigin(t, b)
	if _, err := chromedp.Run(b.ctx, chromedp.MouseClickXY(left+x+2, top+l.BarY+l.BarH/2)); err != nil {
		t.Fatal(err)
	}
	pollFrames := `window.concviz.stackFrames.some((f) => f.text.length > 0)`
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](pollFrames, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("no stack frame with its source line: %v (%s)", err, eval[string](t, b, `JSON.stringify(window.concviz.stackFrames)`))
	}
	frames := eval[string](t, b, `JSON.stringify(window.concviz.stackFrames)`)
	if !strings.Contains(frames, "pipeline_test.go") {
		t.Errorf("the stack does not reach pipeline_test.go: %s", frames)
	}
	// Pin the chosen lane: it stays on top, whatever the filter.
	b.press(t, "p")
	pinned := eval[[]int64](t, b, `window.concviz.pinned`)
	if len(pinned) != 1 || pinned[0] != l.ID {
		t.Errorf("pinned %v, want [%d]", pinned, l.ID)
	}
	b.press(t, "p")
	// Filter the lanes down to the squarers, then group them into one.
	if _, err := chromedp.Run(b.ctx, chromedp.SendKeys(chromedp.CSS(`#lane-filter`), "square")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	st = b.state(t)
	if len(st.Lanes) != 2 {
		t.Errorf("filter square: %d lanes, want the 2 squarers", len(st.Lanes))
	}
	if _, err := chromedp.Run(b.ctx, chromedp.Click(chromedp.CSS(`#group-lanes`))); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if st = b.state(t); len(st.Lanes) != 1 {
		t.Errorf("grouped: %d lanes, want 1", len(st.Lanes))
	}
	b.shot(t, "user-trace.png")
}

// waitAcrossNavigation polls js until it is true, through navigations of
// the page (a poll that a navigation interrupts is tried again).
func (b *browser) waitAcrossNavigation(js string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		var ok bool
		ok, err = chromedp.Run(b.ctx, chromedp.Evaluate[bool](js))
		if err == nil && ok {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err == nil {
		err = fmt.Errorf("still false after %v", timeout)
	}
	return err
}

// canvasOrigin is where the timeline canvas's top left corner is on the
// page.
func canvasOrigin(t *testing.T, b *browser) (x, y float64) {
	r := eval[[]float64](t, b, `(() => { const r = document.getElementById("timeline-canvas").getBoundingClientRect(); return [r.left, r.top]; })()`)
	return r[0], r[1]
}

// TestUploadRefusals: garbage gets a readable 400, an oversized body is
// refused by its length before it is read, and a cross-site post is
// refused outright.
func TestUploadRefusals(t *testing.T) {
	_, ts := newTestServer(t, Options{MaxUpload: 1 << 10})
	post := func(body []byte, header http.Header) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/api/recordings?name=notes.txt", bytes.NewReader(body))
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e apiError
		json.NewDecoder(resp.Body).Decode(&e)
		return resp.StatusCode, e.Error
	}
	if code, text := post([]byte("hello"), nil); code != http.StatusBadRequest || !strings.Contains(text, "notes.txt cannot be opened: not a Go execution trace") {
		t.Errorf("garbage: %d %q", code, text)
	}
	if code, text := post(bytes.Repeat([]byte("x"), 2<<10), nil); code != http.StatusRequestEntityTooLarge || !strings.Contains(text, "largest trace") {
		t.Errorf("oversized: %d %q", code, text)
	}
	cross := http.Header{"Origin": {"http://evil.test"}, "Sec-Fetch-Site": {"cross-site"}}
	if code, _ := post([]byte("hello"), cross); code != http.StatusForbidden {
		t.Errorf("cross-site post: %d, want 403", code)
	}
}

// TestBrowserOpenPair is `viz open a b`: the server is told to open two
// recordings, and the page's plain address shows them side by side, a
// user's trace beside a concviz recording, with the pair in the URL.
func TestBrowserOpenPair(t *testing.T) {
	store, err := NewStore("", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, name := range []string{"deadlock-cross-wait-broken", "deadlock-cross-wait-fixed"} {
		rec, tl, err := tracer.OpenRecording(fixtureTrace(t, name), name+".trace")
		if err != nil {
			t.Fatal(err)
		}
		info, err := store.Add(rec, tl, false)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, info.ID)
	}
	b := newBrowserWith(t, 1280, 900, Options{Store: store, Open: ids})
	if _, err := chromedp.Run(b.ctx, chromedp.Navigate(b.base)); err != nil {
		t.Fatal(err)
	}
	poll := `(() => { const c = window.concviz; return !!c && c.mode === "compare" && c.endDrawn; })()`
	if err := b.waitAcrossNavigation(poll, 20*time.Second); err != nil {
		t.Fatalf("the pair never drew: %v", err)
	}
	cs := b.compareState(t)
	if len(cs.Runs) != 2 || cs.Runs[0].ID != ids[0] || cs.Runs[1].ID != ids[1] {
		t.Fatalf("runs %+v, want %q", cs.Runs, ids)
	}
	if got := eval[string](t, b, `location.search`); got != "?open="+ids[0]+","+ids[1] {
		t.Errorf("address %q does not carry the pair", got)
	}
	// Raw concviz traces name their puzzle: the strip has no report, but
	// the diff of the two variants is there.
	if len(cs.Diff) == 0 {
		t.Errorf("no diff of broken against fixed")
	}
	for i, r := range cs.Runs {
		if len(r.Lanes) != 2 {
			t.Errorf("run %d: %d lanes, want the scenario's 2", i, len(r.Lanes))
		}
	}
	// Scrub: both cursors follow.
	eval[bool](t, b, `(document.activeElement.blur(), true)`)
	b.press(t, kb.End)
	time.Sleep(100 * time.Millisecond)
	cs = b.compareState(t)
	if cs.Runs[0].Cursor != cs.Runs[1].Cursor || cs.Cursor == 0 {
		t.Errorf("after End: cursors %d and %d", cs.Runs[0].Cursor, cs.Runs[1].Cursor)
	}
	b.shot(t, "open-pair.png")
}

// TestBrowserOpenFile chooses files in the page's "Open file…" input, as a
// drop does: a file that is not a trace says so and the page stays usable;
// a truncated trace opens with the warning of what was lost.
func TestBrowserOpenFile(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(garbage, []byte("not a trace at all\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	data := fixtureTrace(t, "leak-unread-result-broken")
	cut := filepath.Join(dir, "cut.trace")
	if err := os.WriteFile(cut, data[:len(data)*2/3], 0o644); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, 1280, 900)
	b.open(t, "")
	if _, err := chromedp.Run(b.ctx, chromedp.SetUploadFiles(chromedp.CSS(`#file-input`), []string{garbage})); err != nil {
		t.Fatal(err)
	}
	poll := `document.getElementById("run-status").textContent.includes("not a Go execution trace")`
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](poll, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("no clear error for a non-trace: status %q, error %q, files %d", eval[string](t, b, `document.getElementById("run-status").textContent`), b.state(t).Error, eval[int](t, b, `document.getElementById("file-input").files.length`))
	}
	if _, err := chromedp.Run(b.ctx, chromedp.SetUploadFiles(chromedp.CSS(`#file-input`), []string{cut})); err != nil {
		t.Fatal(err)
	}
	drawn := `(() => { const c = window.concviz; return !!c && c.mode === "recording" && c.endDrawn; })()`
	if err := b.waitAcrossNavigation(drawn, 20*time.Second); err != nil {
		t.Fatalf("the truncated trace never drew: %v", err)
	}
	text := eval[string](t, b, `document.getElementById("report").textContent`)
	if !strings.Contains(text, "could not be used") {
		t.Errorf("the diagnosis pane does not say what was lost: %q", text)
	}
	b.shot(t, "truncated.png")
}

// TestBrowserLanes checks the pure functions of lanes.js (filter, pins,
// groups) in the browser that runs them.
func TestBrowserLanes(t *testing.T) {
	b := newBrowser(t, 800, 600)
	b.open(t, "")
	const gs = `[
		{id: 1, name: "main.main", spans: [{start: 0, end: 10, state: "running"}, {start: 10, end: -1, state: "blocked-recv", reason: "chan receive"}]},
		{id: 2, name: "main.worker", spans: [{start: 2, end: 6, state: "running"}, {start: 6, end: -1, state: "blocked-send", reason: "chan send"}]},
		{id: 3, name: "main.worker", spans: [{start: 3, end: 8, state: "running"}, {start: 8, end: 9, state: "done"}]},
		{id: 4, name: "main.logger", spans: [{start: 1, end: -1, state: "sleep"}]}]`
	cases := []struct{ js, want string }{
		{`m.arrangeLanes(gs, {query: "worker"}).map(g => g.id)`, `[2,3]`},
		{`m.arrangeLanes(gs, {query: "state:blocked", cursor: 12, now: 20}).map(g => g.id)`, `[1,2]`},
		{`m.arrangeLanes(gs, {query: "state:send"}).map(g => g.id)`, `[2]`},
		{`m.arrangeLanes(gs, {query: "g4"}).map(g => g.id)`, `[4]`},
		{`m.arrangeLanes(gs, {query: "finding", findings: [{goroutines: [{id: 3}]}]}).map(g => g.id)`, `[3]`},
		{`m.arrangeLanes(gs, {query: "label:retry", logs: [{g: 4, category: "retry", message: "3"}]}).map(g => g.id)`, `[4]`},
		{`m.arrangeLanes(gs, {query: "worker", pinned: [4]}).map(g => g.id)`, `[4,2,3]`},
		{`m.arrangeLanes(gs, {group: true, now: 20}).map(g => [g.id, g.tag || ""])`, `[[1,""],[-2,"×2"],[4,""]]`},
		// The group lane says what its live members do, most of them or, on
		// a tie, the first: running from 2, then waiting to send from 6 on
		// (the other member runs, then exits).
		{`m.groupLane(gs.slice(1, 3), 20).spans.map(s => [s.start, s.state])`, `[[2,"running"],[6,"blocked-send"]]`},
	}
	for _, c := range cases {
		js := fmt.Sprintf(`import("/lanes.js").then(m => { const gs = %s; return JSON.stringify(%s); })`, gs, c.js)
		got, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Errorf("%s: %v", c.js, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s = %s, want %s", c.js, got, c.want)
		}
	}
}
