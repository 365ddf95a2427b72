package web

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// selectText selects, in the editor's textarea, from the first occurrence
// of from to the end of the first occurrence of to after it, so that what
// is typed next replaces it.
func selectText(t *testing.T, b *browser, from, to string) {
	t.Helper()
	js := fmt.Sprintf(`(() => {
		const ta = document.getElementById("edit-text");
		const a = ta.value.indexOf(%s);
		const b = ta.value.indexOf(%s, a);
		if (a < 0 || b < 0) return false;
		ta.focus();
		ta.setSelectionRange(a, b + %d);
		return true;
	})()`, jsStr(from), jsStr(to), len(to))
	if !eval[bool](t, b, js) {
		t.Fatalf("the editor's text has no %q ... %q", from, to)
	}
}

// TestBrowserEdit is the learner's path of issue 9: edit the broken
// deadlock-cross-wait in the code pane, see a compile error on its line,
// fix the edit by typing, run it with e, and see it beside the reference
// fix.
func TestBrowserEdit(t *testing.T) {
	b := newBrowser(t, 1440, 1000)
	b.open(t, "scenario=deadlock-cross-wait&variant=broken")
	if st := b.waitEnded(t, "broken"); st.Outcome != "deadlock" {
		t.Fatalf("the catalog's broken run: outcome %q, want deadlock", st.Outcome)
	}
	wait := func(what, js string, timeout time.Duration) {
		t.Helper()
		if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](js, chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(timeout))); err != nil {
			t.Fatalf("%s: %v (page error %q)", what, err, b.state(t).Error)
		}
	}
	wait("the editor is offered on a local server", `window.concviz.editor.available && !document.getElementById("edit-button").hidden`, 10*time.Second)

	// e opens the editor on the original text, with its BUG lines marked.
	b.press(t, "e")
	wait("the editor opens", `window.concviz.editor.open && document.activeElement.id === "edit-text"`, 5*time.Second)
	if n := eval[int](t, b, `document.querySelectorAll(".editor-hl .ln.bug").length`); n != 2 {
		t.Errorf("the editor marks %d BUG lines, want 2", n)
	}

	// An edit that does not build: the error is on its line.
	selectText(t, b, "ch2 <- v", "ch2 <- v")
	if _, err := chromedp.Run(b.ctx, chromedp.KeyEvent("ch2 <- nope")); err != nil {
		t.Fatal(err)
	}
	line := eval[int](t, b, `document.getElementById("edit-text").value.split("\n").findIndex((l) => l.includes("nope")) + 1`)
	if !eval[bool](t, b, `window.concviz.editor.edited`) {
		t.Fatal("typing did not change the edit")
	}
	if _, err := chromedp.Run(b.ctx, chromedp.Click(chromedp.CSS(`#edit-run`))); err != nil {
		t.Fatal(err)
	}
	wait("the compile error comes back", `window.concviz.editor.errors.length > 0`, runTimeout)
	errs := eval[[]map[string]any](t, b, `window.concviz.editor.errors`)
	found := false
	for _, e := range errs {
		if int(e["line"].(float64)) == line && strings.Contains(e["message"].(string), "nope") {
			found = true
		}
	}
	if !found {
		t.Errorf("compile errors %v, want one about nope on line %d", errs, line)
	}
	if !eval[bool](t, b, fmt.Sprintf(`!!document.querySelector(".editor-hl .ln.err[data-line=\"%d\"]")`, line)) {
		t.Errorf("line %d is not marked as an error in the editor", line)
	}
	b.shot(t, "edit-error.png")

	// Reset, then type the fix: the caller sends first. Tab indents.
	if _, err := chromedp.Run(b.ctx, chromedp.Click(chromedp.CSS(`#edit-reset`))); err != nil {
		t.Fatal(err)
	}
	if eval[bool](t, b, `window.concviz.editor.edited`) {
		t.Fatal("reset left an edit")
	}
	selectText(t, b, "v := <-ch2 // BUG", "ch1 <- v")
	if _, err := chromedp.Run(b.ctx, chromedp.KeyEvent("ch1 <- 41 // FIX: mine"+kb.Enter+kb.Tab+"<-ch2")); err != nil {
		t.Fatal(err)
	}
	if !eval[bool](t, b, `document.getElementById("edit-text").value.includes("// FIX: mine\n\t<-ch2\n")`) {
		t.Fatalf("the typed fix is not in the text: %q", eval[string](t, b, `document.getElementById("edit-text").value`))
	}
	// Escape leaves the text; e runs the edit.
	b.press(t, kb.Escape)
	b.press(t, "e")

	if err := b.waitAcrossNavigation(`window.concviz && window.concviz.mode === "compare" && window.concviz.endDrawn`, 2*runTimeout); err != nil {
		t.Fatalf("the side-by-side view of my version and the fix never opened: %v", err)
	}
	st := b.compareState(t)
	if len(st.Runs) != 2 {
		t.Fatalf("%d runs side by side, want 2", len(st.Runs))
	}
	mine, ref := st.Runs[0], st.Runs[1]
	if mine.Variant != "broken" || mine.Outcome != "ok" {
		t.Errorf("my version: %s %s, want broken (edited) ok", mine.Variant, mine.Outcome)
	}
	if ref.Variant != "fixed" || ref.Outcome != "ok" {
		t.Errorf("the reference: %s %s, want fixed ok", ref.Variant, ref.Outcome)
	}
	if h := eval[string](t, b, `document.querySelector('.cmp-run[data-run="0"] h2').textContent`); !strings.Contains(h, "your version") {
		t.Errorf("my run's heading %q does not say it is my version", h)
	}
	wait("my run's code pane shows my edit", `document.querySelector('.cmp-run[data-run="0"] .code').textContent.includes("FIX: mine")`, 10*time.Second)
	if eval[bool](t, b, `document.querySelector('.cmp-run[data-run="1"] .code').textContent.includes("FIX: mine")`) {
		t.Error("the reference fix's code pane shows my edit")
	}
	b.shot(t, "edit-compare.png")

	// Back at the puzzle (a new page), the edit is where it was.
	b.open(t, "scenario=deadlock-cross-wait&variant=broken")
	b.waitEnded(t, "broken")
	wait("the editor is offered again", `window.concviz.editor.available`, 10*time.Second)
	b.press(t, "e")
	wait("the editor reopens on my edit", `window.concviz.editor.open && document.getElementById("edit-text").value.includes("// FIX: mine")`, 5*time.Second)
}

// TestBrowserEditShared: a shared server's presenter is offered no editor,
// neither the button nor the key.
func TestBrowserEditShared(t *testing.T) {
	sh, err := NewShare()
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowserWith(t, 1280, 800, Options{Share: sh})
	if _, err := chromedp.Run(b.ctx, chromedp.Navigate(b.base+"join?key="+sh.PresenterToken)); err != nil {
		t.Fatal(err)
	}
	b.open(t, "scenario=deadlock-cross-wait&variant=broken")
	b.waitEnded(t, "broken")
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`window.concviz.room.shared && window.concviz.room.role === "presenter"`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("the page never learnt it is the presenter of a shared server: %v", err)
	}
	b.press(t, "e")
	time.Sleep(200 * time.Millisecond)
	if ed := eval[map[string]any](t, b, `window.concviz.editor`); ed["available"] != false || ed["open"] != false {
		t.Errorf("editor %v on a shared server, want neither available nor open", ed)
	}
	if !eval[bool](t, b, `document.getElementById("edit-button").hidden`) {
		t.Error("a shared server's page shows the Edit button")
	}
}
