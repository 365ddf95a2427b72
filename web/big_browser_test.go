package web

// The browser tests of the large-trace view (big.js): a trace of this test
// binary's own making, indexed by the real server while Debian's chromium
// draws it, read through window.concvizBig.
//
// A screenshot of the view on a big trace is taken with
//
//	go test ./web -run TestBigScreenshot -bigshot OUT.png -bigtrace FILE

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/trace"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/concviz/concviz/tracer/index"
)

var bigShot = flag.String("bigshot", "", "write a screenshot of the large-trace view of -bigtrace to this PNG file (TestBigScreenshot)")

// bigChildEnv names the file that this test binary, started as a child,
// writes its trace to: the child's GODEBUG closes a trace generation every
// few milliseconds, which a test process cannot do to itself, so that the
// index is Ready long before its end.
const bigChildEnv = "CONCVIZ_TEST_BIGTRACE"

func init() {
	path := os.Getenv(bigChildEnv)
	if path == "" {
		return
	}
	if err := writeGenerations(path); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// writeGenerations traces a workload of many trace generations into path:
// 60 batches, each starting 20 goroutines that block once and a ping-pong
// pair that hands a token back and forth, while two long-lived pairs work in
// every batch, so that their lanes run from the start to the end.
func writeGenerations(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := trace.Start(f); err != nil {
		return err
	}
	var long sync.WaitGroup
	works := make([]chan *sync.WaitGroup, 2)
	for i := range works {
		work := make(chan *sync.WaitGroup)
		works[i] = work
		ping, pong := make(chan int), make(chan int)
		long.Go(func() {
			for wg := range work {
				for i := range 300 {
					ping <- i
					<-pong
				}
				wg.Done()
			}
			close(ping)
		})
		long.Go(func() {
			for v := range ping {
				pong <- v
			}
		})
	}
	for range 60 {
		gate := make(chan struct{})
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() { <-gate })
		}
		ping, pong := make(chan int), make(chan int)
		wg.Go(func() {
			for i := range 1000 {
				ping <- i
				<-pong
			}
			close(ping)
		})
		wg.Go(func() {
			for v := range ping {
				pong <- v
			}
		})
		for _, work := range works {
			wg.Add(1)
			work <- &wg
		}
		time.Sleep(2 * time.Millisecond)
		close(gate)
		wg.Wait()
	}
	for _, work := range works {
		close(work)
	}
	long.Wait()
	trace.Stop()
	return f.Close()
}

// generationsTrace runs this test binary as a child that writes a trace of
// many generations, and returns its path.
func generationsTrace(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "gens.trace")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), bigChildEnv+"="+path, "GODEBUG=traceadvanceperiod=5000000")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("write a trace of many generations: %v\n%s", err, out)
	}
	return path
}

// slowReader hands out its input at about rate bytes a second, from when
// gate is closed, so that a test can watch the page while the server is
// still indexing.
type slowReader struct {
	r     io.Reader
	rate  float64
	gate  <-chan struct{}
	start time.Time
	n     int64
}

func (s *slowReader) Read(p []byte) (int, error) {
	if s.start.IsZero() {
		<-s.gate
		s.start = time.Now()
	}
	p = p[:min(len(p), 32<<10)]
	n, err := s.r.Read(p)
	s.n += int64(n)
	if ahead := time.Duration(float64(s.n)/s.rate*float64(time.Second)) - time.Since(s.start); ahead > 0 {
		time.Sleep(ahead)
	}
	return n, err
}

// bigPage is window.concvizBig, as documented in big.js.
type bigPage struct {
	FirstFrameAt *float64 `json:"firstFrameAt"`
	Ready        bool     `json:"ready"`
	Done         bool     `json:"done"`
	Requests     []struct {
		Start int64 `json:"start"`
		End   int64 `json:"end"`
		Px    int   `json:"px"`
		First int   `json:"first"`
		Count int   `json:"count"`
	} `json:"requests"`
	Drawn    []bigRow `json:"drawn"`
	Warnings []string `json:"warnings"`
	Error    string   `json:"error"`
	Viewport struct {
		Start     float64 `json:"start"`
		End       float64 `json:"end"`
		Now       float64 `json:"now"`
		Lanes     int     `json:"lanes"`
		FirstLane int     `json:"firstLane"`
		Px        int     `json:"px"`
	} `json:"viewport"`
	Frames int `json:"frames"`
}

// bigRow is a lane of the last frame: its position, goroutine, name (once
// fetched) and the rectangles drawn on it.
type bigRow struct {
	Pos   int    `json:"pos"`
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Spans int    `json:"spans"`
}

// readBig reads window.concvizBig.
func readBig(t *testing.T, b *browser) bigPage {
	t.Helper()
	const js = `JSON.stringify((() => { const c = window.concvizBig; return {firstFrameAt: c.firstFrameAt, ready: c.ready,
		done: c.done, requests: c.requests, drawn: c.drawn, warnings: c.warnings, error: c.error,
		viewport: c.viewport(), frames: c.frames.length}; })())`
	var st bigPage
	s := eval[string](t, b, js)
	if err := json.Unmarshal([]byte(s), &st); err != nil {
		t.Fatalf("decode window.concvizBig: %v\n%s", err, s)
	}
	return st
}

// waitBig polls the page until cond holds of window.concvizBig.
func waitBig(t *testing.T, b *browser, what string, cond func(bigPage) bool) bigPage {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := readBig(t, b)
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page never got to %s: %+v", what, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestBigBrowser(t *testing.T) {
	dir := t.TempDir()
	path := generationsTrace(t, dir)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.trace")
	os.WriteFile(cut, data[:len(data)*2/3], 0o644)
	// Indexing starts once the page is asked for and takes about three
	// and a half seconds, so that the page is seen drawing before it ends
	// even on a loaded machine.
	gate := make(chan struct{})
	release := sync.OnceFunc(func() { close(gate) })
	slow := func(r io.Reader) io.Reader { return &slowReader{r: r, rate: float64(len(data)) / 3.5, gate: gate} }
	b := newBrowserWith(t, 1280, 800, Options{Big: []BigTrace{{Path: path, wrap: slow}, {Path: cut}}})
	// A test that fails early must not leave the server's Close waiting.
	t.Cleanup(release)
	t.Logf("trace of %d bytes", len(data))
	// The server's index is not at hand: the same file indexes the same.
	x, err := index.Open(t.Context(), path, index.Options{})
	if err != nil {
		t.Fatal(err)
	}

	release()
	if _, err := chromedp.Run(b.ctx, chromedp.Navigate(b.base)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`!!window.concvizBig`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("the page at / never opened the indexed trace: %v", err)
	}

	t.Run("first frame while indexing", func(t *testing.T) {
		st := waitBig(t, b, "a first frame with spans", func(st bigPage) bool { return st.FirstFrameAt != nil })
		var server BigInfo
		getJSON(t, b.base+"api/big/1", &server)
		stats := server.Stats
		if stats.Done {
			t.Errorf("the first frame came only after the index was done (%d of %d bytes)", stats.Bytes, stats.Size)
		}
		// The lanes drawn are the index's lanes at those positions.
		want := x.Lanes(st.Drawn[0].Pos, len(st.Drawn), false)
		withSpans := 0
		for i, d := range st.Drawn {
			if d.ID != 0 && (i >= len(want) || d.ID != want[i].ID) {
				t.Errorf("row %d (lane %d) draws G%d, the index has %+v there", i, d.Pos, d.ID, want[min(i, len(want)-1)])
			}
			if d.Spans > 0 {
				withSpans++
			}
		}
		if withSpans == 0 {
			t.Errorf("no lane of the first frame has spans: %+v", st.Drawn)
		}
		t.Logf("first frame at %.0f ms with %d of %d bytes indexed", *st.FirstFrameAt, stats.Bytes, stats.Size)
	})

	t.Run("refreshes while indexing", func(t *testing.T) {
		st := waitBig(t, b, "the end of indexing", func(st bigPage) bool { return st.Done })
		ends := map[int64]bool{}
		for _, r := range st.Requests {
			ends[r.End] = true
		}
		if len(ends) < 2 {
			t.Errorf("the view asked for %d windows while the trace grew (%+v); want it refreshed", len(st.Requests), st.Requests)
		}
		if st.Viewport.Now != float64(x.Stats().Now) || st.Viewport.End < st.Viewport.Now {
			t.Errorf("fitted view %+v after indexing; the trace ends at %d", st.Viewport, x.Stats().Now)
		}
	})

	t.Run("zoom and pan", func(t *testing.T) {
		before := readBig(t, b)
		for range 4 {
			b.press(t, "+")
		}
		bw := before.Viewport.End - before.Viewport.Start
		// The last request covers the view at the view's resolution (the
		// requests of the presses before it may come first).
		st := waitBig(t, b, "a window at the zoomed resolution", func(st bigPage) bool {
			w := st.Viewport.End - st.Viewport.Start
			if len(st.Requests) <= len(before.Requests) || w > bw/4 {
				return false
			}
			r := st.Requests[len(st.Requests)-1]
			res, want := float64(r.End-r.Start)/float64(r.Px), w/float64(st.Viewport.Px)
			return float64(r.Start) <= st.Viewport.Start && float64(r.End) >= st.Viewport.End && res < want*1.2 && res > want/1.2
		})
		w := st.Viewport.End - st.Viewport.Start
		waitBig(t, b, "a redraw of the zoomed window with spans", func(st bigPage) bool { return st.Frames > before.Frames && drawnSpans(st) > 0 })

		// A pan by one and a half view widths leaves the window asked for:
		// a new one covers the new view.
		start := st.Viewport.Start + 1.5*w
		if start+w > st.Viewport.Now {
			start = st.Viewport.Start - 1.5*w
		}
		n := len(st.Requests)
		eval[any](t, b, fmt.Sprintf(`window.concvizBig.setView(%f, %f)`, start, start+w))
		st = waitBig(t, b, "a window for the panned view", func(st bigPage) bool {
			if len(st.Requests) <= n {
				return false
			}
			r := st.Requests[len(st.Requests)-1]
			return float64(r.Start) <= start && float64(r.End) >= start+w
		})
		if math.Abs(st.Viewport.Start-start) > 1 {
			t.Errorf("after setView the view starts at %.0f, want %.0f", st.Viewport.Start, start)
		}
		waitBig(t, b, "a redraw of the panned window with spans", func(st bigPage) bool { return drawnSpans(st) > 0 })
		b.press(t, kb.ArrowLeft)
		waitBig(t, b, "a pan by the arrow key", func(st bigPage) bool { return st.Viewport.Start < start })
	})

	t.Run("scroll to the last lane", func(t *testing.T) {
		total := x.LaneCount(false)
		if total < 1000 {
			t.Fatalf("the trace has %d lanes, want at least 1000", total)
		}
		eval[any](t, b, `window.concvizBig.scrollLanes(1e6)`)
		last := x.Lanes(total-1, 1, false)[0]
		st := waitBig(t, b, "the last lane, named", func(st bigPage) bool {
			return slices.ContainsFunc(st.Drawn, func(d bigRow) bool {
				return d.Pos == total-1 && d.ID == last.ID && d.Name == last.Name
			})
		})
		if st.Viewport.FirstLane+st.Viewport.Lanes < total {
			t.Errorf("scrolled to lanes %d+%d of %d", st.Viewport.FirstLane, st.Viewport.Lanes, total)
		}
	})

	t.Run("frame times", func(t *testing.T) {
		// Sixty frames of panning and zooming, as fast as the page draws.
		const js = `new Promise((done) => {
			const c = window.concvizBig, v = c.viewport(), w = v.end - v.start, from = c.frames.length;
			let i = 0;
			const step = () => {
				if (i === 60) { done(c.frames.slice(from)); return; }
				const z = i % 20 < 10 ? 1 + i % 10 / 10 : 2 - i % 10 / 10;
				c.setView(v.start + i * w / 30, v.start + i * w / 30 + w * z);
				if (i % 15 === 0) c.scrollLanes(-7);
				i++;
				requestAnimationFrame(step);
			};
			requestAnimationFrame(step);
		})`
		frames, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]float64](js, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		sort.Float64s(frames)
		if len(frames) < 30 {
			t.Fatalf("only %d frames drawn in 60 animation frames", len(frames))
		}
		p95 := frames[len(frames)*95/100]
		t.Logf("%d frames: p50 %.2f ms, p95 %.2f ms, max %.2f ms", len(frames), frames[len(frames)/2], p95, frames[len(frames)-1])
		// A generous bound for a shared machine; the figure above is the
		// one to read.
		if p95 > 50 {
			t.Errorf("frame time p95 %.1f ms", p95)
		}
	})

	t.Run("tooltip with a stack", func(t *testing.T) {
		// Deep enough into a busy lane that its spans are wider than a
		// pixel: hovering them names their state and fetches their stack.
		eval[any](t, b, `window.concvizBig.scrollLanes(-1e6)`)
		st := readBig(t, b)
		mid := st.Viewport.Now / 2
		eval[any](t, b, fmt.Sprintf(`window.concvizBig.setView(%f, %f)`, mid, mid+50000))
		st = waitBig(t, b, "the deep zoom drawn", func(st bigPage) bool {
			r := st.Requests[len(st.Requests)-1]
			return st.Viewport.End-st.Viewport.Start < 60000 && float64(r.End-r.Start)/float64(r.Px) < 200 && drawnSpans(st) > 0
		})
		// The busiest lanes first: a lane that only runs and waits to run
		// has no stacks, so the next busiest is tried.
		rows := make([]int, len(st.Drawn))
		for i := range rows {
			rows[i] = i
		}
		sort.SliceStable(rows, func(i, j int) bool { return st.Drawn[rows[i]].Spans > st.Drawn[rows[j]].Spans })
		rect := eval[[]float64](t, b, `(() => { const r = document.querySelector('.bigv-canvas').getBoundingClientRect(); return [r.left, r.top, r.width]; })()`)
		found := false
		for _, row := range rows[:min(len(rows), 6)] {
			if st.Drawn[row].Spans == 0 {
				break
			}
			y := rect[1] + 28 + float64(row)*22 + 11
			for x := rect[0] + 220; x < rect[0]+rect[2]-20 && !found; x += 6 {
				if _, err := chromedp.Run(b.ctx, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, x, y)); err != nil {
					t.Fatal(err)
				}
				found = eval[bool](t, b, `!!document.querySelector('.tooltip:not([hidden]) pre')`)
			}
			if found {
				break
			}
		}
		if !found {
			t.Fatalf("no span of the %d busiest lanes drawn shows a stack in its tooltip", min(len(rows), 6))
		}
		if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`(() => { const p = document.querySelector('.tooltip:not([hidden]) pre'); return !!p && p.textContent !== '…'; })()`, chromedp.WithPollingTimeout(5*time.Second))); err != nil {
			t.Fatalf("the stack never arrived: %v", err)
		}
		tip := eval[string](t, b, `document.querySelector('.tooltip').textContent`)
		if !strings.Contains(tip, ".go:") || !strings.Contains(tip, "G") {
			t.Errorf("tooltip %q has no stack frame", tip)
		}
		t.Logf("tooltip: %.200q", tip)
	})

	t.Run("truncated trace", func(t *testing.T) {
		if _, err := chromedp.Run(b.ctx, chromedp.Navigate(b.base+"?big=2")); err != nil {
			t.Fatal(err)
		}
		st := waitBig(t, b, "the truncated trace indexed", func(st bigPage) bool { return st.Done && len(st.Warnings) > 0 })
		if st.Error != "" || !strings.Contains(st.Warnings[0], "incomplete") {
			t.Errorf("truncated trace: error %q, warnings %q", st.Error, st.Warnings)
		}
		shown := eval[string](t, b, `document.querySelector('.bigv-warn:not([hidden])')?.textContent || ''`)
		if !strings.Contains(shown, "incomplete") {
			t.Errorf("the page shows %q, not the warning", shown)
		}
		waitBig(t, b, "a frame of the truncated trace", func(st bigPage) bool { return drawnSpans(st) > 0 })
	})

	t.Run("unknown trace", func(t *testing.T) {
		// An address kept from another server says so, and stops asking.
		if _, err := chromedp.Run(b.ctx, chromedp.Navigate(b.base+"?big=9")); err != nil {
			t.Fatal(err)
		}
		if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`document.querySelector('.status')?.textContent.includes('no indexed trace')`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
			t.Fatalf("the page never said the trace is unknown: %v", err)
		}
		if title := eval[string](t, b, `document.querySelector('h1').textContent`); title != "No such trace" {
			t.Errorf("title %q", title)
		}
	})
}

// drawnSpans counts the rectangles of the last frame.
func drawnSpans(st bigPage) int {
	n := 0
	for _, d := range st.Drawn {
		n += d.Spans
	}
	return n
}

// TestBigScreenshot writes a screenshot of the view of a large trace, for a
// person to look at: it is not part of the suite.
func TestBigScreenshot(t *testing.T) {
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
	st := waitBig(t, b, "a first frame", func(st bigPage) bool { return st.FirstFrameAt != nil })
	t.Logf("first frame at %.0f ms", *st.FirstFrameAt)
	time.Sleep(500 * time.Millisecond)
	shot := func(path string) {
		t.Helper()
		png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	shot(*bigShot)
	// The same view with a tooltip, and in the dark theme.
	base := strings.TrimSuffix(*bigShot, ".png")
	if _, err := chromedp.Run(b.ctx, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, 700, 190)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	shot(base + "-tip.png")
	media := emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}}
	if _, err := chromedp.Call(b.ctx, emulation.SetEmulatedMedia, media); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	shot(base + "-dark.png")
	// Zoomed in to 200 µs, where spans are wide enough for their reasons,
	// with the tooltip of a busy lane's span.
	media.Features[0].Value = "light"
	if _, err := chromedp.Call(b.ctx, emulation.SetEmulatedMedia, media); err != nil {
		t.Fatal(err)
	}
	st = readBig(t, b)
	mid := st.Viewport.Now / 2
	eval[any](t, b, fmt.Sprintf(`window.concvizBig.setView(%f, %f)`, mid, mid+200000))
	waitBig(t, b, "the zoomed view drawn", func(st bigPage) bool {
		r := st.Requests[len(st.Requests)-1]
		return float64(r.End-r.Start)/float64(r.Px) < 500 && drawnSpans(st) > 0
	})
	for x := 400.0; x < 1400; x += 5 {
		chromedp.Run(b.ctx, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, x, 140))
		if eval[bool](t, b, `!!document.querySelector('.tooltip:not([hidden]) pre')`) {
			break
		}
	}
	time.Sleep(300 * time.Millisecond)
	shot(base + "-zoom.png")
}
