package tracer

import (
	"bytes"
	"fmt"
	"io"
	"time"

	"github.com/google/pprof/profile"
	"golang.org/x/exp/trace"
)

// This file builds a profile of a time window of a recorded trace. A
// run's profile covers the whole run; a learner who sees one goroutine spin
// for 50 ms wants to know where exactly those 50 ms went, and `go tool
// trace` only offers profiles of the whole trace. The execution trace holds
// what is needed: the CPU samples that runtime/pprof puts into it while a
// CPU profile is on, and the stack at which every goroutine blocked.

// Window is a stretch of a timeline, in the model's nanoseconds since the
// first event; Start is included and End is not.
type Window struct {
	Start int64 `json:"start"`
	End   int64 `json:"end"`
}

// cpuSamplePeriod is the time one CPU sample stands for: runtime/pprof
// samples at 100 Hz, and the trace does not record the rate.
const cpuSamplePeriod = 10 * time.Millisecond

// The pprof labels of a window profile's samples, so that a sample says
// when it happened and on which goroutine (pprof's tag filters use them).
const (
	// LabelTime is the sample's time, or the start of a blocked stretch,
	// in the model's nanoseconds; LabelTimeEnd is where a blocked stretch
	// ends inside the window.
	LabelTime    = "time"
	LabelTimeEnd = "time_end"
	// LabelGoroutine is the goroutine's id.
	LabelGoroutine = "goroutine"
	// LabelState is "running" for a CPU sample, else the blocked state.
	LabelState = "state"
)

// WindowProfile reads a recorded trace and returns a pprof profile, gzipped
// protobuf, of the window w. Kind ProfileCPU counts the trace's CPU samples
// that fall in the window (they exist only when the run recorded a CPU
// profile). Kind ProfileWall adds, for every goroutine the timeline shows,
// the time it spent blocked in the window, at the stack where it blocked:
// wall time is running time plus waiting time. In a trace without CPU
// samples, the wall profile charges the time goroutines ran or waited for
// a CPU to their functions, since no line is known. A trace that breaks
// off is used up to where it broke.
func WindowProfile(r io.Reader, w Window, kind string) ([]byte, error) {
	if w.End <= w.Start || w.Start < 0 {
		return nil, fmt.Errorf("window profile: empty window [%d, %d)", w.Start, w.End)
	}
	if kind != ProfileCPU && kind != ProfileWall {
		return nil, fmt.Errorf("window profile: unknown kind %q (want %s or %s)", kind, ProfileCPU, ProfileWall)
	}
	tr, err := trace.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("window profile: read trace: %w", err)
	}
	// The builder gives the blocked spans and says which goroutines the
	// timeline shows; its times are relative to the first event, as ours.
	b := NewBuilder(false)
	pb := newProfileBuilder(kind, w)
	var start trace.Time
	started := false
	cpuSamples := 0
	for {
		ev, err := tr.ReadEvent()
		if err != nil {
			break
		}
		if !started {
			start, started = ev.Time(), true
		}
		b.Event(&ev)
		if ev.Kind() != trace.EventStackSample {
			continue
		}
		cpuSamples++
		t := int64(ev.Time() - start)
		if t >= w.Start && t < w.End {
			pb.cpuSample(t, int64(ev.Goroutine()), ev.Stack())
		}
	}
	if !started {
		return nil, fmt.Errorf("window profile: the trace has no events")
	}
	tl := b.Finish()
	if kind == ProfileWall {
		for _, g := range tl.Goroutines {
			if g.Hidden {
				continue
			}
			for _, s := range g.Spans {
				from, to := max(s.Start, w.Start), min(s.End, w.End)
				switch {
				case to <= from:
				case s.State.Blocked():
					pb.blocked(from, to, g.ID, s.State, tl.Stack(s.Stack))
				case cpuSamples == 0 && (s.State == StateRunning || s.State == StateRunnable):
					// Without CPU samples the trace does not say where a
					// goroutine ran, only that it did, and for how long.
					pb.unsampled(from, to, g, s.State)
				}
			}
		}
	}
	p := pb.p
	// The harness's own goroutines (its watchdog, the trace reader) say
	// nothing about the scenario, as in the run's profile.
	kept := p.Sample[:0]
	for _, s := range p.Sample {
		if !harnessSample(s) {
			kept = append(kept, s)
		}
	}
	p.Sample = kept
	if err := p.CheckValid(); err != nil {
		return nil, fmt.Errorf("window profile: %w", err)
	}
	var out bytes.Buffer
	if err := p.Write(&out); err != nil {
		return nil, fmt.Errorf("window profile: write: %w", err)
	}
	return out.Bytes(), nil
}

// profileBuilder assembles a pprof profile, interning its functions and
// locations.
type profileBuilder struct {
	p     *profile.Profile
	funcs map[[2]string]*profile.Function
	locs  map[locKey]*profile.Location
}

// locKey identifies a location: one frame at one program counter (0 for the
// frames of the timeline's stacks, which keep none).
type locKey struct {
	pc   uint64
	fn   string
	file string
	line int64
}

func newProfileBuilder(kind string, w Window) *profileBuilder {
	value := &profile.ValueType{Type: "cpu", Unit: "nanoseconds"}
	if kind == ProfileWall {
		value = &profile.ValueType{Type: "wall", Unit: "nanoseconds"}
	}
	return &profileBuilder{
		p: &profile.Profile{
			SampleType:    []*profile.ValueType{{Type: "samples", Unit: "count"}, value},
			PeriodType:    value,
			Period:        int64(cpuSamplePeriod),
			DurationNanos: w.End - w.Start,
			Comments:      []string{fmt.Sprintf("concviz: %s profile of the window %v to %v of the trace", kind, time.Duration(w.Start), time.Duration(w.End))},
		},
		funcs: make(map[[2]string]*profile.Function),
		locs:  make(map[locKey]*profile.Location),
	}
}

// cpuSample adds one CPU sample of the trace.
func (pb *profileBuilder) cpuSample(t, g int64, stk trace.Stack) {
	var locs []*profile.Location
	for f := range stk.Frames() {
		locs = append(locs, pb.location(locKey{pc: f.PC, fn: f.Func, file: f.File, line: int64(f.Line)}))
	}
	if len(locs) == 0 {
		return
	}
	pb.p.Sample = append(pb.p.Sample, &profile.Sample{
		Location: locs,
		Value:    []int64{1, int64(cpuSamplePeriod)},
		Label:    map[string][]string{LabelState: {StateRunning.String()}},
		NumLabel: map[string][]int64{LabelTime: {t}, LabelGoroutine: {g}},
		NumUnit:  map[string][]string{LabelTime: {"nanoseconds"}},
	})
}

// blocked adds the stretch [from, to) in which goroutine g was blocked at
// stk. A wait without a stack is still time spent: it is charged to a
// frame that says so.
func (pb *profileBuilder) blocked(from, to, g int64, state State, stk *Stack) {
	var locs []*profile.Location
	if stk != nil {
		for _, f := range stk.Frames {
			locs = append(locs, pb.location(locKey{fn: f.Func, file: f.File, line: int64(f.Line)}))
		}
	}
	if len(locs) == 0 {
		locs = append(locs, pb.location(locKey{fn: "(" + state.String() + ", no stack)"}))
	}
	pb.p.Sample = append(pb.p.Sample, &profile.Sample{
		Location: locs,
		Value:    []int64{1, to - from},
		Label:    map[string][]string{LabelState: {state.String()}},
		NumLabel: map[string][]int64{LabelTime: {from}, LabelTimeEnd: {to}, LabelGoroutine: {g}},
		NumUnit:  map[string][]string{LabelTime: {"nanoseconds"}, LabelTimeEnd: {"nanoseconds"}},
	})
}

// unsampled adds the stretch [from, to) in which goroutine g ran, or
// waited for a CPU, in a trace without CPU samples: it is charged to the
// goroutine's function under a frame that says why no line is known.
func (pb *profileBuilder) unsampled(from, to int64, g *Goroutine, state State) {
	why := "(running: record a CPU profile to see where)"
	if state == StateRunnable {
		why = "(runnable: waiting for a CPU)"
	}
	pb.p.Sample = append(pb.p.Sample, &profile.Sample{
		Location: []*profile.Location{pb.location(locKey{fn: why}), pb.location(locKey{fn: g.Name})},
		Value:    []int64{1, to - from},
		Label:    map[string][]string{LabelState: {state.String()}},
		NumLabel: map[string][]int64{LabelTime: {from}, LabelTimeEnd: {to}, LabelGoroutine: {g.ID}},
		NumUnit:  map[string][]string{LabelTime: {"nanoseconds"}, LabelTimeEnd: {"nanoseconds"}},
	})
}

func (pb *profileBuilder) location(k locKey) *profile.Location {
	if l, ok := pb.locs[k]; ok {
		return l
	}
	fk := [2]string{k.fn, k.file}
	fn, ok := pb.funcs[fk]
	if !ok {
		fn = &profile.Function{ID: uint64(len(pb.p.Function) + 1), Name: k.fn, SystemName: k.fn, Filename: k.file}
		pb.funcs[fk] = fn
		pb.p.Function = append(pb.p.Function, fn)
	}
	l := &profile.Location{ID: uint64(len(pb.p.Location) + 1), Address: k.pc, Line: []profile.Line{{Function: fn, Line: k.line}}}
	pb.locs[k] = l
	pb.p.Location = append(pb.p.Location, l)
	return l
}
