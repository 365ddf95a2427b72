package index

import "github.com/concviz/concviz/tracer"

// Span is one span of a window: a span of the trace, or several short ones
// merged into one that a view draws as a single pixel or so.
type Span struct {
	Start int64        `json:"start"`
	End   int64        `json:"end"`
	State tracer.State `json:"state"`
	// Reason and Stack are the span's, as in tracer.Span; a merged span
	// has neither (Stack is tracer.NoStack).
	Reason string `json:"reason,omitempty"`
	Stack  int    `json:"stack"`
	// Merged counts the spans of the trace a merged span stands for; it is
	// 0 for a span of the trace itself. State is then the state that
	// covered most of the merged time.
	Merged int `json:"merged,omitempty"`
	// Mixed says that no state covered half of a merged span's time: the
	// view should draw it as a mixture rather than in State's colour.
	Mixed bool `json:"mixed,omitempty"`
}

// Query asks for a window of the timeline.
type Query struct {
	// Start and End bound the window, in nanoseconds since the first
	// event; spans that overlap [Start, End) are returned whole.
	Start, End int64
	// Pixels is the window's width on screen. Consecutive spans shorter
	// than a pixel ((End-Start)/Pixels) are merged; with Pixels <= 0
	// nothing is.
	Pixels int
	// First and Count select the lanes by position in the lane list, as
	// Lanes does. IDs, if not empty, selects lanes by goroutine id instead,
	// in that order; unknown ids are left out.
	First, Count int
	IDs          []int64
	// Hidden counts hidden lanes in positions.
	Hidden bool
}

// LaneWindow is the spans of one lane in a window.
type LaneWindow struct {
	ID    int64  `json:"id"`
	Spans []Span `json:"spans"`
}

// Window is the answer to a Query.
type Window struct {
	Start  int64 `json:"start"`
	End    int64 `json:"end"`
	Pixels int   `json:"pixels"`
	// Resolution is the width of a pixel in nanoseconds (0 when nothing
	// was merged).
	Resolution int64 `json:"resolution_ns"`
	// Now is the end of the indexed prefix, where open spans end; Done
	// says that the whole trace is indexed.
	Now   int64        `json:"now_ns"`
	Done  bool         `json:"done"`
	Lanes []LaneWindow `json:"lanes"`
}

// Window answers a query from the part of the trace indexed so far.
func (x *Index) Window(q Query) Window {
	x.mu.RLock()
	defer x.mu.RUnlock()
	w := Window{Start: q.Start, End: q.End, Pixels: q.Pixels, Now: x.now(), Done: x.finished, Lanes: []LaneWindow{}}
	if q.Pixels > 0 && q.End > q.Start {
		w.Resolution = max((q.End-q.Start)/int64(q.Pixels), 1)
	}
	add := func(ln *lane) {
		w.Lanes = append(w.Lanes, LaneWindow{ID: ln.id, Spans: x.laneWindow(ln, q.Start, q.End, w.Resolution)})
	}
	if len(q.IDs) > 0 {
		for _, id := range q.IDs {
			if i, ok := x.byID[id]; ok {
				add(x.lanes[i])
			}
		}
		return w
	}
	for _, i := range x.laneRange(q.First, q.Count, q.Hidden) {
		add(x.lanes[i])
	}
	return w
}

// spanIter walks the spans of a lane in order: its closed spans, then its
// open one, which ends at now. It runs with x.mu held.
type spanIter struct {
	c   cursor
	ln  *lane
	now int64
	// The next closed span, decoded ahead to know where the one before
	// it ends.
	ps       int64
	pk       uint32
	pok      bool
	openDone bool
}

// iter returns an iterator from the last span that starts at or before t.
func (x *Index) iter(ln *lane, t int64) spanIter {
	it := spanIter{c: ln.spans.seek(&x.arena, t), ln: ln, now: x.now()}
	it.ps, it.pk, it.pok = it.c.next()
	return it
}

// next returns the next span.
func (it *spanIter) next() (start, end int64, k uint32, ok bool) {
	if !it.pok {
		if it.openDone || !it.ln.hasCur {
			return 0, 0, 0, false
		}
		it.openDone = true
		return it.ln.curStart, it.now, it.ln.cur, true
	}
	start, k = it.ps, it.pk
	it.ps, it.pk, it.pok = it.c.next()
	end = it.ln.curStart
	if it.pok {
		end = it.ps
	}
	return start, end, k, true
}

// segmentAhead reports the segment whose first span is the next one, with
// its bounds, when there is such a segment of at least two spans.
func (it *spanIter) segmentAhead() (seg int, start, end int64, ok bool) {
	l := &it.ln.spans
	seg = it.c.seg
	if !it.pok || seg >= len(l.segs) || it.c.left != l.count(seg)-1 || it.c.left < 1 {
		return 0, 0, 0, false
	}
	end = it.ln.curStart
	if seg+1 < len(l.segs) {
		end = l.segs[seg+1].first
	}
	return seg, l.segs[seg].first, end, true
}

// skipSegment moves past the segment that segmentAhead reported.
func (it *spanIter) skipSegment() {
	it.c.left = 0
	it.ps, it.pk, it.pok = it.c.next()
}

// laneWindow returns the spans of a lane that overlap [start, end), with
// consecutive spans shorter than res merged. A merged span gathers short
// spans that begin in the same pixel of an absolute grid (multiples of res
// since the first event), so that panning by whole pixels does not change
// how spans merge. A segment of spans that lies within one pixel is merged
// from its state sum, without decoding it. It runs with x.mu held.
func (x *Index) laneWindow(ln *lane, start, end, res int64) []Span {
	out := []Span{}
	var g group
	it := x.iter(ln, start)
	for {
		if res > 0 {
			if seg, s, e, ok := it.segmentAhead(); ok && s >= start && e < end && e > s && s/res == (e-1)/res {
				if g.n > 0 && s/res != g.pixel {
					out = g.flush(out)
				}
				g.addSum(s, e, ln.spans.count(seg), &ln.spans.sums[seg], res)
				it.skipSegment()
				continue
			}
		}
		s, e, k, ok := it.next()
		if !ok || s >= end {
			break
		}
		if e < start || e == start && s < start {
			continue
		}
		kd := x.kinds[k]
		if res <= 0 || e-s >= res {
			out = g.flush(out)
			out = append(out, Span{Start: s, End: e, State: kd.state, Reason: kd.reason, Stack: kd.stack})
			continue
		}
		if g.n > 0 && s/res != g.pixel {
			out = g.flush(out)
		}
		g.add(s, e, kd, res)
	}
	return g.flush(out)
}

// group is a run of short spans being merged.
type group struct {
	n     int
	pixel int64
	first Span
	end   int64
	dur   stateSum
}

// addSum adds a whole segment of n spans, [s, e), whose time per state is
// sum.
func (g *group) addSum(s, e int64, n int, sum *stateSum, res int64) {
	if g.n == 0 {
		g.pixel = s / res
		// The first span of the group is only used when it holds one.
		g.first = Span{Start: s, End: e, Stack: tracer.NoStack}
		g.dur = stateSum{}
	}
	g.n += n
	g.end = e
	for i, d := range sum {
		g.dur[i] += d
	}
}

func (g *group) add(s, e int64, k kind, res int64) {
	if g.n == 0 {
		g.pixel = s / res
		g.first = Span{Start: s, End: e, State: k.state, Reason: k.reason, Stack: k.stack}
		g.dur = stateSum{}
	}
	g.n++
	g.end = e
	if k.state < tracer.StateLast {
		g.dur[k.state] += e - s
	}
}

// flush appends the group to out, as the one span it holds or as a merged
// span, and empties it.
func (g *group) flush(out []Span) []Span {
	switch g.n {
	case 0:
		return out
	case 1:
		g.n = 0
		return append(out, g.first)
	}
	best, total := g.first.State, int64(0)
	for st, d := range g.dur {
		total += d
		if d > g.dur[best] {
			best = tracer.State(st)
		}
	}
	out = append(out, Span{Start: g.first.Start, End: g.end, State: best, Stack: tracer.NoStack,
		Merged: g.n, Mixed: total > 0 && 2*g.dur[best] < total})
	g.n = 0
	return out
}
