package index

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/concviz/concviz/tracer"
	"golang.org/x/exp/trace"
)

// Options tunes Build.
type Options struct {
	// Progress, if set, is called on Build's goroutine about once per
	// megabyte of input, with the index's figures so far.
	Progress func(Stats)
	// Size is the input's total size in bytes, if known; it is passed on
	// in Stats.Size for progress bars.
	Size int64
}

// batchSize is how many events the reader hands to the indexer at a time;
// the indexer adds a batch under the write lock. It is big enough that
// handing over and locking cost nothing per event, and small enough that a
// query never waits long.
const batchSize = 1024

// Build reads a whole trace from r, as a stream, and indexes it. It is
// meant to be called once, on a goroutine of the caller's, while other
// goroutines query the part indexed so far. A trace that breaks off keeps
// every complete generation, with a warning in Stats.Warnings; input that is
// not a trace at all is an error wrapping tracer.ErrNotTrace. Build returns
// ctx's error if ctx ends first; what was indexed stays queryable.
func (x *Index) Build(ctx context.Context, r io.Reader, opt Options) error {
	err := x.build(ctx, r, opt)
	x.mu.Lock()
	x.finish(err)
	x.mu.Unlock()
	x.markReady()
	close(x.done)
	return err
}

// Open indexes the trace file at path and returns the finished index.
func Open(ctx context.Context, path string, opt Options) (*Index, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open trace: %w", err)
	}
	defer f.Close()
	if opt.Size == 0 {
		if fi, err := f.Stat(); err == nil {
			opt.Size = fi.Size()
		}
	}
	x := New()
	if err := x.Build(ctx, f, opt); err != nil {
		return x, fmt.Errorf("%s: %w", path, err)
	}
	return x, nil
}

// batch is a run of events read ahead of the indexer.
type batch struct {
	events []trace.Event
	// read is the input consumed once the batch was read; good the input
	// up to the start of the latest generation, which is whole.
	read, good int64
	// err ends the input: io.EOF or the reason the trace broke off.
	err error
}

// readyEvents is how many events make the index Ready before its first
// generation is known to be complete: that is only known from the next
// generation's sync event, which the reader hands out once it has read all
// of that generation too, and a generation of a busy program holds
// millions of events.
const readyEvents = 1 << 20

// batches is how many batches the reader may be ahead of the indexer.
const batches = 4

// build runs the pipeline: a reader goroutine decodes events with
// x/exp/trace while this goroutine adds them to the index, so that on two
// cores indexing costs little more than reading. The reader exits when the
// input ends or when build returns, whichever is first; build waits for it.
func (x *Index) build(ctx context.Context, r io.Reader, opt Options) error {
	cr := &countingReader{r: bufio.NewReaderSize(r, 256<<10)}
	tr, err := trace.NewReader(cr)
	if err != nil {
		return fmt.Errorf("%w: %v", tracer.ErrNotTrace, err)
	}
	x.mu.Lock()
	x.size = opt.Size
	x.mu.Unlock()

	full := make(chan *batch, batches)
	free := make(chan *batch, batches)
	for range batches {
		free <- &batch{events: make([]trace.Event, 0, batchSize)}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(stop)
	wg.Go(func() { readBatches(tr, cr, free, full, stop) })

	var lastProgress int64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var b *batch
		select {
		case b = <-full:
		case <-ctx.Done():
			return ctx.Err()
		}
		x.mu.Lock()
		for i := range b.events {
			x.event(&b.events[i])
		}
		x.bytes = b.read
		started := x.started
		x.mu.Unlock()
		if x.gens >= 2 || x.events >= readyEvents || b.err == io.EOF {
			// The first generation is complete, or enough of it is
			// indexed: a view can draw it.
			x.markReady()
		}
		if opt.Progress != nil && (b.read-lastProgress >= 1<<20 || b.err != nil) {
			lastProgress = b.read
			opt.Progress(x.Stats())
		}
		switch {
		case b.err == io.EOF:
			if !started {
				return fmt.Errorf("%w: it holds no events", tracer.ErrNotTrace)
			}
			return nil
		case b.err != nil:
			if !started {
				return fmt.Errorf("%w: %v", tracer.ErrNotTrace, b.err)
			}
			lost := b.read - b.good
			x.mu.Lock()
			x.truncated = true
			x.warnings = append(x.warnings,
				fmt.Sprintf("the trace is incomplete (%v); the timeline shows the %d complete generations before it", b.err, x.gens),
				tracer.LossWarning(lost, b.read))
			x.mu.Unlock()
			return nil
		}
		free <- b
	}
}

// readBatches reads events into batches taken from free and hands them on
// to full, until the input ends (the last batch carries the error) or stop
// is closed.
func readBatches(tr *trace.Reader, cr *countingReader, free <-chan *batch, full chan<- *batch, stop <-chan struct{}) {
	var good int64
	for {
		var b *batch
		select {
		case b = <-free:
		case <-stop:
			return
		}
		b.events = b.events[:0]
		for len(b.events) < batchSize {
			ev, err := tr.ReadEvent()
			if err != nil {
				b.err = err
				break
			}
			if ev.Kind() == trace.EventSync {
				// The reader hands out a generation only once it has read
				// all of it, so what was read by now is good.
				good = cr.n
			}
			b.events = append(b.events, ev)
		}
		if b.err != nil && b.err != io.EOF {
			// Count the rest of the input to say how much was lost.
			io.Copy(io.Discard, cr)
		}
		b.read, b.good = cr.n, good
		select {
		case full <- b:
		case <-stop:
			return
		}
		if b.err != nil {
			return
		}
	}
}

// event adds one event. It runs with x.mu held for writing.
func (x *Index) event(ev *trace.Event) {
	t := ev.Time()
	if !x.started {
		x.start, x.started = t, true
	}
	if t > x.last {
		x.last = t
	}
	x.events++
	switch ev.Kind() {
	case trace.EventSync:
		x.gens = ev.Sync().N
		// Stack handles belong to one generation: forget the old ones so
		// that their tables can be collected.
		clear(x.stackCache)
		for _, ln := range x.lanes {
			ln.lastStack, ln.lastStackEntry = trace.NoStack, nil
		}
	case trace.EventStateTransition:
		st := ev.StateTransition()
		if st.Resource.Kind == trace.ResourceGoroutine {
			x.transition(ev, &st)
		}
	case trace.EventLog:
		if l := ev.Log(); l.Category == rootLogCategory {
			x.root = int64(ev.Goroutine())
			if ln := x.lane(ev.Goroutine()); ln != nil {
				// The root is where the scenario begins: the harness that
				// started it is not part of the picture.
				ln.created = tracer.NoStack
				if name := shortFunc(l.Message); name != "" {
					ln.name = name
				}
			}
		}
	}
}

// rel converts an absolute trace time into the model's relative time.
func (x *Index) rel(t trace.Time) int64 { return int64(t - x.start) }

// transition is the truth table of goroutine state transitions; it follows
// tracer.Builder's.
func (x *Index) transition(ev *trace.Event, st *trace.StateTransition) {
	id := st.Resource.Goroutine()
	from, to := st.Goroutine()
	now := x.rel(ev.Time())
	ln := x.lane(id)
	switch {
	case from == trace.GoNotExist && to == trace.GoRunnable:
		var parent int64
		if p := ev.Goroutine(); p != trace.NoGoroutine {
			parent = int64(p)
		}
		ln = x.addLane(id, startFunc(st.Stack), parent, x.stackInfo(ev.Stack()).idx)
		x.setState(ln, now, x.kindRunnable, tracer.NoStack)
		return
	case ln == nil:
		// A goroutine that existed before the trace began: its parent is
		// unknown.
		ln = x.addLane(id, outerFunc(st.Stack), 0, tracer.NoStack)
	}
	if from == to {
		// Each generation restates every goroutine's state: a refresh,
		// not a transition. It may bring the first stack we see.
		if ln.hasCur {
			if k := x.kinds[ln.cur]; k.stack == tracer.NoStack {
				si := x.stackInfo(st.Stack)
				x.nameWrapped(ln, si)
				if si.idx != tracer.NoStack {
					k.stack = si.idx
					ln.cur = x.kindID(k)
				}
			}
			return
		}
		si := x.stackInfo(st.Stack)
		x.nameWrapped(ln, si)
		x.setState(ln, now, x.kindID(kind{stateOf(to, st.Reason, si.sync), st.Reason, si.idx}), si.idx)
		return
	}
	switch to {
	case trace.GoNotExist:
		x.setState(ln, now, x.kindDone, tracer.NoStack)
		// The goroutine has ended: its spans are complete.
		ln.spans.release(&x.arena)
	case trace.GoRunning:
		x.setState(ln, now, x.kindRunning, tracer.NoStack)
	case trace.GoSyscall:
		si := x.laneStack(ln, st.Stack)
		if !si.hasSys {
			si.sysKind, si.hasSys = x.kindID(kind{tracer.StateSyscall, "", si.idx}), true
		}
		x.setState(ln, now, si.sysKind, si.idx)
	case trace.GoRunnable:
		k := x.kindRunnable
		if st.Reason != "" {
			k = x.kindID(kind{tracer.StateRunnable, st.Reason, tracer.NoStack})
		}
		x.setState(ln, now, k, tracer.NoStack)
	case trace.GoWaiting:
		si := x.laneStack(ln, st.Stack)
		if !si.hasWait || si.waitReason != st.Reason {
			si.waitKind = x.kindID(kind{stateOf(to, st.Reason, si.sync), st.Reason, si.idx})
			si.waitReason, si.hasWait = st.Reason, true
		}
		x.setState(ln, now, si.waitKind, si.idx)
	}
}

// setState closes the open span of a lane and opens one of kind k. A kind
// that repeats the open span's state and reason changes nothing, unless it
// brings another stack.
func (x *Index) setState(ln *lane, now int64, k uint32, stack int) {
	if ln.hasCur {
		if k == ln.cur {
			return
		}
		if stack == tracer.NoStack && x.kindSR[ln.cur] == x.kindSR[k] {
			return
		}
		ln.spans.add(&x.arena, ln.curStart, now, ln.cur, x.kinds[ln.cur].state)
		x.spans++
	}
	ln.cur, ln.curStart, ln.hasCur = k, now, true
}

// lane returns the lane of a goroutine, or nil.
func (x *Index) lane(id trace.GoID) *lane {
	if id >= 0 && uint64(id) < uint64(len(x.byGoID)) {
		if i := x.byGoID[id]; i > 0 {
			return x.lanes[i-1]
		}
		return nil
	}
	if i, ok := x.byGoIDMap[id]; ok {
		return x.lanes[i]
	}
	return nil
}

// denseGoIDs bounds the goroutine ids kept in a slice rather than a map:
// ids are small and dense in practice, and a slice lookup is the cheapest
// step of the per-event work.
const denseGoIDs = 1 << 22

// addLane adds the lane of a goroutine seen for the first time, named after
// the function it starts in; the full name says whether it is the
// runtime's, which the short name of runtime/trace's writer does not.
func (x *Index) addLane(id trace.GoID, start string, parent int64, created int) *lane {
	ln := &lane{id: int64(id), name: shortFunc(start), parent: parent, created: int32(created)}
	ln.hidden = start == "" || isRuntimeFunc(start)
	x.lanes = append(x.lanes, ln)
	if id >= 0 && id < denseGoIDs {
		for uint64(len(x.byGoID)) <= uint64(id) {
			x.byGoID = append(x.byGoID, 0)
		}
		x.byGoID[id] = int32(len(x.lanes))
	} else {
		x.byGoIDMap[id] = int32(len(x.lanes) - 1)
	}
	x.byID[int64(id)] = int32(len(x.lanes) - 1)
	if !ln.hidden {
		x.visible = append(x.visible, int32(len(x.lanes)-1))
	}
	return ln
}

// stackEntry is what the index keeps of one stack handle of the current
// generation.
type stackEntry struct {
	idx  int
	sync tracer.State
	// The kinds of the latest wait and of a system call with this stack,
	// cached because the same few stacks block millions of times.
	waitReason string
	waitKind   uint32
	hasWait    bool
	sysKind    uint32
	hasSys     bool
	// wrapped is the user's function that sync.WaitGroup.Go runs on a
	// stack through its wrapper, shortened; "" when there is none.
	wrapped string
}

// laneStack is stackInfo through a one-entry cache per lane: a goroutine
// tends to block where it blocked last.
func (x *Index) laneStack(ln *lane, stk trace.Stack) *stackEntry {
	if ln.lastStackEntry != nil && ln.lastStack == stk {
		return ln.lastStackEntry
	}
	e := x.stackInfo(stk)
	ln.lastStack, ln.lastStackEntry = stk, e
	x.nameWrapped(ln, e)
	return e
}

// nameWrapped names a lane that starts in the wrapper of sync.WaitGroup.Go
// after the user's function inside it, from the first stack that shows it
// (any stack of the goroutine but a system's one does).
func (x *Index) nameWrapped(ln *lane, e *stackEntry) {
	if e.wrapped != "" && ln.name == tracer.WrapperStart {
		ln.name = e.wrapped
	}
}

// stackInfo interns a stack: its index in the stack table and the state of
// a "sync" wait on it.
func (x *Index) stackInfo(stk trace.Stack) *stackEntry {
	if stk == trace.NoStack {
		return &x.noStack
	}
	if e, ok := x.stackCache[stk]; ok {
		return e
	}
	var frames []tracer.Location
	var key strings.Builder
	for f := range stk.Frames() {
		frames = append(frames, tracer.Location{Func: f.Func, File: f.File, Line: int(f.Line)})
		key.WriteString(strconv.FormatUint(f.PC, 16))
		key.WriteByte(' ')
	}
	e := &stackEntry{idx: tracer.NoStack, sync: syncStateOf(stk)}
	e.wrapped = tracer.WrappedFunc(frames)
	if len(frames) > 0 {
		i, ok := x.stackKeys[key.String()]
		if !ok {
			frames = trimRuntimeFrames(frames)
			i = len(x.stacks)
			x.stacks = append(x.stacks, tracer.Stack{Frames: frames, User: userFrame(frames)})
			x.stackKeys[key.String()] = i
		}
		e.idx = i
	}
	x.stackCache[stk] = e
	return e
}

// kindID interns a kind.
func (x *Index) kindID(k kind) uint32 {
	if id, ok := x.kindIDs[k]; ok {
		return id
	}
	id := uint32(len(x.kinds))
	sr := id
	if k.stack != tracer.NoStack {
		sr = x.kindID(kind{state: k.state, reason: k.reason, stack: tracer.NoStack})
		id = uint32(len(x.kinds))
	}
	x.kinds = append(x.kinds, k)
	x.kindSR = append(x.kindSR, sr)
	x.kindState = append(x.kindState, k.state)
	x.kindIDs[k] = id
	return id
}

// finish closes the index after the last event. It runs with x.mu held.
func (x *Index) finish(err error) {
	x.finished = true
	for _, ln := range x.lanes {
		ln.spans.release(&x.arena)
	}
	x.err = err
	if x.root != 0 {
		x.hideAllButScenario()
	}
}

// hideAllButScenario hides every lane that does not descend from the root
// of a concviz scenario, as tracer.Builder does for a concviz recording.
func (x *Index) hideAllButScenario() {
	x.visible = x.visible[:0]
	for i, ln := range x.lanes {
		id, seen := ln.id, 0
		for id != 0 && id != x.root && seen <= len(x.lanes) {
			p, ok := x.byID[id]
			if !ok {
				id = 0
				break
			}
			id, seen = x.lanes[p].parent, seen+1
		}
		if id == x.root && ln.id == x.root {
			ln.parent = 0
		}
		ln.hidden = id != x.root || isRuntimeFunc(ln.name)
		if !ln.hidden {
			x.visible = append(x.visible, int32(i))
		}
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
