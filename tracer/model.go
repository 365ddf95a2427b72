package tracer

import (
	"fmt"

	"github.com/concviz/concviz/scenarios"
)

// This file is the timeline model: the only data that crosses from Go into
// the browser. Times are nanoseconds since the first event of the trace.

// State is what a goroutine does during a span. The blocked states are told
// apart by the block reason the runtime records and then by the stack (a
// "sync" block inside sync.(*WaitGroup).Wait is a WaitGroup wait).
type State uint8

// The states, StateNone to StateLast; presentation tables are indexed by them.
const (
	StateNone             State = iota
	StateRunning                // on a CPU
	StateRunnable               // ready, waiting for a CPU
	StateSyscall                // in a system call
	StateBlockedSend            // blocked sending on a channel
	StateBlockedRecv            // blocked receiving from a channel
	StateBlockedSelect          // blocked in a select
	StateBlockedMutex           // blocked in sync.Mutex.Lock
	StateBlockedRWMutex         // blocked in a sync.RWMutex lock
	StateBlockedWaitGroup       // blocked in sync.WaitGroup.Wait
	StateBlockedCond            // blocked in sync.Cond.Wait
	StateBlockedSync            // blocked in another sync primitive
	StateSleep                  // in time.Sleep
	StateBlockedIO              // waiting for the network or a file
	StateStuck                  // blocked for ever: nil channel, empty select
	StateBlockedOther           // any other wait (GC assist, ...)
	StateDone                   // exited
	StateLast
)

var stateNames = [StateLast]string{
	StateNone:             "none",
	StateRunning:          "running",
	StateRunnable:         "runnable",
	StateSyscall:          "syscall",
	StateBlockedSend:      "blocked-send",
	StateBlockedRecv:      "blocked-recv",
	StateBlockedSelect:    "blocked-select",
	StateBlockedMutex:     "blocked-mutex",
	StateBlockedRWMutex:   "blocked-rwmutex",
	StateBlockedWaitGroup: "blocked-waitgroup",
	StateBlockedCond:      "blocked-cond",
	StateBlockedSync:      "blocked-sync",
	StateSleep:            "sleep",
	StateBlockedIO:        "blocked-io",
	StateStuck:            "stuck",
	StateBlockedOther:     "blocked-other",
	StateDone:             "done",
}

func (s State) String() string {
	if s < StateLast {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Blocked reports whether the state is a wait that another goroutine (or
// time) must end.
func (s State) Blocked() bool {
	return s >= StateBlockedSend && s <= StateBlockedOther
}

// MarshalText encodes the state as its name.
func (s State) MarshalText() ([]byte, error) {
	if s >= StateLast {
		return nil, fmt.Errorf("marshal state: unknown state %d", uint8(s))
	}
	return []byte(stateNames[s]), nil
}

// UnmarshalText decodes a state name.
func (s *State) UnmarshalText(b []byte) error {
	for i, n := range stateNames {
		if n == string(b) {
			*s = State(i)
			return nil
		}
	}
	return fmt.Errorf("unmarshal state: unknown state %q", b)
}

// StateNames lists the state names in order, for the browser's legend.
func StateNames() []string {
	return stateNames[:]
}

// Location is a point in source code.
type Location struct {
	Func string `json:"func"`
	File string `json:"file"`
	Line int    `json:"line"`
	// Source is the text of the line, when the file could be read.
	Source string `json:"source,omitempty"`
}

func (l Location) String() string {
	return fmt.Sprintf("%s (%s:%d)", l.Func, baseName(l.File), l.Line)
}

// Stack is a call stack, innermost frame first. User is the index of the
// first frame in user code (runtime and standard library frames skipped), or
// -1 when every frame is the runtime's.
type Stack struct {
	Frames []Location `json:"frames"`
	User   int        `json:"user"`
}

// UserFrame returns the first user-code frame, or the innermost frame when
// the stack has none.
func (s *Stack) UserFrame() (Location, bool) {
	if s == nil || len(s.Frames) == 0 {
		return Location{}, false
	}
	if s.User >= 0 {
		return s.Frames[s.User], true
	}
	return s.Frames[0], true
}

// NoStack is the stack index of an event without a stack.
const NoStack = -1

// Span is an interval of one goroutine in one state. Spans of a goroutine
// are contiguous and ordered; the last span of a live goroutine is open
// (End == Open) until the goroutine changes state or the trace ends.
type Span struct {
	Start int64 `json:"start"`
	End   int64 `json:"end"`
	State State `json:"state"`
	// Reason is the runtime's raw block reason ("chan receive", "sync", ...).
	Reason string `json:"reason,omitempty"`
	// Stack indexes Timeline.Stacks: where the goroutine entered the state.
	Stack int `json:"stack"`
}

// Open marks the end of a span that has not ended yet.
const Open = -1

// Goroutine is one lane of the timeline.
type Goroutine struct {
	ID int64 `json:"id"`
	// Name is the goroutine's start function, shortened to package.func.
	Name string `json:"name"`
	// Parent is the goroutine that created it, 0 if unknown.
	Parent int64 `json:"parent"`
	// Created indexes Timeline.Stacks: where the go statement ran.
	Created int `json:"created"`
	// Hidden marks goroutines of the harness and the runtime, which the
	// views leave out by default.
	Hidden bool   `json:"hidden,omitempty"`
	Spans  []Span `json:"spans"`
}

// LinkKind says what a link between two goroutines means.
type LinkKind string

// The kinds of link.
const (
	LinkCreate LinkKind = "create" // From ran the go statement that made To
	LinkWake   LinkKind = "wake"   // From unblocked To (a send, an unlock, ...)
)

// Link is an arrow between two goroutines at one moment.
type Link struct {
	Kind LinkKind `json:"kind"`
	From int64    `json:"from"`
	To   int64    `json:"to"`
	Time int64    `json:"time"`
	// Stack indexes Timeline.Stacks: the stack of From when it happened.
	Stack int `json:"stack"`
}

// LogEntry is a trace.Log event: a value a scenario chose to show.
type LogEntry struct {
	Time     int64  `json:"time"`
	G        int64  `json:"g"`
	Category string `json:"category"`
	Message  string `json:"message"`
}

// Timeline is a run's goroutines, their spans and the links between them.
type Timeline struct {
	// Scenario and Variant name the run when concviz recorded the trace;
	// both are empty for a user's trace.
	Scenario string `json:"scenario,omitempty"`
	Variant  string `json:"variant,omitempty"`
	// Duration is the time from the first to the last event.
	Duration   int64        `json:"duration_ns"`
	Goroutines []*Goroutine `json:"goroutines"`
	Links      []Link       `json:"links"`
	Stacks     []Stack      `json:"stacks"`
	Logs       []LogEntry   `json:"logs"`
	// Runtime is what the runtime itself did: GC, pauses, heap.
	Runtime Runtime `json:"runtime"`
	// Generations counts the complete trace generations read.
	Generations int `json:"generations"`
	// Truncated says that the trace ended in the middle of a generation;
	// what came after the last complete generation is lost.
	Truncated bool     `json:"truncated,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
}

// Runtime holds the runtime lanes drawn above the goroutines.
type Runtime struct {
	// GC holds the concurrent mark phases of garbage collection cycles.
	GC []Interval `json:"gc"`
	// STW holds stop-the-world pauses. In a scenario run the harness's
	// own pauses (its goroutine dumps, starting the trace) are left out.
	STW []Interval `json:"stw"`
	// Heap samples the bytes of live and not yet swept heap objects;
	// HeapGoal the heap size at which the next cycle is due to end.
	Heap     []Sample `json:"heap"`
	HeapGoal []Sample `json:"heap_goal"`
}

// Interval is a stretch of runtime activity; End is Open while it lasts.
type Interval struct {
	Start  int64  `json:"start"`
	End    int64  `json:"end"`
	Reason string `json:"reason,omitempty"`
}

// Sample is one reading of a runtime metric.
type Sample struct {
	Time  int64  `json:"t"`
	Value uint64 `json:"v"`
}

// Goroutine returns the goroutine with the given id, or nil.
func (t *Timeline) Goroutine(id int64) *Goroutine {
	for _, g := range t.Goroutines {
		if g.ID == id {
			return g
		}
	}
	return nil
}

// Stack returns the stack at index i, or nil for NoStack.
func (t *Timeline) Stack(i int) *Stack {
	if i < 0 || i >= len(t.Stacks) {
		return nil
	}
	return &t.Stacks[i]
}

// Update is what changed in a timeline since the previous update: sent to a
// live view once per trace generation.
type Update struct {
	// Generation is the number of complete generations read so far.
	Generation int `json:"generation"`
	// Now is the time of the latest event seen.
	Now int64 `json:"now"`
	// Wall is the wall-clock time of Now in Unix nanoseconds (0 when the
	// trace carries no clock snapshot), so that a view on the same machine
	// can measure how far behind the live run it is.
	Wall int64 `json:"wall_ns"`
	// Goroutines holds every goroutine that changed; FromSpan says from
	// which span index its Spans replace the ones the view already has.
	Goroutines []GoroutineDelta `json:"goroutines"`
	// Links, Stacks and Logs are appended to what the view has; Stacks
	// start at index StackBase.
	Links     []Link     `json:"links"`
	StackBase int        `json:"stack_base"`
	Stacks    []Stack    `json:"stacks"`
	Logs      []LogEntry `json:"logs"`
	// Runtime holds the runtime lanes' changes: intervals replace the
	// view's from the given index on, samples are appended.
	Runtime RuntimeDelta `json:"runtime"`
}

// RuntimeDelta is what changed in the runtime lanes.
type RuntimeDelta struct {
	GCFrom   int        `json:"gc_from"`
	GC       []Interval `json:"gc"`
	STWFrom  int        `json:"stw_from"`
	STW      []Interval `json:"stw"`
	Heap     []Sample   `json:"heap"`
	HeapGoal []Sample   `json:"heap_goal"`
}

// GoroutineDelta is the changed part of one goroutine.
type GoroutineDelta struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	Parent   int64  `json:"parent"`
	Created  int    `json:"created"`
	Hidden   bool   `json:"hidden,omitempty"`
	FromSpan int    `json:"from_span"`
	Spans    []Span `json:"spans"`
}

// Report is the diagnosis of a run: what `viz run --json` prints and what
// the browser shows at the end of a run.
type Report struct {
	Scenario string            `json:"scenario"`
	Variant  string            `json:"variant"`
	Outcome  scenarios.Outcome `json:"outcome"`
	// Expected is the outcome the variant declares, for comparison.
	Expected   scenarios.Outcome `json:"expected,omitempty"`
	Findings   []Finding         `json:"findings"`
	Goroutines int               `json:"goroutines"`
	DurationNS int64             `json:"duration_ns"`
	// Output is what the scenario printed on stdout (capped).
	Output string `json:"output,omitempty"`
	// Crash is the child's stderr when it panicked or crashed (capped).
	Crash string `json:"crash,omitempty"`
	// Race is the raw race detector output, when there was any.
	Race     string   `json:"race,omitempty"`
	ExitCode int      `json:"exit_code"`
	Warnings []string `json:"warnings,omitempty"`
}

// Finding is one thing that went wrong, with where and who.
type Finding struct {
	Kind scenarios.Outcome `json:"kind"`
	// Summary is one plain sentence a learner understands.
	Summary    string         `json:"summary"`
	Goroutines []GoroutineRef `json:"goroutines"`
	Locations  []Location     `json:"locations"`
	// Time is where the finding happens on the timeline.
	Time int64 `json:"time_ns"`
}

// GoroutineRef names a goroutine involved in a finding and what it was
// doing.
type GoroutineRef struct {
	ID       int64    `json:"id"`
	Name     string   `json:"name"`
	State    State    `json:"state"`
	Reason   string   `json:"reason,omitempty"`
	Location Location `json:"location"`
}
