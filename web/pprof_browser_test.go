package web

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/concviz/concviz/tracer"
)

var profileShots = flag.String("profile-shots", "", "with TestBrowserRuntimeAndProfile, write its screenshots into this directory")

// runtimeDrawn is the runtime lanes' data-drawn attribute (runtime.js).
type runtimeDrawn struct {
	GC        int              `json:"gc"`
	STW       int              `json:"stw"`
	Heap      int              `json:"heap"`
	Goal      int              `json:"goal"`
	Counts    int              `json:"counts"`
	MaxCount  int              `json:"maxCount"`
	MaxHeap   float64          `json:"maxHeap"`
	Selection *json.RawMessage `json:"selection"`
}

// TestBrowserRuntimeAndProfile runs the spinning select with a CPU profile
// in the page: the runtime lanes draw the heap and the goroutine counts,
// the profile link opens pprof's flame graph of the run on our server, and
// the w key opens a profile of the visible window.
func TestBrowserRuntimeAndProfile(t *testing.T) {
	b := newBrowser(t, 1440, 900)
	b.open(t, "")
	// The pure parts of runtime.js, in the browser that runs them.
	cases := []struct{ js, want string }{
		{`m.applyRuntimeDelta({gc: [{start: 0, end: -1}], stw: [], heap: [{t: 0, v: 1}], heap_goal: []},
			{gc_from: 0, gc: [{start: 0, end: 5}, {start: 9, end: -1}], stw_from: 0, stw: [], heap: [{t: 3, v: 2}], heap_goal: [{t: 3, v: 4}]})`,
			`{"gc":[{"start":0,"end":5},{"start":9,"end":-1}],"stw":[],"heap":[{"t":0,"v":1},{"t":3,"v":2}],"heap_goal":[{"t":3,"v":4}]}`},
		{`m.stepPoints([{t: 0, v: 10}, {t: 50, v: 20}], {start: 0, end: 100}, 0, 100, 100)`, `[[0,10],[50,10],[50,20],[100,20]]`},
		{`m.stepPoints([{t: 0, v: 10}, {t: 50, v: 20}], {start: 25, end: 100}, 0, 75, 100)`, `[[0,10],[25,10],[25,20],[75,20]]`},
		{`m.stepPoints([], {start: 0, end: 100}, 0, 100, 100)`, `[]`},
		{`m.valueAt([{t: 0, v: 10}, {t: 50, v: 20}], 49)`, `10`},
		{`m.countAt([{spans: [{start: 0, end: 10, state: "running"}, {start: 10, end: -1, state: "blocked-recv"}]},
			{spans: [{start: 0, end: -1, state: "sleep"}]}], 5, 20)`, `{"running":1,"runnable":0,"syscall":0,"blocked":1}`},
		{`(r => [r.max, r.buckets.map(b => [b.t, b.running, b.blocked])])(m.stateCounts(
			[{spans: [{start: 0, end: 10, state: "running"}, {start: 10, end: -1, state: "blocked-recv"}]},
			{spans: [{start: 0, end: -1, state: "sleep"}]}], {start: 0, end: 20}, 0, 20, 20, 10))`, `[2,[[5,1,1],[15,0,2]]]`},
		{`m.windowProfileURL("ab/c", "cpu", {start: 1.5, end: 9.2})`, `"/pprof/ab%2Fc/window/cpu/1/10/"`},
		{`[m.windowKind("cpu"), m.windowKind("wall"), m.windowKind("")]`, `["cpu","wall","wall"]`},
	}
	for _, c := range cases {
		got, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`import("/runtime.js").then(m => JSON.stringify(`+c.js+`))`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Errorf("%s: %v", c.js, err)
		} else if got != c.want {
			t.Errorf("%s = %s, want %s", c.js, got, c.want)
		}
	}

	b.open(t, "scenario=select-default-spin&variant=broken")
	b.waitEnded(t, "broken")
	// The scenario records no profile by default; pick one and run again.
	eval[bool](t, b, `(document.getElementById("profile-kind").value = "cpu", true)`)
	// At 100 Hz the 50 ms spin gets about five CPU samples, and on a busy
	// machine sometimes none: run again, a few times at most, until the
	// run's profile (as pprof's top lists it) has sampled the spin.
	var st pageState
	for try := 1; ; try++ {
		b.press(t, "r")
		st = b.waitEnded(t, "broken")
		if st.Outcome != "wrong" {
			t.Fatalf("outcome %q, want wrong", st.Outcome)
		}
		sampled, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`(() => {
			const a = document.querySelector("#runtime .rt-profile");
			return a && !a.hidden ? fetch(a.href + "top").then((r) => r.text()).then((s) => s.includes("spinBroken")) : false;
		})()`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("fetch the profile's top: %v", err)
		}
		if sampled || try == 5 {
			break
		}
		t.Logf("run %d: the profile never sampled the spin; running again", try)
	}
	var d runtimeDrawn
	raw := eval[string](t, b, `document.getElementById("runtime").dataset.drawn || ""`)
	if err := json.Unmarshal([]byte(raw), &d); err != nil {
		t.Fatalf("the runtime lanes describe no frame (%q): %v", raw, err)
	}
	if d.Heap == 0 || d.Goal == 0 || d.MaxHeap <= 0 {
		t.Errorf("the heap chart drew %d heap and %d goal points up to %v bytes", d.Heap, d.Goal, d.MaxHeap)
	}
	// The spinning goroutine and the sleeping producer live together.
	if d.Counts == 0 || d.MaxCount < 2 {
		t.Errorf("the goroutine counts drew %d buckets, at most %d goroutines; want 2 or more", d.Counts, d.MaxCount)
	}
	// The count chart's pixels: somewhere in its row, the running colour.
	running := st.Colors["running"]
	found := eval[bool](t, b, `(() => {
		const c = document.querySelector("#runtime canvas");
		const k = c.width / c.getBoundingClientRect().width;
		const want = `+jsString(running)+`;
		const [y, h] = JSON.parse(document.getElementById("runtime").dataset.drawn).rows.count;
		const y0 = Math.round(y * k), y1 = Math.round((y + h) * k);
		const img = c.getContext("2d").getImageData(0, y0, c.width, y1 - y0).data;
		const hex = (i) => "#" + [img[i], img[i + 1], img[i + 2]].map((v) => v.toString(16).padStart(2, "0")).join("");
		for (let i = 0; i < img.length; i += 4) if (hex(i) === want) return true;
		return false;
	})()`)
	if !found {
		t.Errorf("no pixel of the goroutine count chart has the running colour %s", running)
	}
	shot(t, b, "runtime.png")

	href := eval[string](t, b, `(() => { const a = document.querySelector("#runtime .rt-profile"); return a && !a.hidden ? a.getAttribute("href") : ""; })()`)
	if !strings.HasPrefix(href, "/pprof/") {
		t.Fatalf("the profile link is %q, want one under /pprof/", href)
	}
	// The report links pprof's views of the run's profile.
	reportLinks := eval[[]string](t, b, `[...document.querySelectorAll("#report .profile-links a")].map((a) => a.getAttribute("href"))`)
	if want := []string{href + "flamegraph", href + "top", href + "source", href + "graph", href + "download"}; strings.Join(reportLinks, " ") != strings.Join(want, " ") {
		t.Errorf("the report's profile links are %q, want %q", reportLinks, want)
	}
	// The w key profiles the visible window: its link appears, and pprof
	// opens on it in a new tab.
	b.press(t, "w")
	win := eval[string](t, b, `(() => { const a = document.querySelector("#runtime .rt-window"); return a && !a.hidden ? a.getAttribute("href") : ""; })()`)
	if !strings.HasPrefix(win, href+"window/cpu/") {
		t.Errorf("the window link is %q, want one under %swindow/cpu/", win, href)
	}
	b.waitTab(t, win)
	if wall := eval[string](t, b, `(() => { const a = document.querySelector("#runtime .rt-wall"); return a && !a.hidden ? a.getAttribute("href") : ""; })()`); wall != strings.Replace(win, "/window/cpu/", "/window/wall/", 1) {
		t.Errorf("the wall link of the window is %q, want the wall kind of %q", wall, win)
	}

	// A shift-drag across the goroutine lanes selects a window, shaded on
	// the runtime lanes, and opens its profile: the link names it.
	rect := eval[[]float64](t, b, `(() => { const r = document.getElementById("timeline-canvas").getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()`)
	x0, y := rect[0]+300, rect[1]+60
	drag := []chromedp.Action[chromedp.Void]{
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, x0, y),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMousePressed, x0, y, chromedp.ButtonType(input.MouseButtonLeft), chromedp.ButtonModifiers(kb.ModifierShift)),
	}
	for i := 1; i <= 10; i++ {
		drag = append(drag, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, x0+float64(i)*20, y, chromedp.ButtonType(input.MouseButtonLeft), chromedp.ButtonModifiers(kb.ModifierShift)))
	}
	drag = append(drag, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseReleased, x0+200, y, chromedp.ButtonType(input.MouseButtonLeft), chromedp.ButtonModifiers(kb.ModifierShift)))
	for _, a := range drag {
		if _, err := chromedp.Run(b.ctx, a); err != nil {
			t.Fatalf("shift-drag: %v", err)
		}
	}
	b.waitTab(t, dragged(t, b))
	// The runtime lanes draw the selection on their next frame.
	dragURL := dragged(t, b)
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`(() => {
		const s = JSON.parse(document.getElementById("runtime").dataset.drawn).selection;
		return !!s && `+jsString(dragURL)+`.includes("/" + s.start + "/" + s.end + "/");
	})()`, chromedp.WithPollingTimeout(5*time.Second))); err != nil {
		t.Fatalf("the runtime lanes never drew the window of %q: %v", dragURL, err)
	}
	var sel struct {
		Selection *tracer.Window `json:"selection"`
	}
	if err := json.Unmarshal([]byte(eval[string](t, b, `document.getElementById("runtime").dataset.drawn`)), &sel); err != nil || sel.Selection == nil {
		t.Fatalf("the shift-drag selected no window (%v)", err)
	}
	if want := fmt.Sprintf("%swindow/cpu/%d/%d/", href, sel.Selection.Start, sel.Selection.End); dragURL != want || sel.Selection.End <= sel.Selection.Start {
		t.Errorf("after the shift-drag the window link is %q, want %q", dragURL, want)
	}
	var view tracer.Window
	if err := json.Unmarshal([]byte(eval[string](t, b, `JSON.stringify(window.concviz.view)`)), &view); err != nil {
		t.Fatal(err)
	}
	if sel.Selection.Start < view.Start || sel.Selection.End > view.End+1 {
		t.Errorf("the selected window %+v is outside the view %+v", *sel.Selection, view)
	}

	// pprof's own flame graph, on our server, with its scripts running
	// under its page's policy: the chart is drawn and names the spin.
	b.visit(t, href)
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`document.querySelectorAll("#stack-chart .boxtext").length > 0`,
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("pprof's flame graph did not draw: %v", err)
	}
	text := eval[string](t, b, `document.getElementById("stack-chart").innerText`)
	if !strings.Contains(text, "spinBroken") {
		t.Errorf("the flame graph does not name spinBroken: %.300q", text)
	}
	shot(t, b, "flamegraph.png")
	// The graph view: with Graphviz, pprof's SVG of the call graph (its
	// pan and zoom script runs under the page's policy); without it, our
	// page that says what is missing.
	b.visit(t, href+"graph")
	if _, err := exec.LookPath("dot"); err == nil {
		if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`(() => { const g = document.querySelector("#graph svg"); return !!g && g.textContent.includes("spinBroken"); })()`,
			chromedp.WithPollingTimeout(10*time.Second))); err != nil {
			t.Errorf("pprof's graph view shows no SVG naming spinBroken: %v", err)
		}
		shot(t, b, "graph.png")
	} else if body := eval[string](t, b, `document.body.innerText`); !strings.Contains(body, "Graphviz") {
		t.Errorf("without dot, the graph page says %.300q", body)
	}
	if win != "" {
		b.visit(t, win+"top")
		if body := eval[string](t, b, `document.body.innerText`); !strings.Contains(body, "spinBroken") {
			t.Errorf("the window's top does not name spinBroken: %.300q", body)
		}
	}
}

// dragged is the address of the window link of the runtime lanes.
func dragged(t *testing.T, b *browser) string {
	return eval[string](t, b, `document.querySelector("#runtime .rt-window").getAttribute("href")`)
}

// waitTab waits until a tab of the browser shows path, and brings the
// test's tab back to the front: a tab in the background draws no frames.
func (b *browser) waitTab(t *testing.T, path string) {
	t.Helper()
	want := strings.TrimSuffix(b.base, "/") + path
	deadline := time.Now().Add(10 * time.Second)
	for {
		ts, err := chromedp.Targets(b.ctx)
		if err != nil {
			t.Fatalf("list the tabs: %v", err)
		}
		found := false
		for _, tg := range ts {
			found = found || strings.HasPrefix(tg.URL, want)
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no tab opened %s", want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := chromedp.Call(b.ctx, page.BringToFront, cdp.Empty{}); err != nil {
		t.Fatalf("bring the page to the front: %v", err)
	}
}

// visit navigates the tab to a path of the server.
func (b *browser) visit(t *testing.T, path string) {
	t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Navigate(strings.TrimSuffix(b.base, "/")+path)); err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
}

// shot writes a screenshot into -profile-shots, if given, for a person to
// look at.
func shot(t *testing.T, b *browser, name string) {
	t.Helper()
	if *profileShots == "" {
		return
	}
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(*profileShots+"/"+name, png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
