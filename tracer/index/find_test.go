package index

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/trace"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// findTrace traces goroutines started in two functions of distinct names,
// alpha of them in findAlphaWorker and beta in findBetaWorker, each
// blocking once, so that a search for either name has a known answer.
func findTrace(t *testing.T, alpha, beta int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := trace.Start(&buf); err != nil {
		t.Fatalf("start trace: %v", err)
	}
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for range alpha {
		wg.Add(1)
		go findAlphaWorker(gate, &wg)
	}
	for range beta {
		wg.Add(1)
		go findBetaWorker(gate, &wg)
	}
	close(gate)
	wg.Wait()
	trace.Stop()
	return buf.Bytes()
}

func findAlphaWorker(gate chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	<-gate
}

func findBetaWorker(gate chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	<-gate
	time.Sleep(time.Microsecond)
}

func TestFind(t *testing.T) {
	const alpha, beta = 40, 25
	x := build(t, findTrace(t, alpha, beta))
	all := x.Lanes(0, x.LaneCount(false), false)

	// byName is what a search for text should find, from the lane list.
	byName := func(text string) []Lane {
		var out []Lane
		for _, l := range all {
			if strings.Contains(strings.ToLower(l.Name), strings.ToLower(text)) {
				out = append(out, l)
			}
		}
		return out
	}

	t.Run("names", func(t *testing.T) {
		for _, c := range []struct {
			match string
			want  int
		}{
			{"findAlphaWorker", alpha},
			{"FINDALPHAWORKER", alpha},
			{"  findbetaworker ", beta},
			{"Worker", alpha + beta},
			{"no goroutine is called this", 0},
		} {
			total, got := x.Find(c.match, 0, MaxLanes)
			if total != c.want || len(got) != c.want {
				t.Errorf("Find(%q): total %d, %d lanes; want %d", c.match, total, len(got), c.want)
				continue
			}
			if want := byName(strings.TrimSpace(c.match)); !slices.Equal(got, want) && len(want) > 0 {
				t.Errorf("Find(%q) = %+v, want the lanes in order of appearance %+v", c.match, got, want)
			}
		}
	})

	t.Run("empty matches every lane", func(t *testing.T) {
		total, got := x.Find("", 0, MaxLanes)
		if total != len(all) || !slices.Equal(got, all[:min(len(all), MaxLanes)]) {
			t.Errorf("Find(\"\"): total %d, want the %d lanes of Lanes", total, len(all))
		}
	})

	t.Run("goroutine id", func(t *testing.T) {
		target := byName("findBetaWorker")[beta/2]
		for _, match := range []string{fmt.Sprint(target.ID), fmt.Sprintf("G%d", target.ID), fmt.Sprintf("g%d", target.ID)} {
			_, got := x.Find(match, 0, MaxLanes)
			if !slices.Contains(got, target) {
				t.Errorf("Find(%q) = %+v, want G%d among them", match, got, target.ID)
			}
			for _, l := range got {
				if l.ID != target.ID && !strings.Contains(strings.ToLower(l.Name), strings.ToLower(match)) {
					t.Errorf("Find(%q) found G%d %q, which neither is the goroutine nor has the text in its name", match, l.ID, l.Name)
				}
			}
		}
		// A hidden goroutine's id does not find it: the view never shows it.
		for _, l := range x.Lanes(0, x.LaneCount(true), true) {
			if !l.Hidden {
				continue
			}
			if _, got := x.Find(fmt.Sprint(l.ID), 0, MaxLanes); slices.ContainsFunc(got, func(g Lane) bool { return g.ID == l.ID }) {
				t.Errorf("Find found the hidden lane G%d %q", l.ID, l.Name)
			}
			break
		}
	})

	t.Run("pages", func(t *testing.T) {
		total, whole := x.Find("worker", 0, MaxLanes)
		for _, p := range [][2]int{{0, 1}, {3, 7}, {total - 2, 5}, {total, 5}, {total + 10, 5}, {-4, 3}, {2, 0}} {
			n, got := x.Find("worker", p[0], p[1])
			lo := min(max(p[0], 0), total)
			want := whole[lo:min(lo+max(p[1], 0), total)]
			if n != total || !slices.Equal(got, want) {
				t.Errorf("Find(worker, %d, %d): total %d, %d lanes; want %d, %d", p[0], p[1], n, len(got), total, len(want))
			}
		}
	})

	t.Run("long or odd text", func(t *testing.T) {
		long := strings.Repeat("é", MaxMatch)
		if total, _ := x.Find(long, 0, 10); total != 0 {
			t.Errorf("a long search found %d lanes", total)
		}
		for _, match := range []string{"+1", "-1", "G", "G-3", "ÅlphaWorker"} {
			total, got := x.Find(match, 0, MaxLanes)
			if want := len(byName(match)); total != want || len(got) != want {
				t.Errorf("Find(%q): total %d, want %d", match, total, want)
			}
		}
	})
}

// TestFindWhileBuilding searches the index while Build adds to it: every
// answer is a prefix of the final one, since new lanes come last.
func TestFindWhileBuilding(t *testing.T) {
	data := findTrace(t, 300, 300)
	x := New()
	done := make(chan error, 1)
	go func() { done <- x.Build(context.Background(), bytes.NewReader(data), Options{}) }()
	var seen [][]Lane
	for {
		_, got := x.Find("findBetaWorker", 0, MaxLanes)
		seen = append(seen, got)
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			total, final := x.Find("findBetaWorker", 0, MaxLanes)
			if total != 300 {
				t.Fatalf("after Build: %d matches, want 300", total)
			}
			for _, s := range seen {
				for i, l := range s {
					if l.ID != final[i].ID {
						t.Fatalf("a search during Build found G%d at %d, the final answer has G%d there", l.ID, i, final[i].ID)
					}
				}
			}
			t.Logf("%d searches during Build", len(seen))
			return
		default:
		}
	}
}

var findFlag = flag.Bool("findbig", false, "time Find on the trace named by CONCVIZ_BIG_TRACE (TestFindBig)")

// TestFindBig times searches over every lane of the trace named by
// CONCVIZ_BIG_TRACE: go test ./tracer/index -run TestFindBig -findbig -v.
func TestFindBig(t *testing.T) {
	path := os.Getenv("CONCVIZ_BIG_TRACE")
	if !*findFlag || path == "" {
		t.Skip("give -findbig and set CONCVIZ_BIG_TRACE to a trace file")
	}
	start := time.Now()
	x, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("indexed %d lanes (%d visible) in %.1f s", x.LaneCount(true), x.LaneCount(false), time.Since(start).Seconds())
	lanes := x.Lanes(0, x.LaneCount(false), false)
	mid := lanes[len(lanes)/2]
	for _, match := range []string{"", "main", "nothing matches this", fmt.Sprintf("G%d", mid.ID), strings.ToUpper(mid.Name), "é"} {
		const n = 50
		var total int
		times := make([]time.Duration, n)
		for i := range n {
			t0 := time.Now()
			total, _ = x.Find(match, 0, 50)
			times[i] = time.Since(t0)
		}
		slices.Sort(times)
		t.Logf("Find(%q): %d matches, p50 %v, max %v", match, total, times[n/2], times[n-1])
	}
	// What a filtered view's window costs: the ids of a screen of matches,
	// then their spans over the whole trace at 1920 pixels.
	now := x.Stats().Now
	for _, match := range []string{"main", strings.ToUpper(mid.Name)} {
		const n = 20
		times := make([]time.Duration, n)
		spans := 0
		for i := range n {
			t0 := time.Now()
			_, ids := x.FindIDs(match, 100, 60)
			w := x.Window(Query{Start: 0, End: now, Pixels: 1920, IDs: ids})
			times[i] = time.Since(t0)
			spans = 0
			for _, l := range w.Lanes {
				spans += len(l.Spans)
			}
		}
		slices.Sort(times)
		t.Logf("FindIDs(%q, 100, 60) and their window at 1920 px (%d spans): p50 %v, max %v", match, spans, times[n/2], times[n-1])
	}
}
