package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// The browser's window: a laptop's screen, fixed so that runs compare.
const (
	windowWidth  = 1600
	windowHeight = 900
)

// motionDuration is how long the scripted pan and zoom runs: long enough
// for some 600 frames at 60 Hz, so that a p95 is the 30th worst.
const motionDuration = 10 * time.Second

// longFrame is the rAF interval above which a frame was visibly late: two
// frames of a 60 Hz display.
const longFrame = 33.0 // ms

// browserFigures are what the page measured of `viz open FILE`.
type browserFigures struct {
	// FirstFrame is the time from the exec of `viz open` to the first
	// frame the page drew with at least one span.
	FirstFrame time.Duration
	// Served is the time until viz printed its URL.
	Served time.Duration
	// Indexed is the time until the page said the index was done (to
	// the polling interval, 50 ms).
	Indexed time.Duration
	// Draw holds the page's draw durations (inside the rAF callback) of
	// the frames drawn while the view moved, in milliseconds; Intervals
	// the times between consecutive rAF callbacks over the same motion.
	Draw, Intervals []float64
	// Views is the number of setView and scrollLanes calls the motion
	// made; Lanes the lanes the page had on screen.
	Views, Lanes int
	// Requests is the number of window requests the page sent during the
	// motion, -1 when the page does not say (window.concvizBig.requests).
	Requests int
	// Phases are the motion's phases, with their frames.
	Phases []phase
	// PeakRSS is the viz process's peak RSS, read after the motion.
	PeakRSS int64
	// Exceptions are the page's uncaught exceptions.
	Exceptions []string
}

// buildViz builds ./cmd/viz into dir, as a user's `go install` would, so
// that the go command's own work is not timed as the viewer's.
func buildViz(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "viz")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/viz")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build ./cmd/viz (run from the repository root): %w: %s", err, out)
	}
	return bin, nil
}

// chromiumPath is where Debian's chromium package installs the browser.
const chromiumPath = "/usr/bin/chromium"

// findChromium returns Debian's chromium, or the first chromium on PATH.
func findChromium() (string, error) {
	if _, err := os.Stat(chromiumPath); err == nil {
		return chromiumPath, nil
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		return "", fmt.Errorf("no browser: %s is missing and chromium is not on PATH (apt-get install chromium), or run with -browser=false", chromiumPath)
	}
	return p, nil
}

// browser is one headless chromium with one tab, started before the clock
// of a measurement starts, as a user's browser is already open.
type browser struct {
	ctx    context.Context
	cancel func()
	mu     sync.Mutex
	// exceptions are the page's uncaught exceptions so far.
	exceptions []string
}

// startBrowser starts chromium headless with a fresh profile in dir and a
// fixed window, and waits until its tab answers.
func startBrowser(ctx context.Context, path, dir string) (*browser, error) {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(dir),
		chromedp.WindowSize(windowWidth, windowHeight),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	b := &browser{}
	tctx, cancelTab := chromedp.NewContext(actx, chromedp.WithListener(b.listen))
	b.ctx = tctx
	b.cancel = func() { cancelTab(); cancelAlloc() }
	if _, err := chromedp.Run(tctx, chromedp.EmulateViewport(windowWidth, windowHeight)); err != nil {
		b.cancel()
		return nil, fmt.Errorf("start chromium: %w", err)
	}
	return b, nil
}

// listen records the page's uncaught exceptions, which the report lists:
// a page that throws while it is measured measures something else.
func (b *browser) listen(ev any) {
	if e, ok := ev.(*runtime.EventExceptionThrown); ok {
		text := e.ExceptionDetails.Text
		if e.ExceptionDetails.Exception != nil && e.ExceptionDetails.Exception.Description != "" {
			text = e.ExceptionDetails.Exception.Description
		}
		b.mu.Lock()
		b.exceptions = append(b.exceptions, text)
		b.mu.Unlock()
	}
}

// phase is one phase of the scripted motion: the frames the page drew in
// it, and how many of them showed no span at all, which a draw time alone
// would not tell (an empty frame is quick to draw). Empty is -1 when the
// page does not say what it drew (window.concvizBig.drawn).
type phase struct {
	Name   string `json:"name"`
	Frames int    `json:"frames"`
	Empty  int    `json:"empty"`
}

// vizInBrowser opens file with `viz open` and measures it in the browser:
// the time to the first drawn frame from the exec of viz, then, once the
// index is done, the frames of a scripted pan and zoom across the whole
// trace, and the viz process's peak RSS.
func vizInBrowser(ctx context.Context, vizBin, chromium, file string, stderr io.Writer) (browserFigures, error) {
	var f browserFigures
	dir, err := os.MkdirTemp("", "benchbig-chromium-")
	if err != nil {
		return f, err
	}
	defer os.RemoveAll(dir)
	b, err := startBrowser(ctx, chromium, dir)
	if err != nil {
		return f, err
	}
	defer b.cancel()

	// viz's stdout is a pipe of our own rather than exec's, so that the
	// URL line is read while the process runs and Wait (in the group's
	// goroutine) does not race the reader.
	pr, pw, err := os.Pipe()
	if err != nil {
		return f, err
	}
	defer pr.Close()
	// --data= keeps the page's recordings in memory: a benchmark leaves
	// nothing in the user's cache.
	cmd := exec.Command(vizBin, "open", "--addr", "127.0.0.1:0", "--data=", file)
	var log tail
	cmd.Stdout, cmd.Stderr = pw, &log
	t0 := time.Now()
	g, err := startGroup(cmd)
	pw.Close()
	if err != nil {
		return f, err
	}
	defer g.stop()
	url, err := readURL(ctx, pr, g, &log)
	if err != nil {
		return f, err
	}
	f.Served = time.Since(t0)
	if err := b.measure(url, t0, motionDuration, &f, &log, stderr); err != nil {
		return f, err
	}
	f.PeakRSS = g.peakRSS()
	return f, g.stop()
}

// measure opens url, a page of an indexed trace whose server was started
// at t0, and fills in f: the first frame, the end of indexing, and the
// frames of the scripted motion, which lasts motion. log is the server's stderr, quoted when
// the page does not get there.
func (b *browser) measure(url string, t0 time.Time, motion time.Duration, f *browserFigures, log *tail, stderr io.Writer) error {
	if _, err := chromedp.Run(b.ctx, chromedp.Navigate(url)); err != nil {
		return fmt.Errorf("open %s in chromium: %w", url, err)
	}
	const firstJS = `!!(window.concvizBig && window.concvizBig.firstFrameAt != null)`
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](firstJS, chromedp.WithPollingInterval(10*time.Millisecond), chromedp.WithPollingTimeout(time.Minute))); err != nil {
		return fmt.Errorf("the page drew no frame with a span within a minute (window.concvizBig.firstFrameAt): %w; viz said: %s", err, log.String())
	}
	at, err := chromedp.Run(b.ctx, chromedp.Evaluate[float64](`performance.timeOrigin + window.concvizBig.firstFrameAt`))
	if err != nil {
		return fmt.Errorf("read the first frame's time: %w", err)
	}
	f.FirstFrame = time.Duration((at - float64(t0.UnixMicro())/1e3) * float64(time.Millisecond))

	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`!!window.concvizBig.done`, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(10*time.Minute))); err != nil {
		return fmt.Errorf("the index was not done within 10 minutes (window.concvizBig.done): %w; viz said: %s", err, log.String())
	}
	f.Indexed = time.Since(t0)
	fmt.Fprintf(stderr, "benchbig: viz open: first frame after %.2f s, index done after %.1f s; panning and zooming for %s\n",
		f.FirstFrame.Seconds(), f.Indexed.Seconds(), motion)

	js := fmt.Sprintf(motionJS, motion.Milliseconds())
	out, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		return fmt.Errorf("pan and zoom in the page: %w", err)
	}
	var m struct {
		Draw      []float64 `json:"draw"`
		Intervals []float64 `json:"intervals"`
		Views     int       `json:"views"`
		Lanes     int       `json:"lanes"`
		Requests  int       `json:"requests"`
		Phases    []phase   `json:"phases"`
	}
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		return fmt.Errorf("decode the page's frame times: %w", err)
	}
	f.Draw, f.Intervals, f.Views, f.Lanes = m.Draw, m.Intervals, m.Views, m.Lanes
	f.Requests, f.Phases = m.Requests, m.Phases
	b.mu.Lock()
	f.Exceptions = slices.Clone(b.exceptions)
	b.mu.Unlock()
	return nil
}

// readURL reads viz's stdout until it prints `viz: serving on URL`, and
// keeps draining it afterwards on a goroutine that ends with the process.
func readURL(ctx context.Context, r io.Reader, g *group, log *tail) (string, error) {
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		found := false
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "viz: serving on "); ok && !found {
				found = true
				urls <- strings.TrimSpace(u)
			}
		}
		close(urls)
	}()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	select {
	case u, ok := <-urls:
		if !ok {
			<-g.exited
			return "", fmt.Errorf("viz open exited without serving: %v: %s", g.err, log.String())
		}
		return u, nil
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return "", fmt.Errorf("viz open printed no URL within a minute: %s", log.String())
		}
		return "", ctx.Err()
	}
}

// motionJS pans and zooms across the whole trace as a user would, one
// step per animation frame for the duration formatted into it, through
// the page's own window.concvizBig.setView and scrollLanes, in phases: from
// the whole trace into a millisecond at its middle and out again; a drag
// across the whole trace with a twentieth of it in view; drags at a
// two-thousandth of the trace and at a millisecond, a quarter of the view
// a frame (a fast hand), from five places spread over the whole trace;
// then down the lanes a quarter of a screen a frame and up again, with
// the whole trace in view. It returns, as JSON, the draw durations the
// page recorded meanwhile, the intervals between the animation frames,
// measured in the page, and for each phase how many frames it drew and how
// many of them showed no span at all (a view whose window had not come).
const motionJS = `(async () => {
	const big = window.concvizBig, duration = %d;
	const v0 = big.viewport(), now = v0.now, ms = 1e6;
	const f0 = big.frames.length, r0 = big.requests ? big.requests.length : 0, intervals = [];
	let views = 0, last = null, start = null, prev = -1;
	const view = (s, e) => { big.setView(Math.max(0, Math.round(s)), Math.min(now, Math.round(e))); views++; };
	// framesIn is about how many frames a phase of this share gets.
	const framesIn = (share) => share * duration / 1000 * 60;
	const zoom = (q) => {
		const w = Math.exp(Math.log(now) + (Math.log(ms) - Math.log(now)) * (1 - Math.abs(2 * q - 1)));
		view(now / 2 - w / 2, now / 2 + w / 2);
	};
	// drag pans with w in view over segs stretches spread over the whole
	// trace, each as far as a quarter of the view a frame takes it.
	const drag = (w, segs, share) => (q) => {
		const seg = Math.min(segs - 1, Math.floor(q * segs)), r = q * segs - seg;
		const dist = Math.min((now - w) / segs, framesIn(share) / segs * w / 4);
		const s = seg / segs * (now - w) + r * dist;
		view(s, s + w);
	};
	let scrolled = 0;
	const lanes = (q) => {
		if (scrolled === 0 && q < 0.5) view(0, now);
		const n = Math.max(1, Math.round(v0.lanes / 4)) * (q < 0.5 ? 1 : -1);
		if (q >= 0.5 && scrolled <= 0) return;
		big.scrollLanes(n);
		scrolled += n;
		views++;
	};
	const phases = [
		{name: "zoom whole-1ms-whole", share: 0.3, step: zoom},
		{name: "drag at 1/20", share: 0.15, step: null},
		{name: "drag at 1/2000", share: 0.15, step: null},
		{name: "drag at 1ms", share: 0.2, step: null},
		{name: "scroll lanes", share: 0.2, step: lanes},
	];
	phases[1].step = drag(now / 20, 1, phases[1].share);
	phases[2].step = drag(now / 2000, 5, phases[2].share);
	phases[3].step = drag(ms, 5, phases[3].share);
	for (const ph of phases) { ph.frames = 0; ph.empty = 0; }
	// spans counts what the page's last frame drew (window.concvizBig.drawn,
	// where the page has it: spans a count or a list per lane).
	const spans = () => big.drawn.reduce((n, l) => n + (typeof l.spans === "number" ? l.spans : (l.spans || []).length), 0);
	await new Promise((resolve) => {
		const frame = (t) => {
			if (last !== null) intervals.push(t - last);
			last = t;
			// The page drew the previous phase's view before this callback.
			if (prev >= 0) {
				phases[prev].frames++;
				if (big.drawn && spans() === 0) phases[prev].empty++;
			}
			if (start === null) start = t;
			let p = (t - start) / duration;
			if (p >= 1) { resolve(); return; }
			let i = 0;
			while (i < phases.length - 1 && p >= phases[i].share) { p -= phases[i].share; i++; }
			phases[i].step(Math.min(1, p / phases[i].share));
			prev = i;
			requestAnimationFrame(frame);
		};
		requestAnimationFrame(frame);
	});
	const requests = big.requests ? big.requests.length - r0 : -1;
	return JSON.stringify({
		draw: big.frames.slice(f0), intervals, views, lanes: v0.lanes, requests,
		phases: phases.map((ph) => ({name: ph.name, frames: ph.frames, empty: big.drawn ? ph.empty : -1})),
	});
})()`

// percentile returns the p-th percentile (0 to 100) of v, sorting it.
func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	i := int(float64(len(v)) * p / 100)
	return v[min(i, len(v)-1)]
}

// countOver returns how many of v exceed limit.
func countOver(v []float64, limit float64) int {
	n := 0
	for _, x := range v {
		if x > limit {
			n++
		}
	}
	return n
}
