package web

import (
	"slices"

	"github.com/concviz/concviz/tracer"
)

// This file holds the pure functions of the update stream: leaving hidden
// goroutines out and merging consecutive updates into one, so that a slow
// client receives fewer updates without missing a change.

// filterUpdate returns a copy of u that the session owns (the tracer may
// reuse its update once OnUpdate returns), without the hidden goroutines
// unless hidden is set, and without the links and logs that touch them.
// hiddenIDs remembers which goroutines are hidden across the updates of a
// run, since a link may come in a later update than its goroutine.
func filterUpdate(u *tracer.Update, hidden bool, hiddenIDs map[int64]bool) *tracer.Update {
	out := &tracer.Update{
		Generation: u.Generation,
		Now:        u.Now,
		Wall:       u.Wall,
		Goroutines: make([]tracer.GoroutineDelta, 0, len(u.Goroutines)),
		Links:      make([]tracer.Link, 0, len(u.Links)),
		StackBase:  u.StackBase,
		Stacks:     append(make([]tracer.Stack, 0, len(u.Stacks)), u.Stacks...),
		Logs:       make([]tracer.LogEntry, 0, len(u.Logs)),
		// The runtime lanes are the whole program's: no goroutine to hide.
		Runtime: tracer.RuntimeDelta{
			GCFrom: u.Runtime.GCFrom, GC: slices.Clone(u.Runtime.GC),
			STWFrom: u.Runtime.STWFrom, STW: slices.Clone(u.Runtime.STW),
			Heap: slices.Clone(u.Runtime.Heap), HeapGoal: slices.Clone(u.Runtime.HeapGoal),
		},
	}
	for _, d := range u.Goroutines {
		if d.Hidden {
			hiddenIDs[d.ID] = true
		} else {
			delete(hiddenIDs, d.ID)
		}
		if d.Hidden && !hidden {
			continue
		}
		d.Spans = append(make([]tracer.Span, 0, len(d.Spans)), d.Spans...)
		out.Goroutines = append(out.Goroutines, d)
	}
	for _, l := range u.Links {
		if !hidden && (hiddenIDs[l.From] || hiddenIDs[l.To]) {
			continue
		}
		out.Links = append(out.Links, l)
	}
	for _, e := range u.Logs {
		if !hidden && hiddenIDs[e.G] {
			continue
		}
		out.Logs = append(out.Logs, e)
	}
	return out
}

// mergeUpdate folds src, the update that follows dst, into dst, so that
// applying dst alone leaves a view exactly as applying both would. It
// reports false, and leaves dst unchanged, when the two do not fit together
// (a gap in the stacks or in a goroutine's spans); the caller then sends
// them separately.
func mergeUpdate(dst, src *tracer.Update) bool {
	if dst.StackBase+len(dst.Stacks) != src.StackBase {
		return false
	}
	index := make(map[int64]int, len(dst.Goroutines))
	for i, g := range dst.Goroutines {
		index[g.ID] = i
	}
	for _, d := range src.Goroutines {
		if i, ok := index[d.ID]; ok {
			g := dst.Goroutines[i]
			if d.FromSpan > g.FromSpan+len(g.Spans) {
				// The view would lack the spans between the two.
				return false
			}
		}
	}

	dst.Generation = src.Generation
	dst.Now = src.Now
	dst.Wall = src.Wall
	for _, d := range src.Goroutines {
		i, ok := index[d.ID]
		if !ok {
			index[d.ID] = len(dst.Goroutines)
			dst.Goroutines = append(dst.Goroutines, d)
			continue
		}
		g := &dst.Goroutines[i]
		g.Name, g.Parent, g.Created, g.Hidden = d.Name, d.Parent, d.Created, d.Hidden
		if off := d.FromSpan - g.FromSpan; off < 0 {
			g.FromSpan = d.FromSpan
			g.Spans = d.Spans
		} else {
			g.Spans = append(g.Spans[:off:off], d.Spans...)
		}
	}
	dst.Links = append(dst.Links, src.Links...)
	dst.Stacks = append(dst.Stacks, src.Stacks...)
	dst.Logs = append(dst.Logs, src.Logs...)
	rt := &dst.Runtime
	rt.GC, rt.GCFrom = mergeIntervals(rt.GC, rt.GCFrom, src.Runtime.GC, src.Runtime.GCFrom)
	rt.STW, rt.STWFrom = mergeIntervals(rt.STW, rt.STWFrom, src.Runtime.STW, src.Runtime.STWFrom)
	rt.Heap = append(rt.Heap, src.Runtime.Heap...)
	rt.HeapGoal = append(rt.HeapGoal, src.Runtime.HeapGoal...)
	return true
}

// mergeIntervals folds the runtime intervals b, which replace a view's from
// index bFrom on, into a, which replace them from aFrom on: applied after a,
// b keeps a's first bFrom-aFrom intervals.
func mergeIntervals(a []tracer.Interval, aFrom int, b []tracer.Interval, bFrom int) ([]tracer.Interval, int) {
	if bFrom <= aFrom {
		return b, bFrom
	}
	off := min(bFrom-aFrom, len(a))
	return append(a[:off:off], b...), aFrom
}

// withoutHidden returns a copy of t without its hidden goroutines and the
// links and logs that touch them. Stacks are kept whole, since spans index
// them.
func withoutHidden(t *tracer.Timeline) *tracer.Timeline {
	if t == nil {
		return nil
	}
	out := *t
	hidden := make(map[int64]bool)
	out.Goroutines = make([]*tracer.Goroutine, 0, len(t.Goroutines))
	for _, g := range t.Goroutines {
		if g.Hidden {
			hidden[g.ID] = true
			continue
		}
		out.Goroutines = append(out.Goroutines, g)
	}
	out.Links = make([]tracer.Link, 0, len(t.Links))
	for _, l := range t.Links {
		if !hidden[l.From] && !hidden[l.To] {
			out.Links = append(out.Links, l)
		}
	}
	out.Logs = make([]tracer.LogEntry, 0, len(t.Logs))
	for _, e := range t.Logs {
		if !hidden[e.G] {
			out.Logs = append(out.Logs, e)
		}
	}
	return &out
}
