package web

// The browser test of a large trace opened from the page: chosen in the
// "Open file…" input, as a drop does, it is indexed by the server, and the
// page switches to the large-trace view (big.js) while it is read.

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/concviz/concviz/tracer/index"
)

func TestBigUploadBrowser(t *testing.T) {
	dir := t.TempDir()
	path := generationsTrace(t, dir)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("trace of %d bytes", len(data))
	// The server's index is not at hand: the same file indexes the same.
	x, err := index.Open(t.Context(), path, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Indexing an upload takes about two and a half seconds, so that the
	// page is seen drawing, with its progress, before it ends.
	gate := make(chan struct{})
	release := sync.OnceFunc(func() { close(gate) })
	t.Cleanup(release)
	slow := func(r io.Reader) io.Reader { return &slowReader{r: r, rate: float64(len(data)) / 2.5, gate: gate} }
	updir := t.TempDir()
	b := newBrowserWith(t, 1280, 800, Options{IndexAbove: int64(len(data) / 2), uploadDir: updir, maxBigUploads: 1, wrapUpload: slow})
	b.open(t, "")
	release()

	if _, err := chromedp.Run(b.ctx, chromedp.SetUploadFiles(chromedp.CSS(`#file-input`), []string{path})); err != nil {
		t.Fatal(err)
	}
	if err := b.waitAcrossNavigation(`!!window.concvizBig && location.search === "?big=1"`, 10*time.Second); err != nil {
		t.Fatalf("the page never switched to the large-trace view of the upload: %v", err)
	}

	t.Run("progress while indexing", func(t *testing.T) {
		st := waitBig(t, b, "a first frame with spans", func(st bigPage) bool { return st.FirstFrameAt != nil && drawnSpans(st) > 0 })
		var server BigInfo
		getJSON(t, b.base+"api/big/1", &server)
		if server.Stats.Done {
			t.Errorf("the first frame came only after the upload was indexed")
		}
		progress := eval[[]float64](t, b, `(() => { const p = document.querySelector('.bigv-progress'); return [p.hidden ? 1 : 0, p.value]; })()`)
		status := eval[string](t, b, `document.querySelector('.status').textContent`)
		if !server.Stats.Done && (progress[0] != 0 || progress[1] >= 1 || !strings.HasPrefix(status, "Indexing")) {
			t.Errorf("while indexing: progress hidden %v value %v, status %q", progress[0] == 1, progress[1], status)
		}
		// The lanes drawn are the trace's goroutines at those positions.
		want := x.Lanes(st.Drawn[0].Pos, len(st.Drawn), false)
		for i, d := range st.Drawn {
			if d.ID != 0 && (i >= len(want) || d.ID != want[i].ID) {
				t.Errorf("row %d (lane %d) draws G%d, the trace has %+v there", i, d.Pos, d.ID, want[min(i, len(want)-1)])
			}
		}
		if title := eval[string](t, b, `document.querySelector('h1').textContent`); title != "gens.trace" {
			t.Errorf("title %q, want the file's name", title)
		}
	})

	t.Run("indexed", func(t *testing.T) {
		st := waitBig(t, b, "the end of indexing", func(st bigPage) bool { return st.Done })
		if st.Error != "" || st.Viewport.Now != float64(x.Stats().Now) {
			t.Errorf("after indexing: error %q, view %+v; the trace ends at %d", st.Error, st.Viewport, x.Stats().Now)
		}
		waitBig(t, b, "a frame of the whole trace", func(st bigPage) bool { return drawnSpans(st) > 0 })
		if hidden := eval[bool](t, b, `document.querySelector('.bigv-progress').hidden`); !hidden {
			t.Errorf("the progress indicator still shows after indexing")
		}
		if files := uploadFiles(t, updir); len(files) != 1 {
			t.Errorf("upload directory holds %q, want the upload's file", files)
		}
	})

	t.Run("evicted", func(t *testing.T) {
		// A second upload, from the puzzles page, takes the one place: the
		// first's address then says it is gone, and why.
		b.open(t, "puzzles")
		if _, err := chromedp.Run(b.ctx, chromedp.SetUploadFiles(chromedp.CSS(`#file-input`), []string{path})); err != nil {
			t.Fatal(err)
		}
		if err := b.waitAcrossNavigation(`!!window.concvizBig && location.search === "?big=2"`, 10*time.Second); err != nil {
			t.Fatalf("the second upload never opened: %v", err)
		}
		if _, err := chromedp.Run(b.ctx, chromedp.Navigate(b.base+"?big=1")); err != nil {
			t.Fatal(err)
		}
		if err := b.waitAcrossNavigation(`document.querySelector('.status')?.textContent.includes('to make room')`, 10*time.Second); err != nil {
			t.Fatalf("the evicted upload's address never said why it is gone: %v", err)
		}
		if title := eval[string](t, b, `document.querySelector('h1').textContent`); title != "No such trace" {
			t.Errorf("title %q", title)
		}
	})

	t.Run("evicted while shown", func(t *testing.T) {
		// The view of upload 2 is open when another tab's upload takes its
		// place: the next window it asks for says so.
		if _, err := chromedp.Run(b.ctx, chromedp.Navigate(b.base+"?big=2")); err != nil {
			t.Fatal(err)
		}
		waitBig(t, b, "upload 2 drawn", func(st bigPage) bool { return st.Done && drawnSpans(st) > 0 })
		resp, err := http.Post(b.base+"api/recordings?name=third.trace", "application/octet-stream", bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("third upload: %s", resp.Status)
		}
		b.press(t, "+")
		gone := `document.querySelector('h1').textContent === 'No such trace' && document.querySelector('.status').textContent.startsWith('no indexed trace "2" any more')`
		if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](gone, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
			t.Fatalf("the view of an evicted upload never said so: %v (status %q)", err, eval[string](t, b, `document.querySelector('.status').textContent`))
		}
		// It stops asking.
		n := len(readBig(t, b).Requests)
		b.press(t, "+")
		time.Sleep(300 * time.Millisecond)
		if m := len(readBig(t, b).Requests); m != n {
			t.Errorf("the view of an evicted upload asked for %d more windows", m-n)
		}
	})
}
