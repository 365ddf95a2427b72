package web

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/trace"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/concviz/concviz/tracer"
	"github.com/concviz/concviz/tracer/index"
)

var bigFile = flag.String("bigtrace", "", "measure window answers on this large trace file (TestBigWindowMeasure)")

// recordBig traces a workload of this process with at least lanes
// goroutines: pairs that hand a token back and forth rounds times, and short
// goroutines that each block once on a channel, so that the trace has many
// lanes and a few busy ones. It writes the trace into a file of dir.
func recordBig(t testing.TB, dir string, lanes, rounds int) string {
	t.Helper()
	var buf bytes.Buffer
	if err := trace.Start(&buf); err != nil {
		t.Fatalf("start trace: %v", err)
	}
	var wg sync.WaitGroup
	for range 2 {
		ping, pong := make(chan int), make(chan int)
		wg.Go(func() {
			for i := range rounds {
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
	}
	gate := make(chan struct{})
	var short sync.WaitGroup
	for range lanes {
		short.Go(func() { <-gate })
	}
	close(gate)
	short.Wait()
	wg.Wait()
	trace.Stop()
	path := filepath.Join(dir, "big.trace")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// bigServer serves the given traces as indexed ones; the server is closed
// (and its indexing goroutines waited for) when the test ends.
func bigServer(t *testing.T, paths ...string) (*Server, string) {
	t.Helper()
	opt := Options{Logf: t.Logf}
	for _, p := range paths {
		opt.Big = append(opt.Big, BigTrace{Path: p})
	}
	srv := NewServer(opt)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	t.Cleanup(srv.Close)
	return srv, ts.URL
}

// waitIndexed polls the status of trace id until indexing has ended.
func waitIndexed(t *testing.T, base, id string) BigInfo {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var in BigInfo
		getJSON(t, base+"/api/big/"+id, &in)
		if in.Stats.Done {
			return in
		}
		if time.Now().After(deadline) {
			t.Fatalf("trace %s still indexing after 20 s: %+v", id, in)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// compactWindow is the compact form of a window answer (PROTOCOL.md).
type compactWindow struct {
	Start      int64 `json:"start"`
	End        int64 `json:"end"`
	Pixels     int   `json:"pixels"`
	Resolution int64 `json:"resolution_ns"`
	Now        int64 `json:"now_ns"`
	Done       bool  `json:"done"`
	First      int   `json:"first"`
	Total      int   `json:"total"`
	Lanes      []struct {
		ID     int64   `json:"id"`
		T0     int64   `json:"t0"`
		Gap    []int64 `json:"gap"`
		Dur    []int64 `json:"dur"`
		State  []int   `json:"state"`
		Merged []int   `json:"merged"`
		Stack  []int   `json:"stack"`
		Reason []int   `json:"reason"`
	} `json:"lanes"`
	Reasons []string `json:"reasons"`
	States  []string `json:"states"`
}

// decode turns the compact form back into index.Window, so that tests can
// compare it with what the index answers.
func (c compactWindow) decode() index.Window {
	w := index.Window{Start: c.Start, End: c.End, Pixels: c.Pixels, Resolution: c.Resolution, Now: c.Now, Done: c.Done, Lanes: []index.LaneWindow{}}
	for _, l := range c.Lanes {
		lw := index.LaneWindow{ID: l.ID, Spans: []index.Span{}}
		t := l.T0
		for i := range l.Gap {
			sp := index.Span{Start: t + l.Gap[i], State: tracer.State(l.State[i]), Stack: l.Stack[i], Reason: c.Reasons[l.Reason[i]]}
			sp.End = sp.Start + l.Dur[i]
			sp.Merged = l.Merged[i]
			if sp.Merged < 0 {
				sp.Merged, sp.Mixed = -sp.Merged, true
			}
			t = sp.End
			lw.Spans = append(lw.Spans, sp)
		}
		w.Lanes = append(w.Lanes, lw)
	}
	return w
}

func TestBigAPI(t *testing.T) {
	path := recordBig(t, t.TempDir(), 300, 3000)
	srv, base := bigServer(t, path)
	in := waitIndexed(t, base, "1")
	if in.Error != "" || in.Name != "big.trace" || in.Size == 0 || !in.Ready || in.Stats.Events == 0 || in.Stats.Bytes != in.Size {
		t.Fatalf("status after indexing: %+v", in)
	}
	if in.Lanes < 300 {
		t.Errorf("lanes = %d, want at least the 300 short goroutines", in.Lanes)
	}
	x := srv.big[0].x

	var list []BigInfo
	getJSON(t, base+"/api/big", &list)
	if len(list) != 1 || list[0].ID != "1" {
		t.Errorf("GET /api/big = %+v, want the one trace", list)
	}

	t.Run("lanes", func(t *testing.T) {
		var got BigLanes
		getJSON(t, base+"/api/big/1/lanes?first=10&count=5", &got)
		want := x.Lanes(10, 5, false)
		if got.Total != in.Lanes || got.First != 10 || len(got.Lanes) != 5 {
			t.Fatalf("lanes: total %d first %d, %d lanes; want %d, 10, 5", got.Total, got.First, len(got.Lanes), in.Lanes)
		}
		for i := range want {
			if got.Lanes[i] != want[i] {
				t.Errorf("lane %d = %+v, want %+v", 10+i, got.Lanes[i], want[i])
			}
		}
		var past BigLanes
		getJSON(t, fmt.Sprintf("%s/api/big/1/lanes?first=%d&count=5", base, in.Lanes), &past)
		if len(past.Lanes) != 0 {
			t.Errorf("lanes past the end: %d, want none", len(past.Lanes))
		}
	})

	t.Run("window", func(t *testing.T) {
		for _, q := range []index.Query{
			{Start: 0, End: in.Stats.Now, Pixels: 800, First: 0, Count: 50},
			{Start: in.Stats.Now / 3, End: in.Stats.Now / 2, Pixels: 1200, First: 3, Count: 20},
			{Start: 0, End: in.Stats.Now, Pixels: index.MaxPixels, First: 0, Count: 4},
		} {
			var c compactWindow
			getJSON(t, fmt.Sprintf("%s/api/big/1/window?start=%d&end=%d&px=%d&first=%d&count=%d", base, q.Start, q.End, q.Pixels, q.First, q.Count), &c)
			got, want := c.decode(), x.Window(q)
			if c.Total != in.Lanes || c.First != q.First {
				t.Errorf("window %+v: total %d first %d, want %d %d", q, c.Total, c.First, in.Lanes, q.First)
			}
			if len(c.States) != len(tracer.StateNames()) {
				t.Errorf("window states = %v", c.States)
			}
			b1, _ := json.Marshal(got)
			b2, _ := json.Marshal(want)
			if !bytes.Equal(b1, b2) {
				t.Errorf("window %+v decodes to\n%s\nwant\n%s", q, clipText(string(b1)), clipText(string(b2)))
			}
			spans, merged := 0, 0
			for _, l := range got.Lanes {
				spans += len(l.Spans)
				for _, s := range l.Spans {
					if s.Merged > 0 {
						merged++
					}
				}
			}
			if spans == 0 {
				t.Errorf("window %+v has no spans", q)
			}
			if q.Pixels == 800 && merged == 0 {
				t.Errorf("the whole trace at 800 px merged no span: the busy pairs' handoffs are far below a pixel")
			}
		}
	})

	t.Run("stacks", func(t *testing.T) {
		var st tracer.Stack
		stack := -1
		for _, l := range x.Window(index.Query{Start: 0, End: in.Stats.Now, Count: 10}).Lanes {
			for _, s := range l.Spans {
				if s.Stack >= 0 && s.State.Blocked() {
					stack = s.Stack
				}
			}
		}
		if stack < 0 {
			t.Fatal("no blocked span with a stack in the first lanes")
		}
		getJSON(t, fmt.Sprintf("%s/api/big/1/stacks/%d", base, stack), &st)
		if len(st.Frames) == 0 {
			t.Errorf("stack %d has no frames", stack)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		checkAPIErrors(t, base, []apiErrorCase{
			{"/api/big/2", "no indexed trace", 404},
			{"/api/big/x/window?start=0&end=10&px=10", "no indexed trace", 404},
			{"/api/big/1/window?start=0&end=10", "missing parameter px", 400},
			{"/api/big/1/window?start=0&px=10", "missing parameter end", 400},
			{"/api/big/1/window?start=10&end=10&px=10", "must be after start", 400},
			{"/api/big/1/window?start=-1&end=10&px=10", "start=-1", 400},
			{"/api/big/1/window?start=0&end=1e9&px=10", "want an integer", 400},
			{"/api/big/1/window?start=0&end=10&px=0", "px=0", 400},
			{fmt.Sprintf("/api/big/1/window?start=0&end=10&px=%d", index.MaxPixels+1), "want 1 to", 400},
			{fmt.Sprintf("/api/big/1/window?start=0&end=10&px=10&count=%d", index.MaxLanes+1), "count=", 400},
			{"/api/big/1/window?start=0&end=10&px=10&first=-3", "first=-3", 400},
			{fmt.Sprintf("/api/big/1/window?start=0&end=10&px=%d&count=1000", index.MaxPixels), "ask for fewer lanes or pixels", 400},
			{"/api/big/1/lanes?count=0", "count=0", 400},
			{"/api/big/1/lanes?first=abc", "want an integer", 400},
			{"/api/big/1/stacks/-1", "want a stack index", 400},
			{"/api/big/1/stacks/99999999", "no stack", 404},
		})
	})

	t.Run("host check", func(t *testing.T) {
		req, _ := http.NewRequest("GET", base+"/api/big/1/window?start=0&end=10&px=10", nil)
		req.Host = "evil.test"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("window for host evil.test: %d, want 403", resp.StatusCode)
		}
	})
}

// TestBigBrokenFiles checks that a truncated trace, a file that is not a
// trace and a missing file each say so in their status, while the server
// keeps answering.
func TestBigBrokenFiles(t *testing.T) {
	dir := t.TempDir()
	whole, err := os.ReadFile(recordBig(t, dir, 50, 20000))
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "cut.trace")
	os.WriteFile(truncated, whole[:len(whole)*2/3], 0o644)
	garbage := filepath.Join(dir, "garbage.trace")
	os.WriteFile(garbage, bytes.Repeat([]byte("not a trace "), 1000), 0o644)
	missing := filepath.Join(dir, "missing.trace")
	_, base := bigServer(t, truncated, garbage, missing)

	cut := waitIndexed(t, base, "1")
	if cut.Error != "" || !cut.Stats.Truncated || len(cut.Stats.Warnings) == 0 {
		t.Errorf("truncated trace: %+v, want warnings and no error", cut)
	} else if !strings.Contains(strings.Join(cut.Stats.Warnings, " "), "incomplete") {
		t.Errorf("truncated trace warnings = %q", cut.Stats.Warnings)
	}
	if g := waitIndexed(t, base, "2"); !strings.Contains(g.Error, tracer.ErrNotTrace.Error()) {
		t.Errorf("garbage file: error %q, want one saying it is not a trace", g.Error)
	}
	if m := waitIndexed(t, base, "3"); !strings.Contains(m.Error, "open trace") || !strings.Contains(m.Error, "no such file") {
		t.Errorf("missing file: error %q", m.Error)
	}
	var c compactWindow
	getJSON(t, base+"/api/big/2/window?start=0&end=1000&px=10", &c)
	if len(c.Lanes) != 0 {
		t.Errorf("garbage file's window has lanes: %+v", c.Lanes)
	}
}

// TestBigCloseWhileIndexing closes the server while a trace is still being
// indexed: Close must stop the indexing goroutine and wait for it (goleak
// checks that nothing is left).
func TestBigCloseWhileIndexing(t *testing.T) {
	path := recordBig(t, t.TempDir(), 100, 100000)
	srv := NewServer(Options{Logf: t.Logf, Big: []BigTrace{{Path: path}}})
	done := make(chan struct{})
	go func() {
		srv.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return while indexing")
	}
	select {
	case <-srv.big[0].x.Done():
	default:
		t.Error("the index is not done after Close")
	}
}

// TestBigWindowMeasure measures window answers on a large trace given with
// -bigtrace: their size, and the time to answer and to write them.
func TestBigWindowMeasure(t *testing.T) {
	if *bigFile == "" {
		t.Skip("give -bigtrace FILE to measure")
	}
	x, err := index.Open(t.Context(), *bigFile, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := x.Stats().Now
	for _, q := range []index.Query{
		{Start: 0, End: now, Pixels: 1920, Count: 50},
		{Start: now / 2, End: now/2 + now/100, Pixels: 1920, Count: 50},
		{Start: now / 2, End: now/2 + now/10000, Pixels: 1920, Count: 50},
		{Start: 0, End: now, Pixels: 1920, First: 2000, Count: 50},
	} {
		t0 := time.Now()
		w := x.Window(q)
		query := time.Since(t0)
		t1 := time.Now()
		compact := appendWindow(nil, w, q.First, x.LaneCount(false))
		enc := time.Since(t1)
		t2 := time.Now()
		objects, _ := json.Marshal(w)
		objEnc := time.Since(t2)
		spans := 0
		for _, l := range w.Lanes {
			spans += len(l.Spans)
		}
		t.Logf("window %d..%d ns at %d px, lanes %d+%d: %d spans; query %v; compact %d bytes in %v; objects %d bytes in %v",
			q.Start, q.End, q.Pixels, q.First, q.Count, spans, query, len(compact), enc, len(objects), objEnc)
	}
}

// clipText shortens a long text for a failure message.
func clipText(s string) string {
	if len(s) > 600 {
		return s[:600] + "…"
	}
	return s
}

// apiErrorCase is a request that must fail: its status, and a part of its
// error's text.
type apiErrorCase struct {
	path, want string
	status     int
}

// checkAPIErrors sends each case's GET to base and checks its status and
// error text.
func checkAPIErrors(t *testing.T, base string, cases []apiErrorCase) {
	t.Helper()
	for _, c := range cases {
		resp, err := http.Get(base + c.path)
		if err != nil {
			t.Fatal(err)
		}
		var e apiError
		json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != c.status || !strings.Contains(e.Error, c.want) {
			t.Errorf("GET %.80s: %d %q, want %d with %q", c.path, resp.StatusCode, e.Error, c.status, c.want)
		}
	}
}

// findFixture is a trace of many generations for the lane filter's tests,
// its finished index, and the name most of its lanes have (the goroutines
// each batch starts, which keep coming while the trace is indexed).
func findFixture(t *testing.T) (path string, data []byte, final *index.Index, common string) {
	t.Helper()
	path = generationsTrace(t, t.TempDir())
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	final, err = index.Open(t.Context(), path, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, l := range final.Lanes(0, final.LaneCount(false), false) {
		count[l.Name]++
	}
	for name, n := range count {
		if n > count[common] {
			common = name
		}
	}
	return path, data, final, common
}
