package index

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/concviz/concviz/tracer"
	"golang.org/x/exp/trace"
)

// lanesOf builds an index by hand: each lane is a goroutine id, a name and
// its spans, given as contiguous (start, state) steps; the trace ends at
// end.
type step struct {
	t      int64
	state  tracer.State
	reason string
}

func handmade(end int64, lanes ...handLane) *Index {
	x := handmadeOpen(end, lanes...)
	x.finish(nil)
	return x
}

// handmadeOpen is handmade without the end of the build: the last segment
// of each lane is still in its buffer.
func handmadeOpen(end int64, lanes ...handLane) *Index {
	x := New()
	x.started, x.start, x.last = true, 0, trace.Time(end)
	for _, hl := range lanes {
		ln := x.addLane(trace.GoID(hl.id), hl.name, 0, tracer.NoStack)
		for _, s := range hl.steps {
			x.setState(ln, s.t, x.kindID(kind{s.state, s.reason, tracer.NoStack}), tracer.NoStack)
		}
	}
	return x
}

type handLane struct {
	id    int64
	name  string
	steps []step
}

const (
	run  = tracer.StateRunning
	recv = tracer.StateBlockedRecv
	slp  = tracer.StateSleep
	mtx  = tracer.StateBlockedMutex
)

func TestWindowBoundaries(t *testing.T) {
	x := handmade(100, handLane{1, "main.a", []step{{0, run, ""}, {10, recv, "chan receive"}, {20, run, ""}, {30, slp, "sleep"}}})
	tests := []struct {
		start, end int64
		want       []Span
	}{
		{0, 100, []Span{{0, 10, run, "", -1, 0, false}, {10, 20, recv, "chan receive", -1, 0, false}, {20, 30, run, "", -1, 0, false}, {30, 100, slp, "sleep", -1, 0, false}}},
		// A span that ends where the window starts is left out, one that
		// starts where it ends too; spans that stick out are whole.
		{10, 20, []Span{{10, 20, recv, "chan receive", -1, 0, false}}},
		{15, 25, []Span{{10, 20, recv, "chan receive", -1, 0, false}, {20, 30, run, "", -1, 0, false}}},
		{50, 60, []Span{{30, 100, slp, "sleep", -1, 0, false}}},
		{100, 200, []Span{}},
		{-50, 0, []Span{}},
	}
	for _, tt := range tests {
		w := x.Window(Query{Start: tt.start, End: tt.end, Count: 1})
		if len(w.Lanes) != 1 {
			t.Fatalf("[%d,%d): got %d lanes, want 1", tt.start, tt.end, len(w.Lanes))
		}
		if got := w.Lanes[0].Spans; !reflect.DeepEqual(got, tt.want) {
			t.Errorf("[%d,%d):\n got %+v\nwant %+v", tt.start, tt.end, got, tt.want)
		}
	}
}

func TestWindowMerges(t *testing.T) {
	// A long sleep, then 40 spans of 10 ns (7 running, 3 blocked, over and
	// over), then three states of 10 ns each, then a lone short span
	// between two long ones.
	var steps []step
	steps = append(steps, step{0, slp, "sleep"})
	for i := range 20 {
		t0 := 1000 + int64(i)*10
		steps = append(steps, step{t0, run, ""}, step{t0 + 7, recv, "chan receive"})
	}
	// 1200..1230: three states, none of them half of the time.
	steps = append(steps, step{1200, mtx, "sync"}, step{1210, slp, "sleep"}, step{1220, run, ""})
	steps = append(steps, step{1230, recv, "chan receive"}, step{2000, slp, "sleep"}, step{2005, run, ""})
	x := handmade(3000, handLane{7, "main.w", steps})
	// 3000 ns on 30 pixels: a pixel is 100 ns.
	w := x.Window(Query{Start: 0, End: 3000, Pixels: 30, Count: 1})
	if w.Resolution != 100 {
		t.Fatalf("resolution: got %d, want 100", w.Resolution)
	}
	got := w.Lanes[0].Spans
	want := []Span{
		{0, 1000, slp, "sleep", -1, 0, false},
		// The 1000..1100 pixel: ten pairs, running 70% of the time.
		{1000, 1100, run, "", -1, 20, false},
		{1100, 1200, run, "", -1, 20, false},
		// 1200..1230 in the same pixel as nothing else short: mixed.
		{1200, 1230, mtx, "", -1, 3, true},
		{1230, 2000, recv, "chan receive", -1, 0, false},
		// A lone short span stays itself, with its reason.
		{2000, 2005, slp, "sleep", -1, 0, false},
		{2005, 3000, run, "", -1, 0, false},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("merged window:\n got %+v\nwant %+v", got, want)
	}
	// Without pixels nothing is merged.
	raw := x.Window(Query{Start: 0, End: 3000, Count: 1}).Lanes[0].Spans
	if n := len(raw); n != len(steps) {
		t.Errorf("unmerged: got %d spans, want %d", n, len(steps))
	}
}

// TestWindowProperties checks, on a long random lane crossing many
// segments, that every window answers with ordered contiguous spans that
// account for each raw span overlapping it exactly once, whose merged spans
// carry a state that covered the most time, and whose unmerged spans are
// the raw ones.
func TestWindowProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	states := []tracer.State{run, recv, slp, mtx, tracer.StateRunnable}
	var steps []step
	now := int64(0)
	for range 20000 {
		st := states[rng.IntN(len(states))]
		if len(steps) > 0 && steps[len(steps)-1].state == st {
			continue
		}
		steps = append(steps, step{now, st, ""})
		switch {
		case rng.IntN(200) == 0:
			// Far longer than the rest: it gets a segment of its own.
			now += 10_000_000 + rng.Int64N(1_000_000)
		case rng.IntN(10) == 0:
			now += rng.Int64N(100000)
		default:
			now += rng.Int64N(100)
		}
	}
	for _, finished := range []bool{false, true} {
		x := handmadeOpen(now, handLane{1, "main.r", steps})
		if finished {
			x.finish(nil)
		}
		checkLane(t, x, steps, now, rng)
	}
}

func checkLane(t *testing.T, x *Index, steps []step, now int64, rng *rand.Rand) {
	l := &x.lanes[0].spans
	if segs := len(l.segs); segs < 10 {
		t.Fatalf("the lane has only %d segments; the test wants many", segs)
	}
	single := 0
	for i := range l.segs {
		if l.count(i) == 1 {
			single++
		}
	}
	if single == 0 {
		t.Fatalf("no span has a segment of its own; the test wants some")
	}
	raw := x.Window(Query{Start: 0, End: now, Count: 1}).Lanes[0].Spans
	if len(raw) != len(steps) {
		t.Fatalf("got %d raw spans, want %d", len(raw), len(steps))
	}
	for i, s := range raw {
		if s.Start != steps[i].t || s.State != steps[i].state {
			t.Fatalf("raw span %d: got %+v, want start %d state %v", i, s, steps[i].t, steps[i].state)
		}
	}
	for range 300 {
		a, b := rng.Int64N(now), rng.Int64N(now)
		if a > b {
			a, b = b, a
		}
		if a == b {
			b++
		}
		pixels := 1 + rng.IntN(2000)
		w := x.Window(Query{Start: a, End: b, Pixels: pixels, Count: 1})
		checkWindow(t, raw, a, b, w.Resolution, w.Lanes[0].Spans)
	}
	// Zoomed out so far that whole segments fit in a pixel, which merges
	// them from their state sums.
	for _, pixels := range []int{1, 2, 3, 7, 10, 20} {
		for _, a := range []int64{0, 1, now / 3} {
			w := x.Window(Query{Start: a, End: now + 1, Pixels: pixels, Count: 1})
			checkWindow(t, raw, a, now+1, w.Resolution, w.Lanes[0].Spans)
		}
	}
}

func checkWindow(t *testing.T, raw []Span, a, b, res int64, got []Span) {
	t.Helper()
	var want []Span
	for _, s := range raw {
		if s.End > a && s.Start < b {
			want = append(want, s)
		}
	}
	n, j := 0, 0
	for i, s := range got {
		if i > 0 && s.Start != got[i-1].End {
			t.Fatalf("[%d,%d) at %d ns/px: span %d starts at %d, the previous ends at %d", a, b, res, i, s.Start, got[i-1].End)
		}
		if s.Merged == 0 {
			if s != want[j] {
				t.Fatalf("[%d,%d): span %d: got %+v, want the raw %+v", a, b, i, s, want[j])
			}
			n, j = n+1, j+1
			continue
		}
		if s.Merged < 2 || s.End-s.Start >= 2*res {
			t.Fatalf("[%d,%d) at %d ns/px: merged span %+v", a, b, res, s)
		}
		var dur [tracer.StateLast]int64
		var total int64
		for _, r := range want[j : j+s.Merged] {
			if r.End-r.Start >= res {
				t.Fatalf("[%d,%d): merged span %+v swallowed the long %+v", a, b, s, r)
			}
			dur[r.State] += r.End - r.Start
			total += r.End - r.Start
		}
		if want[j].Start != s.Start || want[j+s.Merged-1].End != s.End {
			t.Fatalf("[%d,%d): merged span %+v does not cover its spans %+v", a, b, s, want[j:j+s.Merged])
		}
		for st, d := range dur {
			// Sums of whole segments are float32: allow for rounding.
			if float64(d-dur[s.State]) > 1e-6*float64(total) {
				t.Fatalf("[%d,%d): merged span %+v is %v, but %v covered more (%v)", a, b, s, s.State, tracer.State(st), dur)
			}
		}
		if mixed := 2*dur[s.State] < total; mixed != s.Mixed && math.Abs(float64(2*dur[s.State]-total)) > 1e-6*float64(total) {
			t.Fatalf("[%d,%d): merged span %+v: mixed should be %v (%v)", a, b, s, mixed, dur)
		}
		n += s.Merged
		j += s.Merged
	}
	if n != len(want) {
		t.Fatalf("[%d,%d): the window accounts for %d spans, want %d", a, b, n, len(want))
	}
}

func TestLaneOrder(t *testing.T) {
	x := handmade(100,
		handLane{5, "main.first", []step{{0, run, ""}}},
		handLane{2, "runtime.gcBgMarkWorker", []step{{1, run, ""}}},
		handLane{9, "main.second", []step{{2, run, ""}, {50, slp, "sleep"}}},
		handLane{3, "main.third", []step{{3, run, ""}}},
	)
	ids := func(ls []Lane) []int64 {
		var out []int64
		for _, l := range ls {
			out = append(out, l.ID)
		}
		return out
	}
	for _, tt := range []struct {
		first, count int
		hidden       bool
		want         []int64
	}{
		{0, 10, false, []int64{5, 9, 3}},
		{0, 10, true, []int64{5, 2, 9, 3}},
		{1, 1, false, []int64{9}},
		{1, 2, true, []int64{2, 9}},
		{3, 5, false, nil},
		{-1, 2, false, []int64{5, 9}},
	} {
		if got := ids(x.Lanes(tt.first, tt.count, tt.hidden)); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Lanes(%d, %d, %v): got %v, want %v", tt.first, tt.count, tt.hidden, got, tt.want)
		}
		w := x.Window(Query{Start: 0, End: 100, First: tt.first, Count: tt.count, Hidden: tt.hidden})
		var got []int64
		for _, l := range w.Lanes {
			got = append(got, l.ID)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Window lanes %d+%d hidden %v: got %v, want %v", tt.first, tt.count, tt.hidden, got, tt.want)
		}
	}
	if got, want := x.LaneCount(false), 3; got != want {
		t.Errorf("LaneCount: got %d, want %d", got, want)
	}
	w := x.Window(Query{Start: 0, End: 100, IDs: []int64{3, 42, 5}})
	if len(w.Lanes) != 2 || w.Lanes[0].ID != 3 || w.Lanes[1].ID != 5 {
		t.Errorf("Window by ids 3, 42, 5: got %+v, want lanes 3 and 5", w.Lanes)
	}
	if l := x.Lanes(1, 1, false)[0]; l.Name != "main.second" || l.Spans != 2 || l.Start != 2 {
		t.Errorf("lane 9: got %+v", l)
	}
}

// TestConcurrentQueries queries the index while Build runs, as a view does
// while a big file loads (run with -race): every answer is consistent, and
// time only moves forward.
func TestConcurrentQueries(t *testing.T) {
	data := record(t)
	x := New()
	errc := make(chan error, 1)
	go func() { errc <- x.Build(context.Background(), bytes.NewReader(data), Options{}) }()
	var last int64
	for done := false; !done; {
		select {
		case <-x.Done():
			done = true
		default:
		}
		w := x.Window(Query{Start: 0, End: 1 << 62, Pixels: 800, Count: 100})
		if w.Now < last {
			t.Fatalf("now went back from %d to %d", last, w.Now)
		}
		last = w.Now
		for _, l := range w.Lanes {
			for i, s := range l.Spans {
				if s.End > w.Now || s.End < s.Start || i > 0 && s.Start != l.Spans[i-1].End {
					t.Fatalf("G%d span %d: %+v (now %d)", l.ID, i, s, w.Now)
				}
			}
		}
		x.Lanes(0, 50, false)
		x.Stats()
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !x.Window(Query{}).Done {
		t.Error("the window of a finished index is not done")
	}
}

// TestWindowBounds checks that an oversized query is cut to size.
func TestWindowBounds(t *testing.T) {
	var lanes []handLane
	var ids []int64
	for i := range MaxLanes + 10 {
		lanes = append(lanes, handLane{int64(i + 1), "main.f", []step{{0, run, ""}}})
		ids = append(ids, int64(i+1))
	}
	x := handmade(10, lanes...)
	if n := len(x.Window(Query{End: 10, Count: 1 << 30}).Lanes); n != MaxLanes {
		t.Errorf("by position: got %d lanes, want %d", n, MaxLanes)
	}
	if n := len(x.Window(Query{End: 10, IDs: ids}).Lanes); n != MaxLanes {
		t.Errorf("by id: got %d lanes, want %d", n, MaxLanes)
	}
	if w := x.Window(Query{End: 1 << 40, Pixels: 1 << 30, Count: 1}); w.Pixels != MaxPixels || w.Resolution != (1<<40)/MaxPixels {
		t.Errorf("got %d pixels of %d ns, want %d pixels", w.Pixels, w.Resolution, MaxPixels)
	}
}
