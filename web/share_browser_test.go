package web

// The browser test of a shared room: a presenter's page and a viewer's page,
// in two separate browser contexts (two cookie jars, as on two laptops), on
// one real shared server running real scenarios. The viewer follows the
// presenter's run, cursor and zoom, detaches and rejoins, votes in
// presentation mode, and cannot run anything. Then the presenter exports
// the view, and the exported HTML file replays the run from disk with the
// network off.
//
//	go test ./web -run TestBrowserShare -share-shots DIR
//
// writes screenshots of both pages and of the exports to DIR.

import (
	"context"
	"encoding/json"
	"flag"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

var shareShots = flag.String("share-shots", "", "with TestBrowserShare, write screenshots of the presenter, the viewer and the exports to `DIR`")

// tab is one page of the shared-room test.
type tab struct {
	name string
	ctx  context.Context
}

func (tb tab) run(t *testing.T, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	// A chromedp context's first action creates its tab, which lives as
	// long as the context that action ran in: no timeout here.
	if err := chromedp.Do(tb.ctx, actions...); err != nil {
		t.Fatalf("%s: %v", tb.name, err)
	}
}

// wait polls a JavaScript condition in the tab until it holds.
func (tb tab) wait(t *testing.T, what, js string) {
	t.Helper()
	// A page that navigates (to the side by side and back) ends a poll
	// with an error; the condition is then polled again on the new page.
	deadline := time.Now().Add(runTimeout)
	var err error
	// Until the new page has set up window.concviz, the condition throws.
	guarded := `(() => { try { return !!(` + js + `); } catch (e) { return false; } })()`
	for time.Now().Before(deadline) {
		_, err = chromedp.Run(tb.ctx, chromedp.Poll[bool](guarded, chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(time.Until(deadline))))
		if err == nil || !strings.Contains(err.Error(), "navigated") && !strings.Contains(err.Error(), "context") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		state, _ := chromedp.Run(tb.ctx, chromedp.Evaluate[string](`JSON.stringify({scenario: concviz.scenario, run: concviz.runState, cursor: concviz.cursor, room: concviz.room, present: concviz.present, error: concviz.error})`))
		t.Fatalf("%s: waiting for %s (%s): %v; state %s", tb.name, what, js, err, state)
	}
}

func evalIn[T any](t *testing.T, tb tab, js string) T {
	t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: evaluate %.80s: %v", tb.name, js, err)
	}
	return v
}

func (tb tab) press(t *testing.T, key string) {
	t.Helper()
	tb.run(t, chromedp.KeyEvent(key))
}

func (tb tab) shot(t *testing.T, name string) {
	t.Helper()
	if *shareShots == "" {
		return
	}
	png, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(*shareShots, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBrowserShare(t *testing.T) {
	path := findChromium(t)
	if *shareShots != "" {
		os.MkdirAll(*shareShots, 0o755)
	}
	sh, err := NewShare()
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(Options{Logf: t.Logf, Share: sh})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	t.Cleanup(srv.Close)
	base := ts.URL + "/"

	downloads := t.TempDir()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	var exceptions []string
	listen := func(name string) func(any) {
		return func(ev any) {
			if e, ok := ev.(*runtime.EventExceptionThrown); ok {
				text := e.ExceptionDetails.Text
				if e.ExceptionDetails.Exception != nil {
					text = e.ExceptionDetails.Exception.Description
				}
				exceptions = append(exceptions, name+": "+text)
			}
		}
	}
	pctx, cancelP := chromedp.NewContext(actx, chromedp.WithListener(listen("presenter")))
	t.Cleanup(cancelP)
	p := tab{"presenter", pctx}
	p.run(t, chromedp.EmulateViewport(1400, 900))
	vctx, cancelV := chromedp.NewContext(pctx, chromedp.WithNewBrowserContext(), chromedp.WithListener(listen("viewer")))
	t.Cleanup(cancelV)
	v := tab{"viewer", vctx}
	v.run(t, chromedp.EmulateViewport(1200, 800))
	t.Cleanup(func() {
		for _, e := range exceptions {
			t.Errorf("uncaught exception: %s", e)
		}
	})

	// Each joins with its link; the token leaves the address.
	p.run(t, chromedp.Navigate(JoinURL(base, sh.PresenterToken)))
	p.wait(t, "the presenter's room", `window.concviz && concviz.room.role === 'presenter' && concviz.room.shared`)
	v.run(t, chromedp.Navigate(JoinURL(base, sh.ViewerToken)))
	v.wait(t, "the viewer's room", `window.concviz && concviz.room.role === 'viewer'`)
	if loc := evalIn[string](t, v, `location.href`); strings.Contains(loc, "key=") {
		t.Errorf("the viewer's address still holds the key: %s", loc)
	}
	p.wait(t, "one viewer", `concviz.room.viewers === 1`)

	// The presenter runs a scenario; the viewer's page follows the live
	// run to its end.
	p.run(t, chromedp.Navigate(base+"?scenario=deadlock-cross-wait&variant=broken"))
	p.wait(t, "the presenter's run", `concviz.runState === 'ended' && concviz.endDrawn && concviz.outcome === 'deadlock'`)
	v.wait(t, "the viewer's run", `concviz.scenario === 'deadlock-cross-wait' && concviz.runState === 'ended' && concviz.endDrawn && concviz.outcome === 'deadlock'`)
	if n := evalIn[int](t, v, `concviz.lanes.length`); n < 2 {
		t.Errorf("the viewer draws %d lanes, want the two goroutines", n)
	}
	if u := evalIn[int](t, v, `concviz.updates`); u == 0 {
		t.Errorf("the viewer received no live update: it saw only the end")
	}

	// Cursor and zoom follow.
	for _, k := range []string{"0", "+", kb.Home, kb.ArrowRight, kb.ArrowRight} {
		p.press(t, k)
	}
	want := evalIn[float64](t, p, `concviz.cursor`)
	v.wait(t, "the presenter's cursor", `concviz.cursor === `+jsNum(want))
	v.wait(t, "the presenter's zoom", `(() => { const a = concviz.view; return Math.abs(a.end - a.start - (`+
		jsNum(evalIn[float64](t, p, `concviz.view.end - concviz.view.start`))+`)) < 2; })()`)
	p.shot(t, "share-presenter.png")
	v.shot(t, "share-viewer.png")

	// The presenter's badge shows the viewer link and its QR code.
	p.run(t, chromedp.Evaluate[chromedp.Void](`document.getElementById('room-badge').click()`))
	p.wait(t, "the link dialog", `document.getElementById('room-link').open && document.querySelector('#room-link img').complete && document.querySelector('#room-link img').naturalWidth > 0`)
	if u := evalIn[string](t, p, `document.querySelector('#room-link .room-url').textContent`); !strings.Contains(u, sh.ViewerToken) || strings.Contains(u, sh.PresenterToken) {
		t.Errorf("the link dialog shows %q, want the viewer link", u)
	}
	p.shot(t, "share-link.png")
	p.run(t, chromedp.Evaluate[chromedp.Void](`document.getElementById('room-link').close()`))

	// Detached, the viewer keeps its own cursor; rejoining catches up.
	v.press(t, "d")
	v.wait(t, "detached", `concviz.room.following === false`)
	mine := evalIn[float64](t, v, `concviz.cursor`)
	p.press(t, kb.End)
	endCursor := evalIn[float64](t, p, `concviz.cursor`)
	time.Sleep(300 * time.Millisecond)
	if got := evalIn[float64](t, v, `concviz.cursor`); got != mine {
		t.Errorf("a detached viewer's cursor moved from %v to %v", mine, got)
	}
	v.press(t, "d")
	v.wait(t, "rejoined at the presenter's cursor", `concviz.room.following && concviz.cursor === `+jsNum(endCursor))

	// A viewer cannot run: the key does nothing, and the server refuses a
	// run sent by hand over the page's own kind of socket.
	v.press(t, "r")
	if st := evalIn[string](t, v, `concviz.runState`); st != "ended" {
		t.Errorf("r on a viewer's page: run state %q", st)
	}
	refusal := evalIn[string](t, v, `new Promise((res) => {
		const w = new WebSocket('ws://' + location.host + '/ws');
		w.onmessage = (e) => { const m = JSON.parse(e.data); if (m.type === 'error') { res(m.error); w.close(); } };
		w.onopen = () => w.send(JSON.stringify({type: 'run', scenario: 'deadlock-cross-wait'}));
		setTimeout(() => res('no answer'), 5000);
	})`)
	if !strings.Contains(refusal, "cannot") {
		t.Errorf("a viewer's run message got %q, want a refusal", refusal)
	}
	if st := evalIn[int](t, v, `fetch('/api/recordings').then((r) => r.status)`); st != 403 {
		t.Errorf("a viewer's GET /api/recordings: %d, want 403", st)
	}

	// Presentation mode: the vote reaches the viewer, the tally the
	// presenter, and the viewer sees the step without the notes.
	p.press(t, "P")
	p.wait(t, "presentation mode", `concviz.present.on && concviz.present.step === 'statement'`)
	v.wait(t, "the viewer in presentation mode", `concviz.present.on && document.documentElement.classList.contains('present')`)
	p.wait(t, "the QR code on the presenter's screen", `(() => { const i = document.querySelector('.present-qr-small img'); return i && i.complete && i.naturalWidth > 0; })()`)
	p.shot(t, "present-statement.png")
	p.press(t, "n")
	p.wait(t, "the vote step", `concviz.present.step === 'vote'`)
	v.wait(t, "the viewer's vote box", `!document.getElementById('vote-box').hidden && concviz.room.poll !== null`)
	v.press(t, "1")
	p.wait(t, "the tally", `concviz.present.tally && concviz.present.tally.voters === 1 && concviz.present.tally.counts.deadlock === 1`)
	if notes := evalIn[bool](t, v, `!document.getElementById('present-notes').hidden`); notes {
		t.Errorf("the viewer's page shows speaker notes")
	}
	if notes := evalIn[string](t, p, `document.getElementById('present-notes').textContent`); !strings.Contains(notes, Notes()["deadlock-main-recv"][:20]) && !strings.Contains(notes, "Notes") {
		t.Errorf("the presenter's notes: %q", notes)
	}
	p.shot(t, "present-vote.png")
	v.shot(t, "present-viewer-vote.png")
	p.press(t, "n")
	p.wait(t, "the broken run of the presented scenario", `concviz.present.step === 'broken' && concviz.runState === 'ended' && concviz.endDrawn`)
	v.wait(t, "the viewer follows the presented run", `concviz.runState === 'ended' && concviz.scenario === `+jsStr(evalIn[string](t, p, `concviz.scenario`)))
	p.shot(t, "present-run.png")
	p.press(t, "P")
	p.wait(t, "presentation mode off", `!concviz.present.on`)

	// Side by side: the presenter runs the fix and compares; the viewer's
	// page shows the same pair, and comes back when the presenter does.
	p.run(t, chromedp.Navigate(base+"?scenario=deadlock-cross-wait&variant=fixed"))
	p.wait(t, "the fixed run", `concviz.runState === 'ended' && concviz.endDrawn && concviz.outcome === 'ok'`)
	v.wait(t, "the viewer's fixed run", `concviz.runState === 'ended' && concviz.outcome === 'ok'`)
	p.press(t, "c")
	p.wait(t, "the presenter's pair", `concviz.mode === 'compare' && concviz.endDrawn`)
	v.wait(t, "the viewer's pair", `concviz.mode === 'compare' && concviz.endDrawn && concviz.runs.length === 2`)
	if got, want := evalIn[string](t, v, `concviz.runs.map((r) => r.id).join(',')`), evalIn[string](t, p, `concviz.runs.map((r) => r.id).join(',')`); got != want {
		t.Errorf("the viewer's pair %s, want the presenter's %s", got, want)
	}
	v.shot(t, "share-viewer-pair.png")
	p.run(t, chromedp.Navigate(base+"?scenario=deadlock-cross-wait&variant=broken"))
	v.wait(t, "the viewer back from the pair", `concviz.mode !== 'compare' && concviz.room && concviz.room.following`)

	// Exports: PNG, SVG and the HTML replay, as downloads.
	if _, err := chromedp.CallBrowser(p.ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads}); err != nil {
		t.Fatalf("allow downloads: %v", err)
	}
	p.run(t, chromedp.Navigate(base+"?scenario=deadlock-cross-wait&variant=broken"))
	p.wait(t, "the run to export", `concviz.runState === 'ended' && concviz.endDrawn && concviz.outcome === 'deadlock'`)
	for _, id := range []string{"export-png", "export-svg", "export-html"} {
		p.run(t, chromedp.Evaluate[chromedp.Void](`document.getElementById('export-menu').open = true; document.getElementById('`+id+`').click()`))
	}
	files := map[string]string{}
	deadline := time.Now().Add(20 * time.Second)
	for len(files) < 3 && time.Now().Before(deadline) {
		ents, _ := os.ReadDir(downloads)
		for _, e := range ents {
			if ext := filepath.Ext(e.Name()); ext == ".png" || ext == ".svg" || ext == ".html" {
				files[ext] = filepath.Join(downloads, e.Name())
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(files) < 3 {
		t.Fatalf("downloads: %v, want a .png, a .svg and a .html", files)
	}
	svg, _ := os.ReadFile(files[".svg"])
	if !strings.HasPrefix(string(svg), "<svg") || !strings.Contains(string(svg), "<rect") || !strings.Contains(string(svg), "crossWait") {
		t.Errorf("the SVG does not draw the lanes: %.200s", svg)
	}
	png, _ := os.ReadFile(files[".png"])
	if len(png) < 1000 || string(png[1:4]) != "PNG" {
		t.Errorf("the PNG is %d bytes", len(png))
	}
	html, _ := os.ReadFile(files[".html"])
	if strings.Contains(string(html), `src="`) || strings.Contains(string(html), `href="`) {
		t.Errorf("the HTML export loads other files")
	}

	// The HTML file replays from disk in a fresh tab with the network
	// off: lanes drawn, the cursor at the deadlock, stepping moves it.
	octx, cancelO := chromedp.NewContext(pctx, chromedp.WithNewBrowserContext(), chromedp.WithListener(listen("offline")))
	defer cancelO()
	o := tab{"offline", octx}
	o.run(t, chromedp.EmulateViewport(1200, 700))
	if _, err := chromedp.Call(o.ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(o.ctx, network.OverrideNetworkState, network.OverrideNetworkStateParams{Offline: true, DownloadThroughput: -1, UploadThroughput: -1}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(o.ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
		MatchedNetworkConditions: []*network.Conditions{{Offline: true, DownloadThroughput: -1, UploadThroughput: -1}}}); err != nil {
		t.Fatal(err)
	}
	o.run(t, chromedp.Navigate("file://"+files[".html"]))
	o.wait(t, "the offline replay", `window.concvizReplay && concvizReplay.lanes >= 2 && !navigator.onLine`)
	before := evalIn[float64](t, o, `concvizReplay.cursor`)
	o.press(t, kb.Home)
	o.press(t, kb.ArrowRight)
	if after := evalIn[float64](t, o, `concvizReplay.cursor`); after == before || after == 0 {
		t.Errorf("stepping in the replay: cursor %v -> %v", before, after)
	}
	o.shot(t, "export-offline.png")
	// The SVG, drawn by the browser, for a look at it.
	o.run(t, chromedp.Navigate("file://"+files[".svg"]))
	o.shot(t, "export-svg.png")
	if *shareShots != "" {
		for ext, f := range files {
			b, _ := os.ReadFile(f)
			os.WriteFile(filepath.Join(*shareShots, "export"+ext), b, 0o644)
		}
	}
}

// jsNum and jsStr write Go values as JavaScript literals.
func jsNum(f float64) string {
	b, _ := json.Marshal(f)
	return string(b)
}

func jsStr(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
