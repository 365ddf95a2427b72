package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime/trace"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/concviz/concviz/tracer/index"
)

// recordNamed traces goroutines started in two functions of distinct
// names, alpha in bigFindAlpha and beta in bigFindBeta, beside the busy
// pairs of recordBig, and writes the trace into a file of dir.
func recordNamed(t *testing.T, dir string, alpha, beta int) string {
	t.Helper()
	var buf bytes.Buffer
	if err := trace.Start(&buf); err != nil {
		t.Fatalf("start trace: %v", err)
	}
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for range alpha {
		wg.Add(1)
		go bigFindAlpha(gate, &wg)
	}
	for range beta {
		wg.Add(1)
		go bigFindBeta(gate, &wg)
	}
	ping, pong := make(chan int), make(chan int)
	wg.Go(func() {
		for i := range 2000 {
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
	close(gate)
	wg.Wait()
	trace.Stop()
	path := filepath.Join(dir, "named.trace")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func bigFindAlpha(gate chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	<-gate
}

func bigFindBeta(gate chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	<-gate
	time.Sleep(time.Microsecond)
}

func TestBigFind(t *testing.T) {
	const alpha, beta = 120, 30
	srv, base := bigServer(t, recordNamed(t, t.TempDir(), alpha, beta))
	in := waitIndexed(t, base, "1")
	x := srv.big[0].x

	t.Run("lanes", func(t *testing.T) {
		for _, c := range []struct {
			match        string
			first, count int
			want         int
		}{
			{"bigFindAlpha", 0, 1000, alpha},
			{"BIGFINDBETA", 0, 1000, beta},
			{"bigfindalpha", 100, 50, alpha},
			{"no such goroutine", 0, 10, 0},
		} {
			var got BigLanes
			getJSON(t, fmt.Sprintf("%s/api/big/1/lanes?match=%s&first=%d&count=%d", base, url.QueryEscape(c.match), c.first, c.count), &got)
			total, want := x.Find(c.match, c.first, c.count)
			if got.Total != c.want || total != c.want || got.All != in.Lanes || got.First != c.first {
				t.Errorf("lanes matching %q: total %d all %d first %d; want %d, %d, %d", c.match, got.Total, got.All, got.First, c.want, in.Lanes, c.first)
			}
			if !slices.Equal(got.Lanes, want) {
				t.Errorf("lanes matching %q from %d: %d lanes, want the index's %d", c.match, c.first, len(got.Lanes), len(want))
			}
			for _, l := range got.Lanes {
				if !strings.Contains(strings.ToLower(l.Name), strings.ToLower(c.match)) {
					t.Errorf("lane G%d %q does not match %q", l.ID, l.Name, c.match)
				}
			}
		}
		// Without a match, or with a blank one, every lane is listed.
		for _, q := range []string{"", "&match=", "&match=%20%20"} {
			var got BigLanes
			getJSON(t, base+"/api/big/1/lanes?first=0&count=5"+q, &got)
			if got.Total != in.Lanes || got.All != in.Lanes || !slices.Equal(got.Lanes, x.Lanes(0, 5, false)) {
				t.Errorf("lanes?%s: total %d all %d, want every lane (%d)", q, got.Total, got.All, in.Lanes)
			}
		}
	})

	t.Run("goroutine id", func(t *testing.T) {
		_, betas := x.Find("bigFindBeta", 0, 1000)
		target := betas[len(betas)/2]
		for _, m := range []string{fmt.Sprint(target.ID), fmt.Sprintf("G%d", target.ID)} {
			var got BigLanes
			getJSON(t, base+"/api/big/1/lanes?match="+m, &got)
			if !slices.Contains(got.Lanes, target) {
				t.Errorf("lanes?match=%s: %+v, want G%d among them", m, got.Lanes, target.ID)
			}
		}
	})

	t.Run("window", func(t *testing.T) {
		now := in.Stats.Now
		_, ids := x.FindIDs("bigFindBeta", 5, 10)
		var c compactWindow
		getJSON(t, fmt.Sprintf("%s/api/big/1/window?start=0&end=%d&px=600&first=5&count=10&match=bigfindbeta", base, now), &c)
		if c.Total != beta || c.First != 5 || len(c.Lanes) != 10 {
			t.Fatalf("window of matches: total %d first %d, %d lanes; want %d, 5, 10", c.Total, c.First, len(c.Lanes), beta)
		}
		got := c.decode()
		want := x.Window(index.Query{Start: 0, End: now, Pixels: 600, IDs: ids})
		b1, _ := json.Marshal(got)
		b2, _ := json.Marshal(want)
		if !bytes.Equal(b1, b2) {
			t.Errorf("window of matches decodes to\n%s\nwant the index's window of their ids\n%s", clipText(string(b1)), clipText(string(b2)))
		}
		spans := 0
		for _, l := range got.Lanes {
			spans += len(l.Spans)
		}
		if spans == 0 {
			t.Error("the window of matches has no spans")
		}

		var none compactWindow
		getJSON(t, fmt.Sprintf("%s/api/big/1/window?start=0&end=%d&px=600&match=nothing+matches+this", base, now), &none)
		if none.Total != 0 || len(none.Lanes) != 0 {
			t.Errorf("window matching nothing: total %d, %d lanes; want none", none.Total, len(none.Lanes))
		}
		var past compactWindow
		getJSON(t, fmt.Sprintf("%s/api/big/1/window?start=0&end=%d&px=600&first=%d&match=bigFindBeta", base, now, beta), &past)
		if past.Total != beta || len(past.Lanes) != 0 {
			t.Errorf("window past the matches: total %d, %d lanes; want %d, none", past.Total, len(past.Lanes), beta)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		long := strings.Repeat("x", index.MaxMatch+1)
		checkAPIErrors(t, base, []apiErrorCase{
			{"/api/big/1/lanes?match=" + long, "parameter match", 400},
			{"/api/big/1/window?start=0&end=10&px=10&match=" + long, "parameter match", 400},
			{"/api/big/1/lanes?match=a&count=0", "count=0", 400},
			{"/api/big/9/lanes?match=a", "no indexed trace", 404},
		})
	})
}

// TestBigFindWhileIndexing searches a trace of many generations while the
// server indexes it: the matches grow, every answer's lanes are matches of
// the final answer in its order, and a window of matches counts them as
// they come.
func TestBigFindWhileIndexing(t *testing.T) {
	path, data, final, match := findFixture(t)
	wantTotal, want := final.Find(match, 0, index.MaxLanes)
	if wantTotal < 100 || wantTotal >= final.LaneCount(false) {
		t.Fatalf("%q names %d of %d lanes; want many, but not all", match, wantTotal, final.LaneCount(false))
	}

	gate := make(chan struct{})
	release := sync.OnceFunc(func() { close(gate) })
	t.Cleanup(release)
	slow := func(r io.Reader) io.Reader { return &slowReader{r: r, rate: float64(len(data)) / 2, gate: gate} }
	srv := NewServer(Options{Logf: t.Logf, Big: []BigTrace{{Path: path, wrap: slow}}})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	t.Cleanup(srv.Close)
	release()

	q := url.QueryEscape(match)
	totals := []int{}
	for {
		var in BigInfo
		getJSON(t, ts.URL+"/api/big/1", &in)
		var got BigLanes
		getJSON(t, ts.URL+"/api/big/1/lanes?count=1000&match="+q, &got)
		if got.Total < slices.Max(append([]int{0}, totals...)) || got.Total > got.All {
			t.Fatalf("matches went from %v to %d (of %d)", totals, got.Total, got.All)
		}
		// Every match is one of the whole trace's, in the same order; a
		// lane that sync.WaitGroup.Go started joins the matches once a
		// stack names its function, so one may come in among earlier ones.
		at := -1
		for _, l := range got.Lanes {
			i := slices.IndexFunc(want, func(w index.Lane) bool { return w.ID == l.ID })
			if i <= at {
				t.Fatalf("while indexing, G%d is a match out of the whole trace's order (or not one of its %d matches)", l.ID, len(want))
			}
			at = i
		}
		if len(totals) == 0 || totals[len(totals)-1] != got.Total {
			totals = append(totals, got.Total)
		}
		if in.Stats.Done {
			var c compactWindow
			getJSON(t, fmt.Sprintf("%s/api/big/1/window?start=0&end=%d&px=100&count=20&match=%s", ts.URL, in.Stats.Now, q), &c)
			if got.Total != wantTotal || c.Total != wantTotal || len(c.Lanes) != 20 {
				t.Errorf("once indexed: %d matches, window total %d with %d lanes; want %d, %d, 20", got.Total, c.Total, len(c.Lanes), wantTotal, wantTotal)
			}
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("matches of %q while indexing: %v", match, totals)
	if len(totals) < 3 {
		t.Errorf("matches seen while indexing: %v; want them to grow in steps", totals)
	}
}
