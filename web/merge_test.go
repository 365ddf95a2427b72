package web

import (
	"reflect"
	"testing"

	"github.com/concviz/concviz/tracer"
)

func span(start, end int64, st tracer.State) tracer.Span {
	return tracer.Span{Start: start, End: end, State: st, Stack: tracer.NoStack}
}

func delta(id int64, from int, spans ...tracer.Span) tracer.GoroutineDelta {
	return tracer.GoroutineDelta{ID: id, Name: "g", FromSpan: from, Spans: spans}
}

// TestMergeUpdate checks that applying a merged update builds the same view
// as applying its two parts one after the other.
func TestMergeUpdate(t *testing.T) {
	run, recv, done := tracer.StateRunning, tracer.StateBlockedRecv, tracer.StateDone
	base := &tracer.Update{Goroutines: []tracer.GoroutineDelta{
		delta(1, 0, span(0, 5, run), span(5, tracer.Open, recv)),
		delta(2, 0, span(1, tracer.Open, run)),
	}, Stacks: []tracer.Stack{{}}}
	tests := []struct {
		name string
		a, b *tracer.Update
	}{
		{
			name: "b extends a's open span",
			a:    &tracer.Update{Goroutines: []tracer.GoroutineDelta{delta(1, 1, span(5, 8, recv), span(8, tracer.Open, run))}, StackBase: 1},
			b:    &tracer.Update{Goroutines: []tracer.GoroutineDelta{delta(1, 2, span(8, 9, run), span(9, tracer.Open, done))}, StackBase: 1},
		},
		{
			name: "b replaces from before a's first span",
			a:    &tracer.Update{Goroutines: []tracer.GoroutineDelta{delta(1, 1, span(5, 8, recv), span(8, tracer.Open, run))}, StackBase: 1},
			b:    &tracer.Update{Goroutines: []tracer.GoroutineDelta{delta(1, 0, span(0, 9, run))}, StackBase: 1},
		},
		{
			name: "b replaces a's spans from their start",
			a:    &tracer.Update{Goroutines: []tracer.GoroutineDelta{delta(2, 0, span(1, 3, run), span(3, tracer.Open, recv))}, StackBase: 1},
			b:    &tracer.Update{Goroutines: []tracer.GoroutineDelta{delta(2, 0, span(1, 2, run))}, StackBase: 1},
		},
		{
			name: "new goroutines, stacks, links and logs",
			a: &tracer.Update{Goroutines: []tracer.GoroutineDelta{delta(3, 0, span(6, tracer.Open, run))}, StackBase: 1,
				Stacks: []tracer.Stack{{User: -1}}, Links: []tracer.Link{{Kind: tracer.LinkCreate, From: 1, To: 3, Time: 6}},
				Logs: []tracer.LogEntry{{Time: 6, G: 3, Message: "a"}}},
			b: &tracer.Update{Goroutines: []tracer.GoroutineDelta{delta(4, 0, span(7, tracer.Open, run)), delta(3, 1, span(7, tracer.Open, recv))},
				StackBase: 2, Stacks: []tracer.Stack{{User: 0}, {User: 1}}, Links: []tracer.Link{{Kind: tracer.LinkCreate, From: 3, To: 4, Time: 7}},
				Logs: []tracer.LogEntry{{Time: 7, G: 4, Message: "b"}}, Now: 7, Generation: 9},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := newView()
			want.apply(t, filterUpdate(base, false, map[int64]bool{}))
			want.apply(t, filterUpdate(tt.a, false, map[int64]bool{}))
			want.apply(t, filterUpdate(tt.b, false, map[int64]bool{}))

			merged := filterUpdate(tt.a, false, map[int64]bool{})
			if !mergeUpdate(merged, filterUpdate(tt.b, false, map[int64]bool{})) {
				t.Fatal("mergeUpdate refused updates that fit together")
			}
			if merged.Now != tt.b.Now || merged.Generation != tt.b.Generation {
				t.Errorf("merged now %d generation %d, want b's %d and %d", merged.Now, merged.Generation, tt.b.Now, tt.b.Generation)
			}
			got := newView()
			got.apply(t, filterUpdate(base, false, map[int64]bool{}))
			got.apply(t, merged)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("merged view:\ngot  %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestMergeUpdateGaps checks that updates which do not follow each other are
// refused, and left unchanged, so that the session sends them apart.
func TestMergeUpdateGaps(t *testing.T) {
	run := tracer.StateRunning
	tests := []struct {
		name string
		b    *tracer.Update
	}{
		{"stacks gap", &tracer.Update{StackBase: 5}},
		{"spans gap", &tracer.Update{StackBase: 1, Goroutines: []tracer.GoroutineDelta{delta(1, 4, span(9, tracer.Open, run))}}},
	}
	for _, tt := range tests {
		a := filterUpdate(&tracer.Update{StackBase: 0, Stacks: []tracer.Stack{{}}, Goroutines: []tracer.GoroutineDelta{delta(1, 1, span(5, tracer.Open, run))}}, true, map[int64]bool{})
		before := filterUpdate(a, true, map[int64]bool{})
		if mergeUpdate(a, tt.b) {
			t.Errorf("%s: mergeUpdate accepted updates that do not fit", tt.name)
		}
		if !reflect.DeepEqual(a, before) {
			t.Errorf("%s: refused merge changed the update: %+v, was %+v", tt.name, a, before)
		}
	}
}

// TestHidden checks that hidden goroutines, and the links and logs that
// touch them, are left out unless asked for, in updates and in the end
// timeline.
func TestHidden(t *testing.T) {
	run := tracer.StateRunning
	harness := tracer.GoroutineDelta{ID: 1, Name: "harness", Hidden: true, Spans: []tracer.Span{span(0, tracer.Open, run)}}
	u1 := &tracer.Update{Goroutines: []tracer.GoroutineDelta{harness, delta(2, 0, span(1, tracer.Open, run))},
		Links: []tracer.Link{{Kind: tracer.LinkCreate, From: 1, To: 2}}, Logs: []tracer.LogEntry{{G: 1}, {G: 2}}}
	// A later update links the hidden goroutine without repeating it.
	u2 := &tracer.Update{Links: []tracer.Link{{Kind: tracer.LinkWake, From: 2, To: 1}, {Kind: tracer.LinkWake, From: 2, To: 3}}}

	ids := map[int64]bool{}
	f1, f2 := filterUpdate(u1, false, ids), filterUpdate(u2, false, ids)
	if len(f1.Goroutines) != 1 || f1.Goroutines[0].ID != 2 || len(f1.Links) != 0 || len(f1.Logs) != 1 || f1.Logs[0].G != 2 {
		t.Errorf("filtered first update %+v, want only goroutine 2 and its log", f1)
	}
	if len(f2.Links) != 1 || f2.Links[0].To != 3 {
		t.Errorf("filtered second update links %+v, want only 2->3", f2.Links)
	}
	all := filterUpdate(u1, true, map[int64]bool{})
	if len(all.Goroutines) != 2 || len(all.Links) != 1 || len(all.Logs) != 2 {
		t.Errorf("unfiltered update %+v, want everything", all)
	}
	// The copy is the session's own: changing the tracer's update after
	// the call does not change it.
	u1.Goroutines[1].Spans[0].State = tracer.StateDone
	if all.Goroutines[1].Spans[0].State != run {
		t.Error("filterUpdate shares spans with the tracer's update")
	}

	tl := &tracer.Timeline{
		Goroutines: []*tracer.Goroutine{{ID: 1, Hidden: true}, {ID: 2}},
		Links:      []tracer.Link{{From: 1, To: 2}, {From: 2, To: 2}},
		Logs:       []tracer.LogEntry{{G: 1}, {G: 2}},
		Stacks:     []tracer.Stack{{}, {}},
	}
	got := withoutHidden(tl)
	if len(got.Goroutines) != 1 || got.Goroutines[0].ID != 2 || len(got.Links) != 1 || len(got.Logs) != 1 || len(got.Stacks) != 2 {
		t.Errorf("withoutHidden = %+v, want goroutine 2, its link and log, every stack", got)
	}
	if len(tl.Goroutines) != 2 {
		t.Error("withoutHidden changed the timeline it was given")
	}
	if withoutHidden(nil) != nil {
		t.Error("withoutHidden(nil) != nil")
	}
}
