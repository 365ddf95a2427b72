package tracer

import (
	"strings"

	"golang.org/x/exp/trace"
)

// The runtime's metric and range names in the trace, as runtime/metrics
// names them.
const (
	metricHeap     = "/memory/classes/heap/objects:bytes"
	metricHeapGoal = "/gc/heap/goal:bytes"
	rangeGCMark    = "GC concurrent mark phase"
	rangeSTWPrefix = "stop-the-world ("
)

// harnessPauses are the stop-the-world reasons that a scenario run's
// harness causes itself: its goroutine dumps and starting the trace.
var harnessPauses = []string{"all goroutines stack trace", "start trace", "goroutine profile"}

// metric records a runtime metric sample.
func (b *Builder) metric(ev *trace.Event) {
	m := ev.Metric()
	if m.Value.Kind() != trace.ValueUint64 {
		return
	}
	s := Sample{Time: b.rel(ev.Time()), Value: m.Value.Uint64()}
	switch m.Name {
	case metricHeap:
		b.tl.Runtime.Heap = append(b.tl.Runtime.Heap, s)
	case metricHeapGoal:
		b.tl.Runtime.HeapGoal = append(b.tl.Runtime.HeapGoal, s)
	}
}

// runtimeRange records GC mark phases and stop-the-world pauses.
func (b *Builder) runtimeRange(ev *trace.Event) {
	r := ev.Range()
	now := b.rel(ev.Time())
	rt := &b.tl.Runtime
	switch {
	case r.Name == rangeGCMark:
		b.rt.gcDirty = openOrClose(&rt.GC, ev.Kind(), now, "", b.rt.gcDirty)
	case strings.HasPrefix(r.Name, rangeSTWPrefix):
		reason := strings.TrimSuffix(strings.TrimPrefix(r.Name, rangeSTWPrefix), ")")
		if b.scenarioMode && isHarnessPause(reason) {
			return
		}
		b.rt.stwDirty = openOrClose(&rt.STW, ev.Kind(), now, reason, b.rt.stwDirty)
	}
}

func isHarnessPause(reason string) bool {
	for _, h := range harnessPauses {
		if reason == h {
			return true
		}
	}
	return false
}

// openOrClose opens an interval at a range's begin and closes the open
// one at its end (a range that began before the trace opens at 0). It
// returns the lowest index changed since the last flush.
func openOrClose(ivs *[]Interval, kind trace.EventKind, now int64, reason string, dirty int) int {
	if kind == trace.EventRangeBegin {
		*ivs = append(*ivs, Interval{Start: now, End: Open, Reason: reason})
		return min(dirty, len(*ivs)-1)
	}
	for i := len(*ivs) - 1; i >= 0; i-- {
		if (*ivs)[i].End == Open && (*ivs)[i].Reason == reason {
			(*ivs)[i].End = now
			return min(dirty, i)
		}
	}
	*ivs = append(*ivs, Interval{Start: 0, End: now, Reason: reason})
	return min(dirty, len(*ivs)-1)
}

func closeIntervals(ivs []Interval, end int64) {
	for i := range ivs {
		if ivs[i].End == Open {
			ivs[i].End = end
		}
	}
}

// runtimeState tracks what of the runtime lanes a live view already has.
type runtimeState struct {
	// gcDirty and stwDirty are the lowest interval indices changed since
	// the last flush (noneDirty when none).
	gcDirty, stwDirty  int
	sentHeap, sentGoal int
	initialised        bool
}

const noneDirty = int(^uint(0) >> 1)

func (s *runtimeState) init() {
	if !s.initialised {
		s.gcDirty, s.stwDirty, s.initialised = noneDirty, noneDirty, true
	}
}

func (s *runtimeState) dirty(rt *Runtime) bool {
	s.init()
	return s.gcDirty != noneDirty || s.stwDirty != noneDirty || s.sentHeap < len(rt.Heap) || s.sentGoal < len(rt.HeapGoal)
}

// flush returns the runtime lanes' delta and marks it sent.
func (s *runtimeState) flush(rt *Runtime) RuntimeDelta {
	s.init()
	d := RuntimeDelta{
		GCFrom: min(s.gcDirty, len(rt.GC)), STWFrom: min(s.stwDirty, len(rt.STW)),
		Heap: rt.Heap[s.sentHeap:], HeapGoal: rt.HeapGoal[s.sentGoal:],
	}
	d.GC = append([]Interval{}, rt.GC[d.GCFrom:]...)
	d.STW = append([]Interval{}, rt.STW[d.STWFrom:]...)
	s.gcDirty, s.stwDirty = noneDirty, noneDirty
	s.sentHeap, s.sentGoal = len(rt.Heap), len(rt.HeapGoal)
	return d
}
