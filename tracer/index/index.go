// Package index is the compact, streaming span index of a large execution
// trace, and the window queries a browser timeline draws from.
//
// tracer.Builder keeps a *tracer.Goroutine with a []tracer.Span per lane:
// right for a scenario's few thousand events, far too heavy for a user's
// trace of tens of millions. This package reads the trace once, as a
// stream, and keeps per goroutine only its closed spans, varint-encoded in
// segments of a shared byte arena (about three bytes a span), plus a table
// of interned span kinds (state, reason, stack) and one of stacks. No event
// and no per-span object is retained.
//
// A view asks for a time window at its pixel resolution (Window): spans
// shorter than a pixel are merged, the merged span carrying the state that
// covered most of its time. Lanes are listed in order of appearance, by
// range (Lanes), so that a view can scroll thousands of them and ask only
// for those on screen.
//
// One goroutine builds the index (Build) while any number of others query
// it: they see the trace up to the last batch of events added, with the
// open span of each goroutine ending at Now. Ready says when the first
// generation is indexed (or enough of it), so that a first frame can be
// drawn long before the whole file is read.
package index

import (
	"runtime"
	"sync"
	"unsafe"

	"github.com/concviz/concviz/tracer"
	"golang.org/x/exp/trace"
)

// Index is the span index of one trace. Its methods are safe for
// concurrent use; Build must be called at most once.
type Index struct {
	// mu guards everything below; Build holds it for writing while it adds
	// a batch of events, queries hold it for reading.
	mu sync.RWMutex

	// lanes are the goroutines in order of appearance; visible indexes
	// the ones not hidden, in the same order.
	lanes   []*lane
	visible []int32
	// byGoID and byGoIDMap find the lane of a goroutine id while
	// building (index+1 in byGoID, 0 for none); byID finds it for queries.
	byGoID    []int32
	byGoIDMap map[trace.GoID]int32
	byID      map[int64]int32

	arena arena
	// kinds interns what a span is, besides its times.
	kinds   []kind
	kindIDs map[kind]uint32
	// kindSR maps a kind to the kind of the same state and reason without
	// a stack, so that comparing two kinds' state and reason is cheap.
	kindSR []uint32
	// kindState is each kind's state, for the hot loop of a window query.
	kindState []tracer.State
	// The kinds of the commonest spans, interned once.
	kindRunning, kindRunnable, kindDone uint32

	stacks    []tracer.Stack
	stackKeys map[string]int
	// stackCache maps the stack handles of the current generation to
	// their index in stacks.
	stackCache map[trace.Stack]*stackEntry
	// noStack is the entry of events without a stack.
	noStack stackEntry

	// start is the time of the first event; last the latest seen.
	start, last trace.Time
	started     bool
	// root is the goroutine a concviz child named as its scenario's root.
	root int64

	events, spans int64
	gens          int
	bytes, size   int64
	finished      bool
	truncated     bool
	warnings      []string
	err           error

	readyOnce sync.Once
	ready     chan struct{}
	done      chan struct{}
}

// kind is what a span is, apart from its times.
type kind struct {
	state  tracer.State
	reason string
	stack  int
}

// lane is one goroutine.
type lane struct {
	id      int64
	name    string
	parent  int64
	created int32
	hidden  bool
	spans   spanList
	// The open span: its kind and start.
	cur      uint32
	curStart int64
	hasCur   bool
	// The stack of the lane's latest wait, and its entry in stackCache.
	lastStack      trace.Stack
	lastStackEntry *stackEntry
}

// New returns an empty index, ready for Build.
func New() *Index {
	x := &Index{
		byGoIDMap:  make(map[trace.GoID]int32),
		byID:       make(map[int64]int32),
		kindIDs:    make(map[kind]uint32),
		stackKeys:  make(map[string]int),
		stackCache: make(map[trace.Stack]*stackEntry),
		ready:      make(chan struct{}),
		done:       make(chan struct{}),
	}
	x.arena.pages = &pageSet{}
	// The arena's pages may live outside the Go heap: release them with
	// the index.
	runtime.AddCleanup(x, (*pageSet).free, x.arena.pages)
	x.noStack = stackEntry{idx: tracer.NoStack, sync: tracer.StateBlockedSync}
	x.kindRunning = x.kindID(kind{tracer.StateRunning, "", tracer.NoStack})
	x.kindRunnable = x.kindID(kind{tracer.StateRunnable, "", tracer.NoStack})
	x.kindDone = x.kindID(kind{tracer.StateDone, "", tracer.NoStack})
	return x
}

// markReady closes Ready once.
func (x *Index) markReady() {
	x.readyOnce.Do(func() { close(x.ready) })
}

// Ready is closed once the first generation of the trace is indexed, or a
// million events of it, or Build has ended: from then on a window shows
// real goroutines, and a view can draw its first frame.
func (x *Index) Ready() <-chan struct{} { return x.ready }

// Done is closed when Build has returned.
func (x *Index) Done() <-chan struct{} { return x.done }

// Err returns the error Build returned, once Done is closed, or nil.
func (x *Index) Err() error {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.err
}

// Stats are the figures of an index, complete or in progress.
type Stats struct {
	// Events counts every event read; Goroutines the lanes; Spans the
	// spans, open ones included.
	Events     int64 `json:"events"`
	Goroutines int   `json:"goroutines"`
	Spans      int64 `json:"spans"`
	// Generations counts the trace generations seen.
	Generations int `json:"generations"`
	// Bytes is the input read so far; Size the whole input, if known.
	Bytes int64 `json:"bytes"`
	Size  int64 `json:"size,omitempty"`
	// Now is the time of the latest event, in nanoseconds since the first.
	Now int64 `json:"now_ns"`
	// IndexBytes is the memory held by the encoded spans and their
	// segment headers.
	IndexBytes int64 `json:"index_bytes"`
	Stacks     int   `json:"stacks"`
	Kinds      int   `json:"kinds"`
	// Done says that Build has finished; Truncated that the trace broke
	// off, Warnings say how much was lost.
	Done      bool     `json:"done"`
	Truncated bool     `json:"truncated,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
}

// Stats returns the index's figures so far.
func (x *Index) Stats() Stats {
	x.mu.RLock()
	defer x.mu.RUnlock()
	open := int64(0)
	mem := x.arena.size()
	for _, ln := range x.lanes {
		if ln.hasCur {
			open++
		}
		l := &ln.spans
		mem += int64(cap(l.segs))*int64(unsafe.Sizeof(segment{})) + int64(cap(l.sums))*int64(unsafe.Sizeof(stateSum32{})) + int64(cap(l.buf))
	}
	return Stats{
		Events:      x.events,
		Goroutines:  len(x.lanes),
		Spans:       x.spans + open,
		Generations: x.gens,
		Bytes:       x.bytes,
		Size:        x.size,
		Now:         x.now(),
		IndexBytes:  mem,
		Stacks:      len(x.stacks),
		Kinds:       len(x.kinds),
		Done:        x.finished,
		Truncated:   x.truncated,
		Warnings:    append([]string(nil), x.warnings...),
	}
}

// now is the end of the indexed prefix. It runs with x.mu held.
func (x *Index) now() int64 {
	if !x.started {
		return 0
	}
	return x.rel(x.last)
}

// Stack returns the stack at index i of the stack table, or nil for
// tracer.NoStack and unknown indices.
func (x *Index) Stack(i int) *tracer.Stack {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if i < 0 || i >= len(x.stacks) {
		return nil
	}
	s := x.stacks[i]
	return &s
}

// Lane describes one goroutine for a lane list.
type Lane struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	// Parent is the goroutine that created it, 0 if unknown.
	Parent int64 `json:"parent"`
	// Created indexes the stack table: where the go statement ran.
	Created int  `json:"created"`
	Hidden  bool `json:"hidden,omitempty"`
	// Spans counts the lane's spans so far, the open one included.
	Spans int `json:"spans"`
	// Start is when the lane's first span begins.
	Start int64 `json:"start"`
}

// LaneCount returns the number of lanes, counting hidden ones or not.
func (x *Index) LaneCount(hidden bool) int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if hidden {
		return len(x.lanes)
	}
	return len(x.visible)
}

// Lanes lists count lanes from position first, in order of appearance,
// leaving out the hidden ones unless hidden is set. Positions beyond the
// end are ignored.
func (x *Index) Lanes(first, count int, hidden bool) []Lane {
	x.mu.RLock()
	defer x.mu.RUnlock()
	idx := x.laneRange(first, count, hidden)
	out := make([]Lane, 0, len(idx))
	for _, i := range idx {
		out = append(out, x.laneInfo(x.lanes[i]))
	}
	return out
}

// laneRange returns the lane indices at positions [first, first+count).
// It runs with x.mu held.
func (x *Index) laneRange(first, count int, hidden bool) []int32 {
	n := len(x.visible)
	if hidden {
		n = len(x.lanes)
	}
	first = max(first, 0)
	end := min(first+max(count, 0), n)
	if first >= end {
		return nil
	}
	if !hidden {
		return x.visible[first:end]
	}
	out := make([]int32, 0, end-first)
	for i := first; i < end; i++ {
		out = append(out, int32(i))
	}
	return out
}

func (x *Index) laneInfo(ln *lane) Lane {
	l := Lane{ID: ln.id, Name: ln.name, Parent: ln.parent, Created: int(ln.created), Hidden: ln.hidden, Spans: ln.spans.n}
	if ln.hasCur {
		l.Spans++
	}
	switch {
	case len(ln.spans.segs) > 0:
		l.Start = ln.spans.segs[0].first
	case ln.hasCur:
		l.Start = ln.curStart
	}
	return l
}
