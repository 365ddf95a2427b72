package tracer

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/exp/trace"
)

// Builder turns the events of an execution trace into a Timeline, one
// event at a time, and hands out what changed since the last call to Flush.
// It works the same on a live pipe and on a finished file.
//
// Invariants: the spans of a goroutine are contiguous and ordered; only the
// last one may be open; a goroutine is added once, at the first event that
// names it.
type Builder struct {
	tl *Timeline
	// scenarioMode hides every goroutine that the scenario's root did not
	// create (directly or transitively); otherwise only the runtime's own
	// goroutines are hidden.
	scenarioMode bool
	// start is the time of the first event; every time in the model is
	// relative to it.
	start   trace.Time
	started bool
	last    trace.Time
	// gs holds the state machine of every goroutine seen.
	gs map[trace.GoID]*gstate
	// stacks interns stacks by handle, then by frame content.
	stacks    map[trace.Stack]int
	stackKeys map[string]int
	// root is the scenario's first goroutine, once its log event is seen.
	root trace.GoID
	// clock maps trace time to wall time, from the latest sync event.
	clock *trace.ClockSnapshot
	// Delta bookkeeping for Flush: per goroutine, the first span index
	// changed since the last flush, and how much of the appended slices
	// was already handed out.
	dirty                           map[*Goroutine]int
	sentLinks, sentStacks, sentLogs int
	rt                              runtimeState
}

// gstate is the builder's state for one goroutine.
type gstate struct {
	g *Goroutine
}

// NewBuilder returns a builder. With scenarioMode, only the goroutines of a
// concviz scenario are visible: the harness marks the first one with a log
// event and the rest descend from it.
func NewBuilder(scenarioMode bool) *Builder {
	return &Builder{
		tl: &Timeline{
			Goroutines: []*Goroutine{}, Links: []Link{}, Stacks: []Stack{}, Logs: []LogEntry{},
			Runtime: Runtime{GC: []Interval{}, STW: []Interval{}, Heap: []Sample{}, HeapGoal: []Sample{}},
		},
		scenarioMode: scenarioMode,
		gs:           make(map[trace.GoID]*gstate),
		stacks:       make(map[trace.Stack]int),
		stackKeys:    make(map[string]int),
		dirty:        make(map[*Goroutine]int),
	}
}

// Event feeds one event to the builder.
func (b *Builder) Event(ev *trace.Event) {
	if !b.started {
		b.start, b.started = ev.Time(), true
	}
	if ev.Time() > b.last {
		b.last = ev.Time()
	}
	switch ev.Kind() {
	case trace.EventSync:
		b.tl.Generations = ev.Sync().N
		if c := ev.Sync().ClockSnapshot; c != nil {
			b.clock = c
		}
	case trace.EventStateTransition:
		st := ev.StateTransition()
		if st.Resource.Kind == trace.ResourceGoroutine {
			b.goTransition(ev, st)
		}
	case trace.EventLog:
		b.log(ev)
	case trace.EventMetric:
		b.metric(ev)
	case trace.EventRangeBegin, trace.EventRangeEnd:
		b.runtimeRange(ev)
	}
}

// rel converts an absolute trace time into the model's relative time.
func (b *Builder) rel(t trace.Time) int64 { return int64(t - b.start) }

// goTransition is the truth table of goroutine state transitions.
func (b *Builder) goTransition(ev *trace.Event, st trace.StateTransition) {
	id := st.Resource.Goroutine()
	from, to := st.Goroutine()
	now := b.rel(ev.Time())
	gs := b.gs[id]
	switch {
	case from == trace.GoNotExist && to == trace.GoRunnable:
		gs = b.created(ev, st, id, now)
		gs.setState(b, now, StateRunnable, "", NoStack)
		return
	case gs == nil:
		// A goroutine that existed before the trace began (or before this
		// reader joined): its parent is unknown.
		gs = b.discovered(id, st.Stack)
	}
	if from == to {
		// Each generation restates every goroutine's state: a refresh,
		// not a transition. It may bring the first stack we see.
		if gs.current() != nil && gs.current().Stack == NoStack {
			gs.current().Stack = b.stackIndex(st.Stack)
			b.markDirty(gs.g, len(gs.g.Spans)-1)
		}
		if gs.current() == nil {
			gs.setState(b, now, stateOf(to, st.Reason, st.Stack), st.Reason, b.stackIndex(st.Stack))
		}
		return
	}
	switch to {
	case trace.GoNotExist:
		gs.setState(b, now, StateDone, "", NoStack)
	case trace.GoRunning:
		gs.setState(b, now, StateRunning, "", NoStack)
	case trace.GoSyscall:
		gs.setState(b, now, StateSyscall, "", b.stackIndex(st.Stack))
	case trace.GoRunnable:
		if from == trace.GoWaiting {
			b.woken(ev, id, now)
		}
		gs.setState(b, now, StateRunnable, st.Reason, NoStack)
	case trace.GoWaiting:
		gs.setState(b, now, stateOf(to, st.Reason, st.Stack), st.Reason, b.stackIndex(st.Stack))
	}
}

// created handles NotExist -> Runnable: a go statement ran.
func (b *Builder) created(ev *trace.Event, st trace.StateTransition, id trace.GoID, now int64) *gstate {
	parent := ev.Goroutine()
	start := startFunc(st.Stack)
	g := &Goroutine{
		ID:      int64(id),
		Name:    shortFunc(start),
		Created: b.stackIndex(ev.Stack()),
		Spans:   []Span{},
	}
	if parent != trace.NoGoroutine {
		g.Parent = int64(parent)
	}
	g.Hidden = b.hide(start, parent)
	gs := b.add(id, g)
	if parent != trace.NoGoroutine {
		b.tl.Links = append(b.tl.Links, Link{Kind: LinkCreate, From: int64(parent), To: int64(id), Time: now, Stack: g.Created})
	}
	return gs
}

// discovered adds a goroutine first seen in a state other than creation.
func (b *Builder) discovered(id trace.GoID, stk trace.Stack) *gstate {
	outer := outerFunc(stk)
	g := &Goroutine{ID: int64(id), Name: shortFunc(outer), Created: NoStack, Spans: []Span{}}
	g.Hidden = b.hide(outer, trace.NoGoroutine)
	return b.add(id, g)
}

func (b *Builder) add(id trace.GoID, g *Goroutine) *gstate {
	gs := &gstate{g: g}
	b.gs[id] = gs
	b.tl.Goroutines = append(b.tl.Goroutines, g)
	b.markDirty(g, 0)
	return gs
}

// hide decides whether a new goroutine is the harness's or the runtime's,
// from its start function's full name: the short name of runtime/trace's
// writer ("trace.(*traceMultiplexer)...") no longer says it is the runtime's.
func (b *Builder) hide(start string, parent trace.GoID) bool {
	if b.scenarioMode {
		// The runtime's own goroutines (GC workers started while a
		// scenario goroutine allocates) descend from it but are not its.
		p, ok := b.gs[parent]
		return !ok || p.g.Hidden || isRuntimeFunc(start)
	}
	return start == "" || isRuntimeFunc(start)
}

// woken records the wake-up link of a Waiting -> Runnable transition: the
// goroutine running the event is the one that unblocked the other.
func (b *Builder) woken(ev *trace.Event, id trace.GoID, now int64) {
	waker := ev.Goroutine()
	if waker == trace.NoGoroutine || waker == id {
		return
	}
	b.tl.Links = append(b.tl.Links, Link{Kind: LinkWake, From: int64(waker), To: int64(id), Time: now, Stack: b.stackIndex(ev.Stack())})
}

// log records a trace.Log event; the harness's root announcement turns the
// logging goroutine into the visible root of the scenario.
func (b *Builder) log(ev *trace.Event) {
	l := ev.Log()
	id := ev.Goroutine()
	if l.Category == runLogCategory {
		b.tl.Scenario, b.tl.Variant, _ = strings.Cut(l.Message, "/")
		return
	}
	if l.Category == rootLogCategory {
		b.root = id
		if gs := b.gs[id]; gs != nil {
			// The root is where the scenario begins: the harness that
			// started it is not part of the picture.
			gs.g.Hidden = false
			gs.g.Parent = 0
			gs.g.Created = NoStack
			if name := shortFunc(l.Message); name != "" {
				gs.g.Name = name
			}
			b.markDirty(gs.g, 0)
		}
		return
	}
	b.tl.Logs = append(b.tl.Logs, LogEntry{Time: b.rel(ev.Time()), G: int64(id), Category: l.Category, Message: l.Message})
}

// current returns the open span, or nil.
func (s *gstate) current() *Span {
	if n := len(s.g.Spans); n > 0 && s.g.Spans[n-1].End == Open {
		return &s.g.Spans[n-1]
	}
	return nil
}

// setState closes the open span and opens one in the new state. A state
// that repeats the open span exactly changes nothing.
func (s *gstate) setState(b *Builder, now int64, state State, reason string, stack int) {
	if stack != NoStack && s.g.Name == WrapperStart {
		if fn := WrappedFunc(b.tl.Stacks[stack].Frames); fn != "" {
			s.g.Name = fn
			b.markDirty(s.g, 0)
		}
	}
	if cur := s.current(); cur != nil {
		if cur.State == state && cur.Reason == reason && (stack == NoStack || cur.Stack == stack) {
			return
		}
		cur.End = now
		b.markDirty(s.g, len(s.g.Spans)-1)
	}
	s.g.Spans = appendSpan(s.g.Spans, Span{Start: now, End: Open, State: state, Reason: reason, Stack: stack})
	b.markDirty(s.g, len(s.g.Spans)-1)
}

// appendSpan appends a span, doubling a large slice when it is full. The
// built-in append grows a large slice by about a quarter at a time, which
// copies a busy goroutine's whole history some five times over as it
// grows: growslice was a third of the live reader's profile at 800k
// events/s. Doubling copies it about twice, for at most twice the memory
// the spans need rather than a quarter more, and cut the reader's CPU per
// event by about 14% (BenchmarkLiveBuilder in tracer/internal/benchbig).
func appendSpan(spans []Span, s Span) []Span {
	if n := len(spans); n == cap(spans) && n >= 1024 {
		grown := make([]Span, n, 2*n)
		copy(grown, spans)
		spans = grown
	}
	return append(spans, s)
}

func (b *Builder) markDirty(g *Goroutine, span int) {
	if span < 0 {
		span = 0
	}
	if old, ok := b.dirty[g]; !ok || span < old {
		b.dirty[g] = span
	}
}

// stackIndex interns a stack and returns its index in Timeline.Stacks.
func (b *Builder) stackIndex(stk trace.Stack) int {
	if stk == trace.NoStack {
		return NoStack
	}
	if i, ok := b.stacks[stk]; ok {
		return i
	}
	var frames []Location
	var key strings.Builder
	for f := range stk.Frames() {
		frames = append(frames, Location{Func: f.Func, File: f.File, Line: int(f.Line)})
		key.WriteString(strconv.FormatUint(f.PC, 16))
		key.WriteByte(' ')
	}
	if len(frames) == 0 {
		b.stacks[stk] = NoStack
		return NoStack
	}
	i, ok := b.stackKeys[key.String()]
	if !ok {
		frames = trimRuntimeFrames(frames)
		i = len(b.tl.Stacks)
		b.tl.Stacks = append(b.tl.Stacks, Stack{Frames: frames, User: userFrame(frames)})
		b.stackKeys[key.String()] = i
	}
	b.stacks[stk] = i
	return i
}

// Flush returns what changed since the previous Flush.
func (b *Builder) Flush() *Update {
	u := &Update{
		Generation: b.tl.Generations,
		Now:        b.rel(b.last),
		Wall:       b.wall(b.last),
		Goroutines: []GoroutineDelta{},
		Links:      b.tl.Links[b.sentLinks:],
		StackBase:  b.sentStacks,
		Stacks:     b.tl.Stacks[b.sentStacks:],
		Logs:       b.tl.Logs[b.sentLogs:],
	}
	b.sentLinks, b.sentStacks, b.sentLogs = len(b.tl.Links), len(b.tl.Stacks), len(b.tl.Logs)
	u.Runtime = b.rt.flush(&b.tl.Runtime)
	for _, g := range b.tl.Goroutines {
		from, ok := b.dirty[g]
		if !ok {
			continue
		}
		spans := make([]Span, len(g.Spans)-from)
		copy(spans, g.Spans[from:])
		u.Goroutines = append(u.Goroutines, GoroutineDelta{
			ID: g.ID, Name: g.Name, Parent: g.Parent, Created: g.Created, Hidden: g.Hidden,
			FromSpan: from, Spans: spans,
		})
	}
	clear(b.dirty)
	return u
}

// Dirty reports whether anything changed since the last Flush.
func (b *Builder) Dirty() bool {
	return len(b.dirty) > 0 || b.sentLinks < len(b.tl.Links) || b.sentLogs < len(b.tl.Logs) || b.rt.dirty(&b.tl.Runtime)
}

// wall converts a trace time to Unix nanoseconds using the latest clock
// snapshot, or returns 0 without one.
func (b *Builder) wall(t trace.Time) int64 {
	if b.clock == nil {
		return 0
	}
	return b.clock.Wall.Add(time.Duration(t - b.clock.Trace)).UnixNano()
}

// Truncate records that the trace broke off: what was read is kept.
func (b *Builder) Truncate(err error) {
	b.tl.Truncated = true
	b.tl.Warnings = append(b.tl.Warnings, fmt.Sprintf("the trace is incomplete (%v); the timeline shows the %d complete generations before it", err, b.tl.Generations))
}

// Finish closes every open span at the last event and returns the timeline.
// The builder must not be used afterwards. A trace that concviz recorded,
// read in user mode, is recognised by its root announcement and shows the
// scenario's goroutines only, as it did live.
func (b *Builder) Finish() *Timeline {
	end := b.rel(b.last)
	b.tl.Duration = end
	if !b.scenarioMode && b.root != 0 {
		b.hideAllButScenario()
	}
	for _, g := range b.tl.Goroutines {
		if n := len(g.Spans); n > 0 && g.Spans[n-1].End == Open {
			g.Spans[n-1].End = end
		}
	}
	closeIntervals(b.tl.Runtime.GC, end)
	closeIntervals(b.tl.Runtime.STW, end)
	return b.tl
}

// hideAllButScenario hides every goroutine that does not descend from the
// scenario's root.
func (b *Builder) hideAllButScenario() {
	parent := make(map[int64]int64, len(b.tl.Goroutines))
	for _, g := range b.tl.Goroutines {
		parent[g.ID] = g.Parent
	}
	root := int64(b.root)
	for _, g := range b.tl.Goroutines {
		id, seen := g.ID, 0
		for id != 0 && id != root && seen <= len(parent) {
			id, seen = parent[id], seen+1
		}
		g.Hidden = id != root || isRuntimeFunc(g.Name)
	}
}

// stateOf maps a runtime block reason, refined by the blocking stack, to a
// state. Reasons are the runtime's strings (see traceBlockReasonStrings).
func stateOf(to trace.GoState, reason string, stk trace.Stack) State {
	switch to {
	case trace.GoRunning:
		return StateRunning
	case trace.GoRunnable:
		return StateRunnable
	case trace.GoSyscall:
		return StateSyscall
	case trace.GoNotExist:
		return StateDone
	}
	switch reason {
	case "chan receive":
		return StateBlockedRecv
	case "chan send":
		return StateBlockedSend
	case "select":
		return StateBlockedSelect
	case "forever":
		return StateStuck
	case "sleep":
		return StateSleep
	case "network":
		return StateBlockedIO
	case "sync.(*Cond).Wait":
		return StateBlockedCond
	case "sync":
		for f := range stk.Frames() {
			switch {
			case strings.HasPrefix(f.Func, "sync.(*WaitGroup)."):
				return StateBlockedWaitGroup
			case strings.HasPrefix(f.Func, "sync.(*RWMutex)."):
				return StateBlockedRWMutex
			case strings.HasPrefix(f.Func, "sync.(*Mutex)."):
				return StateBlockedMutex
			}
		}
		return StateBlockedSync
	}
	return StateBlockedOther
}

// startFunc is the function a goroutine starts in: the single frame of its
// start stack.
func startFunc(stk trace.Stack) string {
	for f := range stk.Frames() {
		return f.Func
	}
	return ""
}

// outerFunc is the outermost function of a stack.
func outerFunc(stk trace.Stack) string {
	name := ""
	for f := range stk.Frames() {
		name = f.Func
	}
	return name
}
