package web

import (
	"context"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/concviz/concviz/tracer"
)

// applyRuntime applies a runtime delta to a view's lanes, as the page does
// (runtime.js applyRuntimeDelta).
func applyRuntime(v *tracer.Runtime, d tracer.RuntimeDelta) {
	v.GC = append(v.GC[:d.GCFrom:d.GCFrom], d.GC...)
	v.STW = append(v.STW[:d.STWFrom:d.STWFrom], d.STW...)
	v.Heap = append(v.Heap, d.Heap...)
	v.HeapGoal = append(v.HeapGoal, d.HeapGoal...)
}

// TestRuntimeLanesSurviveMerging runs a real scenario and streams its
// updates as a session does: filtered, and merged as a slow client would
// get them. Applied one by one or merged, they build the runtime lanes of
// the final timeline.
func TestRuntimeLanesSurviveMerging(t *testing.T) {
	var mu sync.Mutex
	var updates []*tracer.Update
	hidden := map[int64]bool{}
	res, err := tracer.Run(context.Background(), tracer.RunOptions{
		Scenario: "select-default-spin", Variant: "broken",
		OnUpdate: func(u *tracer.Update) {
			mu.Lock()
			defer mu.Unlock()
			updates = append(updates, filterUpdate(u, false, hidden))
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := res.Timeline.Runtime
	if len(want.Heap) == 0 {
		t.Fatal("the run recorded no heap samples")
	}
	var one tracer.Runtime
	for _, u := range updates {
		applyRuntime(&one, u.Runtime)
	}
	// A slow client: every update merges into the first one still queued.
	merged := filterUpdate(updates[0], false, map[int64]bool{})
	for _, u := range updates[1:] {
		if !mergeUpdate(merged, u) {
			t.Fatalf("update of generation %d does not merge", u.Generation)
		}
	}
	var all tracer.Runtime
	applyRuntime(&all, merged.Runtime)
	for name, got := range map[string]tracer.Runtime{"one by one": one, "merged": all} {
		// slices.Equal, not reflect.DeepEqual: a run without a GC cycle has
		// an empty GC list on one side and none on the other.
		if !slices.Equal(got.GC, want.GC) || !slices.Equal(got.STW, want.STW) ||
			!slices.Equal(got.Heap, want.Heap) || !slices.Equal(got.HeapGoal, want.HeapGoal) {
			t.Errorf("%s: the updates build GC %v, STW %v, %d heap and %d goal samples; the timeline has GC %v, STW %v, %d and %d",
				name, got.GC, got.STW, len(got.Heap), len(got.HeapGoal), want.GC, want.STW, len(want.Heap), len(want.HeapGoal))
		}
	}
}

// TestMergeIntervals checks the merging of interval deltas on a case that
// a real run rarely shows: a later delta that keeps some of the earlier
// one's intervals.
func TestMergeIntervals(t *testing.T) {
	iv := func(s, e int64) tracer.Interval { return tracer.Interval{Start: s, End: e} }
	view := []tracer.Interval{iv(0, 1)}
	a := tracer.RuntimeDelta{GCFrom: 1, GC: []tracer.Interval{iv(2, -1)}}
	b := tracer.RuntimeDelta{GCFrom: 1, GC: []tracer.Interval{iv(2, 3), iv(4, -1)}}
	c := tracer.RuntimeDelta{GCFrom: 2, GC: []tracer.Interval{iv(4, 5)}}
	want := tracer.Runtime{GC: append([]tracer.Interval{}, view...)}
	for _, d := range []tracer.RuntimeDelta{a, b, c} {
		applyRuntime(&want, d)
	}
	m := a
	for _, d := range []tracer.RuntimeDelta{b, c} {
		m.GC, m.GCFrom = mergeIntervals(m.GC, m.GCFrom, d.GC, d.GCFrom)
	}
	got := tracer.Runtime{GC: append([]tracer.Interval{}, view...)}
	applyRuntime(&got, m)
	if !reflect.DeepEqual(got.GC, want.GC) {
		t.Errorf("merged deltas give %v, one by one %v", got.GC, want.GC)
	}
}
