package index

import (
	"encoding/binary"

	"github.com/concviz/concviz/tracer"
)

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

// The bounds of a query, which keep one answer to a few megabytes however
// it is asked: a view shows tens of lanes and a few thousand pixels.
const (
	MaxLanes  = 1000
	MaxPixels = 1 << 14
)

// Window answers a query from the part of the trace indexed so far. A
// query for more than MaxLanes lanes gets the first MaxLanes; one wider
// than MaxPixels is answered at MaxPixels.
func (x *Index) Window(q Query) Window {
	q.Count = min(q.Count, MaxLanes)
	q.IDs = q.IDs[:min(len(q.IDs), MaxLanes)]
	q.Pixels = min(q.Pixels, MaxPixels)
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

// spanIter walks the spans of a lane in order: its closed spans, segment
// by segment, then its open one, which ends at now. A segment's bytes are
// only read when one of its spans is asked for, so that skipping a segment
// costs nothing but its header. It runs with x.mu held.
type spanIter struct {
	a   *arena
	ln  *lane
	now int64
	// seg is the segment of the next span; loaded says that b and left
	// hold its undecoded bytes and spans, and ns the next span's start,
	// whose delta b no longer holds.
	seg      int
	loaded   bool
	b        []byte
	left     int
	ns       int64
	openDone bool
}

// iter returns an iterator from the start of the segment holding t, so
// that the spans it yields first may end before t.
func (x *Index) iter(ln *lane, t int64) spanIter {
	return spanIter{a: &x.arena, ln: ln, now: x.now(), seg: ln.spans.segmentAt(t)}
}

// uvarint decodes a varint, the one-byte case inline: kinds and many
// deltas are below 128.
func uvarint(b []byte) (uint64, int) {
	if len(b) > 0 && b[0] < 0x80 {
		return uint64(b[0]), 1
	}
	return binary.Uvarint(b)
}

// next returns the next span.
func (it *spanIter) next() (start, end int64, k uint32, ok bool) {
	l := &it.ln.spans
	if it.seg >= len(l.segs) {
		if it.openDone || !it.ln.hasCur {
			return 0, 0, 0, false
		}
		it.openDone = true
		return it.ln.curStart, it.now, it.ln.cur, true
	}
	if !it.loaded {
		it.b, it.left, it.loaded = l.segBytes(it.a, it.seg), l.count(it.seg), true
		d, n := uvarint(it.b)
		it.b = it.b[n:]
		it.ns = l.segs[it.seg].first + int64(d)
	}
	start = it.ns
	kk, n := uvarint(it.b)
	it.b = it.b[n:]
	it.left--
	if it.left > 0 {
		// The span ends where the next one in the segment starts.
		d, n := uvarint(it.b)
		it.b = it.b[n:]
		it.ns += int64(d)
		return start, it.ns, uint32(kk), true
	}
	// The last span of a segment ends where the next segment, or the open
	// span, starts.
	it.seg++
	it.loaded = false
	end = it.ln.curStart
	if it.seg < len(l.segs) {
		end = l.segs[it.seg].first
	}
	return start, end, uint32(kk), true
}

// segmentAhead reports the segment whose first span is the next one, with
// its bounds, when there is such a segment of at least two spans.
func (it *spanIter) segmentAhead() (seg int, start, end int64, ok bool) {
	l := &it.ln.spans
	seg = it.seg
	if it.loaded || seg >= len(l.segs) || l.count(seg) < 2 {
		return 0, 0, 0, false
	}
	end = it.ln.curStart
	if seg+1 < len(l.segs) {
		end = l.segs[seg+1].first
	}
	return seg, l.segs[seg].first, end, true
}

// skipSegment moves past the segment that segmentAhead reported.
func (it *spanIter) skipSegment() { it.seg++ }

// laneWindow returns the spans of a lane that overlap [start, end), with
// consecutive spans shorter than res merged. A merged span gathers short
// spans that begin in the same pixel of an absolute grid (multiples of res
// since the first event), so that panning by whole pixels does not change
// how spans merge. A whole segment of spans shorter than a pixel merges
// like one short span, from its state sum, without being decoded. It runs
// with x.mu held.
func (x *Index) laneWindow(ln *lane, start, end, res int64) []Span {
	out := []Span{}
	var g group
	it := x.iter(ln, start)
	for {
		if res > 0 {
			if seg, s, e, ok := it.segmentAhead(); ok && s >= start && e < end && e-s < res {
				if g.n > 0 && s/res != g.pixel {
					out = g.flush(out, x)
				}
				g.addSum(s, e, seg, &ln.spans, res)
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
		if res <= 0 || e-s >= res {
			out = g.flush(out, x)
			kd := &x.kinds[k]
			out = append(out, Span{Start: s, End: e, State: kd.state, Reason: kd.reason, Stack: kd.stack})
			continue
		}
		if g.n > 0 && s/res != g.pixel {
			out = g.flush(out, x)
		}
		g.add(s, e, k, x.kindState[k], res)
	}
	return g.flush(out, x)
}

// group is a run of short spans being merged.
type group struct {
	n     int
	pixel int64
	// The first span of the group, which is all a group of one shows.
	start, firstEnd int64
	firstKind       uint32
	// firstState wins ties for the dominant state.
	firstState tracer.State
	end        int64
	dur        stateSum
}

// addSum adds segment seg of l, [s, e).
func (g *group) addSum(s, e int64, seg int, l *spanList, res int64) {
	if g.n == 0 {
		g.pixel, g.start, g.firstState = s/res, s, tracer.StateNone
		g.dur = stateSum{}
	}
	g.n += l.count(seg)
	g.end = e
	l.sum(seg, &g.dur)
}

// add adds a span [s, e) of kind k and state st.
func (g *group) add(s, e int64, k uint32, st tracer.State, res int64) {
	if g.n == 0 {
		g.pixel, g.start = s/res, s
		g.firstEnd, g.firstKind, g.firstState = e, k, st
		g.dur = stateSum{}
	}
	g.n++
	g.end = e
	if st < tracer.StateLast {
		g.dur[st] += e - s
	}
}

// flush appends the group to out, as the one span it holds or as a merged
// span, and empties it.
func (g *group) flush(out []Span, x *Index) []Span {
	switch g.n {
	case 0:
		return out
	case 1:
		g.n = 0
		kd := &x.kinds[g.firstKind]
		return append(out, Span{Start: g.start, End: g.firstEnd, State: kd.state, Reason: kd.reason, Stack: kd.stack})
	}
	best, total := g.firstState, int64(0)
	for st, d := range g.dur {
		total += d
		if d > g.dur[best] {
			best = tracer.State(st)
		}
	}
	out = append(out, Span{Start: g.start, End: g.end, State: best, Stack: tracer.NoStack,
		Merged: g.n, Mixed: total > 0 && 2*g.dur[best] < total})
	g.n = 0
	return out
}
