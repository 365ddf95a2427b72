package web

// The browser test of the large-trace view's list of keys and its lane
// filter (big.js): the same trace of many generations as TestBigBrowser,
// indexed slowly by the real server, so that the filter is seen while the
// matches still grow.

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// bigFilter is window.concvizBig.filter, as documented in big.js.
type bigFilter struct {
	Match string `json:"match"`
	Known bool   `json:"known"`
	Total int    `json:"total"`
	All   int    `json:"all"`
}

func readFilter(t *testing.T, b *browser) bigFilter {
	t.Helper()
	var f bigFilter
	if err := json.Unmarshal([]byte(eval[string](t, b, `JSON.stringify(window.concvizBig.filter)`)), &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// pressSlash presses "/" the way a keyboard does: one keyDown that carries
// its text, so that a page that handles the keydown (and prevents its
// default) gets no character typed, as in a browser driven by a person.
// chromedp's KeyEvent sends the character as an event of its own, which a
// page cannot prevent.
func (b *browser) pressSlash(t *testing.T) {
	t.Helper()
	for _, ev := range []input.DispatchKeyEventParams{
		{Type: input.DispatchKeyEventTypeKeyDown, Key: "/", Code: "Slash", Text: "/", UnmodifiedText: "/", WindowsVirtualKeyCode: 191},
		{Type: input.DispatchKeyEventTypeKeyUp, Key: "/", Code: "Slash", WindowsVirtualKeyCode: 191},
	} {
		if _, err := chromedp.Call(b.ctx, input.DispatchKeyEvent, ev); err != nil {
			t.Fatalf("press /: %v", err)
		}
	}
}

// typeText types text into whatever has the focus, as a user would.
func (b *browser) typeText(t *testing.T, text string) {
	t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.KeyEvent(text)); err != nil {
		t.Fatalf("type %q: %v", text, err)
	}
}

func TestBigFindBrowser(t *testing.T) {
	path, data, final, name := findFixture(t)
	wantTotal, _ := final.Find(name, 0, 0)

	gate := make(chan struct{})
	release := sync.OnceFunc(func() { close(gate) })
	t.Cleanup(release)
	slow := func(r io.Reader) io.Reader { return &slowReader{r: r, rate: float64(len(data)) / 4, gate: gate} }
	b := newBrowserWith(t, 1280, 800, Options{Big: []BigTrace{{Path: path, wrap: slow}}})
	release()
	if _, err := chromedp.Run(b.ctx, chromedp.Navigate(b.base)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`!!window.concvizBig`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("the page never opened the indexed trace: %v", err)
	}
	waitBig(t, b, "a first frame", func(st bigPage) bool { return st.FirstFrameAt != nil })
	eval[any](t, b, `document.querySelector('.bigv-canvas').focus()`)

	t.Run("? lists the keys, Esc closes", func(t *testing.T) {
		b.press(t, "?")
		if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`window.concvizBig.helpOpen`, chromedp.WithPollingTimeout(5*time.Second))); err != nil {
			t.Fatalf("? did not open the list of keys: %v", err)
		}
		keys := eval[[]string](t, b, `[...document.querySelectorAll('dialog[open] .keys dt')].map((dt) => [...dt.querySelectorAll('kbd')].map((k) => k.textContent).join(' '))`)
		for _, want := range []string{"← →", "+ −", "0 Home", "↑ ↓", "PageUp PageDown", "End", "/", "Esc", "?", "drag", "Shift drag", "Ctrl wheel", "Shift wheel", "wheel", "hover"} {
			if !slices.Contains(keys, want) {
				t.Errorf("the list of keys has no %q: %q", want, keys)
			}
		}
		b.shot(t, "big-keys.png")
		b.press(t, kb.Escape)
		if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`!window.concvizBig.helpOpen`, chromedp.WithPollingTimeout(5*time.Second))); err != nil {
			t.Fatalf("Esc did not close the list of keys: %v", err)
		}
		// The header's button opens it too.
		eval[any](t, b, `document.querySelector('.bar button.ghost').click()`)
		if !eval[bool](t, b, `window.concvizBig.helpOpen`) {
			t.Error("the ? button did not open the list")
		}
		b.press(t, kb.Escape)
	})

	t.Run("/ filters by name while indexing", func(t *testing.T) {
		if !eval[bool](t, b, `!document.querySelector('dialog[open]')`) {
			t.Fatal("the list of keys is still open")
		}
		b.pressSlash(t)
		if got := eval[string](t, b, `document.activeElement.className`); !strings.Contains(got, "bigv-find") {
			t.Fatalf("after /, the focus is on %q, not the search box", got)
		}
		b.typeText(t, strings.ToUpper(name))
		f := readFilter(t, b)
		for !f.Known {
			time.Sleep(20 * time.Millisecond)
			f = readFilter(t, b)
		}
		var info BigInfo
		getJSON(t, b.base+"api/big/1", &info)
		if info.Stats.Done {
			t.Logf("the filter came after indexing ended: the growth is not seen in the page")
		} else {
			t.Logf("while indexing (%d of %d bytes), %d of %d lanes match", info.Stats.Bytes, info.Stats.Size, f.Total, f.All)
		}
		// The matches grow with the index; every row drawn is a match,
		// with spans, at its place among the final matches.
		st := waitBig(t, b, "every match, drawn", func(st bigPage) bool {
			f = readFilter(t, b)
			if !st.Done || f.Total != wantTotal || len(st.Drawn) == 0 || drawnSpans(st) == 0 {
				return false
			}
			for _, d := range st.Drawn {
				if d.Name != name {
					return false
				}
			}
			return true
		})
		_, want := final.Find(name, st.Viewport.FirstLane, len(st.Drawn))
		for i, d := range st.Drawn {
			if i < len(want) && d.ID != want[i].ID {
				t.Errorf("row %d draws G%d, the %d-th match is G%d", i, d.ID, d.Pos, want[i].ID)
			}
		}
		status := eval[string](t, b, `document.querySelector('.status').textContent`)
		if wantText := fmt.Sprintf("%s of %s goroutines match", thousands(wantTotal), thousands(final.LaneCount(false))); !strings.Contains(status, wantText) {
			t.Errorf("status %q, want it to say %q", status, wantText)
		}
		t.Logf("%s: %d of %d lanes; status %q", name, f.Total, f.All, status)
		b.shot(t, "big-filter.png")
	})

	t.Run("an id finds its lane", func(t *testing.T) {
		all := final.Lanes(0, final.LaneCount(false), false)
		target := all[len(all)*3/4]
		b.typeText(t, kb.Escape)
		b.pressSlash(t)
		b.typeText(t, fmt.Sprintf("G%d", target.ID))
		st := waitBig(t, b, "the lane of the id, drawn", func(st bigPage) bool {
			f := readFilter(t, b)
			return f.Known && len(st.Drawn) > 0 && st.Drawn[0].ID == target.ID && st.Drawn[0].Name == target.Name
		})
		if f := readFilter(t, b); f.Total != 1 || st.Drawn[0].Spans == 0 {
			t.Errorf("G%d: %d lanes match, %d spans drawn; want the one lane, with spans", target.ID, f.Total, st.Drawn[0].Spans)
		}
		b.shot(t, "big-id.png")
	})

	t.Run("Esc restores every lane", func(t *testing.T) {
		b.typeText(t, kb.Escape)
		n := final.LaneCount(false)
		st := waitBig(t, b, "every lane again", func(st bigPage) bool {
			f := readFilter(t, b)
			return f.Match == "" && f.Total == n && len(st.Drawn) > 1 && st.Drawn[1].ID != 0 && st.Drawn[1].Name != ""
		})
		want := final.Lanes(st.Viewport.FirstLane, len(st.Drawn), false)
		for i, d := range st.Drawn {
			if d.ID != 0 && i < len(want) && d.ID != want[i].ID {
				t.Errorf("row %d draws G%d after clearing, the index has G%d there", i, d.ID, want[i].ID)
			}
		}
		if v := eval[string](t, b, `document.querySelector('.bigv-find').value`); v != "" {
			t.Errorf("the search box still holds %q", v)
		}
		if eval[string](t, b, `document.activeElement.className`) != "bigv-canvas" {
			t.Error("after Esc the focus is not back on the timeline")
		}
	})
}

// thousands writes n as the page does ("1,324").
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// TestBigFindScreenshot filters the view of a large trace given with
// -bigtrace while it is indexed, for a person to look at and for the time
// from the last key to the frame of the matches: it is not part of the
// suite. go test ./web -run TestBigFindScreenshot -bigshot OUT.png -bigtrace FILE -v
func TestBigFindScreenshot(t *testing.T) {
	if *bigShot == "" || *bigFile == "" {
		t.Skip("give -bigshot OUT.png -bigtrace FILE")
	}
	b := newBrowserWith(t, 1440, 900, Options{Big: []BigTrace{{Path: *bigFile}}})
	if _, err := chromedp.Run(b.ctx, chromedp.Navigate(b.base)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`!!window.concvizBig`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatal(err)
	}
	waitBig(t, b, "a first frame", func(st bigPage) bool { return st.FirstFrameAt != nil })
	eval[any](t, b, `document.querySelector('.bigv-canvas').focus()`)
	// The name of the lane in the middle of those listed so far.
	var lanes BigLanes
	getJSON(t, b.base+"api/big/1/lanes?count=1000", &lanes)
	name := lanes.Lanes[len(lanes.Lanes)/2].Name
	b.pressSlash(t)
	b.typeText(t, name)
	typed := time.Now()
	st := waitBig(t, b, "the matches drawn", func(st bigPage) bool {
		return readFilter(t, b).Known && len(st.Drawn) > 0 && st.Drawn[0].Name == name && drawnSpans(st) > 0
	})
	f := readFilter(t, b)
	t.Logf("%q: %d of %d lanes match; drawn %v after the last key (a %d ms debounce included), done %v", name, f.Total, f.All, time.Since(typed).Round(time.Millisecond), 120, st.Done)
	time.Sleep(500 * time.Millisecond)
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(*bigShot, png, 0o644); err != nil {
		t.Fatal(err)
	}
}
