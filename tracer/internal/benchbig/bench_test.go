package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// stubPage is a page of one indexed trace as the benchmark expects it,
// drawn on a canvas: window.concvizBig with the documented members. It
// draws a bar per lane in view on every animation frame after a short
// delay (the "first generation"), and says done a little later; views
// narrower than 10 ms it leaves empty, as a page waiting for its window
// would. It also records every view it was given, for the test to check
// that the motion really crossed the whole trace.
const stubPage = `<!doctype html><canvas id=c width=1600 height=800></canvas><script>
const now = 5e9, lanes = 1200, rows = 40, c = document.getElementById("c").getContext("2d");
let start = 0, end = now, first = 0;
const seen = {minWidth: Infinity, maxWidth: 0, minStart: Infinity, maxEnd: 0, maxFirst: 0, sets: 0};
window.seen = seen;
const t0 = performance.now();
window.concvizBig = {
	firstFrameAt: null, frames: [], drawn: [], ready: false, done: false,
	viewport() { return {start, end, now, lanes: rows, firstLane: first}; },
	setView(s, e) {
		start = s; end = e; seen.sets++;
		seen.minWidth = Math.min(seen.minWidth, e - s); seen.maxWidth = Math.max(seen.maxWidth, e - s);
		seen.minStart = Math.min(seen.minStart, s); seen.maxEnd = Math.max(seen.maxEnd, e);
	},
	scrollLanes(n) { first = Math.max(0, Math.min(lanes - rows, first + n)); seen.maxFirst = Math.max(seen.maxFirst, first); },
};
function draw(t) {
	const big = window.concvizBig;
	if (t - t0 > 100) {
		big.ready = true;
		const d0 = performance.now();
		c.clearRect(0, 0, 1600, 800);
		for (let i = 0; i < 40; i++) {
			const k = (first + i) * 7919 % 1000;
			c.fillRect(k, i * 20, 1600 - k, 18);
		}
		big.frames.push(performance.now() - d0);
		big.drawn = Array.from({length: rows}, (_, i) => ({pos: first + i, spans: end - start < 1e7 ? 0 : 1}));
		if (big.firstFrameAt === null) big.firstFrameAt = performance.now();
	}
	if (t - t0 > 300) big.done = true;
	requestAnimationFrame(draw);
}
requestAnimationFrame(draw);
</script>`

// TestMeasureStubPage drives chromium through the measurement on a stub
// page, and checks what it reports: a first frame after the exec time it
// is given, frames drawn and animation frames counted while the view
// moves, and a motion that zoomed from the whole trace into a millisecond,
// panned to both ends and scrolled the lanes.
func TestMeasureStubPage(t *testing.T) {
	chromium, err := findChromium()
	if err != nil {
		t.Skip(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, stubPage)
	}))
	defer srv.Close()
	b, err := startBrowser(context.Background(), chromium, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.cancel()

	const motion = 2 * time.Second
	t0 := time.Now()
	var f browserFigures
	if err := b.measure(srv.URL, t0, motion, &f, &tail{}, io.Discard); err != nil {
		t.Fatal(err)
	}
	t.Logf("first frame %v, done %v, %d draws (p95 %.2f ms), %d intervals (p50 %.1f ms, p95 %.1f ms), %d views",
		f.FirstFrame, f.Indexed, len(f.Draw), percentile(f.Draw, 95), len(f.Intervals), percentile(f.Intervals, 50), percentile(f.Intervals, 95), f.Views)
	// The stub draws its first frame 100 ms after its own start, which
	// comes after t0.
	if f.FirstFrame < 100*time.Millisecond || f.FirstFrame > 30*time.Second {
		t.Errorf("first frame after %v, want between 100 ms and 30 s", f.FirstFrame)
	}
	if f.Indexed < f.FirstFrame {
		t.Errorf("index done after %v, before the first frame at %v", f.Indexed, f.FirstFrame)
	}
	// Headless chromium paces animation frames at about 60 Hz; a loaded
	// machine drops some, but not most.
	if min := int(motion.Seconds() * 10); len(f.Intervals) < min || len(f.Draw) < min {
		t.Errorf("%d animation frames and %d draws in %v, want at least %d of each", len(f.Intervals), len(f.Draw), motion, min)
	}
	if f.Lanes != 40 || f.Views < len(f.Intervals)/2 {
		t.Errorf("lanes on screen %d (want 40), %d views in %d frames", f.Lanes, f.Views, len(f.Intervals))
	}
	frames := 0
	for _, ph := range f.Phases {
		frames += ph.Frames
		// The 1 ms drag and the zoom into 1 ms show views the stub leaves
		// empty; the drag at a twentieth of the trace does not.
		switch wantEmpty := ph.Name == "drag at 1ms" || ph.Name == "zoom whole-1ms-whole"; {
		case ph.Frames == 0:
			t.Errorf("phase %s had no frames", ph.Name)
		case wantEmpty && ph.Empty == 0, !wantEmpty && ph.Name == "drag at 1/20" && ph.Empty != 0:
			t.Errorf("phase %s: %d of %d frames empty", ph.Name, ph.Empty, ph.Frames)
		}
	}
	if len(f.Phases) != 5 || frames != len(f.Intervals) {
		t.Errorf("%d phases with %d frames in all, want 5 with the %d animation frames", len(f.Phases), frames, len(f.Intervals))
	}
	if p := percentile(f.Intervals, 50); p < 5 || p > 100 {
		t.Errorf("median animation frame interval %.1f ms, want about 16.7", p)
	}
	var seen struct {
		MinWidth, MaxWidth, MinStart, MaxEnd, MaxFirst float64
	}
	js := `JSON.stringify(window.seen)`
	if err := evalJSON(b, js, &seen); err != nil {
		t.Fatal(err)
	}
	const now = 5e9
	if seen.MinWidth > 2e6 || seen.MaxWidth < now*0.99 {
		t.Errorf("views %v to %v ns wide, want from about 1 ms to the whole trace (%v)", seen.MinWidth, seen.MaxWidth, now)
	}
	if seen.MinStart > 0 || seen.MaxEnd < now*0.99 {
		t.Errorf("views from %v to %v ns, want both ends of the trace", seen.MinStart, seen.MaxEnd)
	}
	if seen.MaxFirst < 50 {
		t.Errorf("lanes scrolled to %v at most, want a scroll down the lanes", seen.MaxFirst)
	}
	if len(f.Exceptions) > 0 {
		t.Errorf("page exceptions: %q", f.Exceptions)
	}
}

// evalJSON evaluates js, which returns a JSON string, into v.
func evalJSON(b *browser, js string, v any) error {
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		return err
	}
	return json.Unmarshal([]byte(s), v)
}

// TestGroupStop starts a shell with two children in a group, and checks
// that the group's peak RSS counts its processes and that stop leaves none
// of them running.
func TestGroupStop(t *testing.T) {
	g, err := startGroup(exec.Command("sh", "-c", "sleep 60 & sleep 60 & wait"))
	if err != nil {
		t.Fatal(err)
	}
	defer g.stop()
	pgid := g.cmd.Process.Pid
	deadline := time.Now().Add(5 * time.Second)
	for len(groupPIDs(pgid)) < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := len(groupPIDs(pgid)); n != 3 {
		t.Fatalf("%d processes in the group, want the shell and two sleeps", n)
	}
	if one, all := vmHWM(pgid), g.peakRSS(); one <= 0 || all <= one {
		t.Errorf("peak RSS of the shell %d, of the group %d: want the group's larger than the shell's", one, all)
	}
	if err := g.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	// The sleeps, orphaned by the killed shell, are reaped by init.
	deadline = time.Now().Add(5 * time.Second)
	for len(groupPIDs(pgid)) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if pids := groupPIDs(pgid); len(pids) > 0 {
		t.Errorf("processes %v of the group outlived stop", pids)
	}
	if err := g.stop(); err != nil {
		t.Errorf("second stop: %v", err)
	}
}

// TestGoToolTrace times go tool trace on a small trace of this repository,
// and once more with a timeout too short for any viewer.
func TestGoToolTrace(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go tool trace")
	}
	file := "../../testdata/traces/go1.26-deadlock-cross-wait-broken.trace"
	if _, err := os.Stat(file); err != nil {
		t.Fatal(err)
	}
	g, err := goToolTrace(context.Background(), file, time.Minute, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("go tool trace: %+v", g)
	if g.TimedOut || g.Ready <= 0 || g.PeakRSS < 1<<20 {
		t.Errorf("got %+v, want a viewer ready within a minute and a peak RSS of at least a megabyte", g)
	}
	g, err = goToolTrace(context.Background(), file, time.Millisecond, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !g.TimedOut || g.Ready != time.Millisecond {
		t.Errorf("with a 1 ms timeout: got %+v, want a timeout", g)
	}
}

// TestPercentile checks the nearest-rank percentiles the report prints.
func TestPercentile(t *testing.T) {
	v := []float64{5, 1, 4, 2, 3, 10, 9, 8, 7, 6}
	for _, tc := range []struct{ p, want float64 }{{0, 1}, {50, 6}, {95, 10}, {100, 10}} {
		if got := percentile(v, tc.p); got != tc.want {
			t.Errorf("percentile(%v) = %v, want %v", tc.p, got, tc.want)
		}
	}
	if got := percentile(nil, 95); got != 0 {
		t.Errorf("percentile of nothing = %v, want 0", got)
	}
	if got := countOver(v, 7); got != 3 {
		t.Errorf("countOver 7 = %d, want 3", got)
	}
}
