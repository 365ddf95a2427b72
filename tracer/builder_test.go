package tracer

import (
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"golang.org/x/exp/trace"

	"github.com/concviz/concviz/scenarios"
)

// fixture returns the path of a trace recorded by testdata/traces/gen.go
// with this Go version, skipping when none was recorded with it.
func fixture(t *testing.T, scenario, variant string) string {
	t.Helper()
	v := runtime.Version()
	if strings.Count(v, ".") > 1 {
		v = v[:strings.LastIndexByte(v, '.')]
	}
	p := filepath.Join("testdata", "traces", v+"-"+scenario+"-"+variant+".trace")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("no fixture for %s: run go generate's gen.go in testdata/traces (%v)", v, err)
	}
	return p
}

// build reads a whole trace file into a timeline, also collecting the
// updates a live view would have received, one per generation.
func build(t *testing.T, path string) (*Timeline, []*Update) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := trace.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b := NewBuilder(true)
	var updates []*Update
	for {
		ev, err := r.ReadEvent()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ev.Kind() == trace.EventSync && b.Dirty() {
			updates = append(updates, b.Flush())
		}
		b.Event(&ev)
	}
	updates = append(updates, b.Flush())
	return b.Finish(), updates
}

func visible(tl *Timeline) []*Goroutine {
	var gs []*Goroutine
	for _, g := range tl.Goroutines {
		if !g.Hidden {
			gs = append(gs, g)
		}
	}
	return gs
}

func lastSpan(g *Goroutine) Span { return g.Spans[len(g.Spans)-1] }

func TestBuilderDeadlockFixture(t *testing.T) {
	tl, _ := build(t, fixture(t, "deadlock-cross-wait", "broken"))
	s, _ := scenarios.Lookup("deadlock-cross-wait")
	bug := s.MarkedLines("// BUG")
	gs := visible(tl)
	// The harness's goroutines and the runtime's are hidden: the lanes are
	// the scenario's root and the helper it starts.
	if len(gs) != 2 {
		t.Fatalf("visible goroutines = %d, want 2: %+v", len(gs), gs)
	}
	root, helper := gs[0], gs[1]
	if root.Name != "scenarios.crossWaitBroken" {
		t.Errorf("root lane named %q, want the variant's function", root.Name)
	}
	if helper.Parent != root.ID || !strings.HasPrefix(helper.Name, "scenarios.crossWaitBroken.func") {
		t.Errorf("helper = %q parent G%d, want a closure of the root created by G%d", helper.Name, helper.Parent, root.ID)
	}
	for _, g := range gs {
		sp := lastSpan(g)
		if sp.State != StateBlockedRecv || sp.Reason != "chan receive" {
			t.Errorf("G%d ends %s (%q), want blocked-recv (chan receive)", g.ID, sp.State, sp.Reason)
		}
		loc, ok := tl.Stack(sp.Stack).UserFrame()
		if !ok || filepath.Base(loc.File) != s.File || !slices.Contains(bug, loc.Line) {
			t.Errorf("G%d blocks at %v, want a // BUG line %v of %s", g.ID, loc, bug, s.File)
		}
	}
	if !hasLink(tl, LinkCreate, root.ID, helper.ID) {
		t.Errorf("no create link G%d -> G%d", root.ID, helper.ID)
	}
}

func TestBuilderFixedFixtureHasWakeups(t *testing.T) {
	tl, _ := build(t, fixture(t, "deadlock-cross-wait", "fixed"))
	gs := visible(tl)
	if len(gs) != 2 {
		t.Fatalf("visible goroutines = %d, want 2", len(gs))
	}
	root, helper := gs[0], gs[1]
	// The helper receives, then sends the reply: one wakes the other.
	if !hasLink(tl, LinkWake, root.ID, helper.ID) && !hasLink(tl, LinkWake, helper.ID, root.ID) {
		t.Errorf("no wake link between G%d and G%d: %+v", root.ID, helper.ID, tl.Links)
	}
	if st := lastSpan(helper).State; st != StateDone {
		t.Errorf("helper ends %s, want done", st)
	}
	for _, g := range gs {
		for i, sp := range g.Spans {
			if sp.End < sp.Start || (i > 0 && sp.Start != g.Spans[i-1].End) {
				t.Fatalf("G%d spans not contiguous at %d: %+v", g.ID, i, g.Spans)
			}
		}
	}
}

func TestBuilderLeakFixture(t *testing.T) {
	tl, _ := build(t, fixture(t, "leak-unread-result", "broken"))
	var blockedSend int
	for _, g := range visible(tl) {
		if lastSpan(g).State == StateBlockedSend {
			blockedSend++
		}
	}
	if blockedSend != 1 {
		t.Errorf("%d goroutines end blocked sending, want the one leaked", blockedSend)
	}
}

// TestUpdatesRebuildTheTimeline applies the per-generation deltas the way a
// live view does and checks that they add up to the finished timeline.
func TestUpdatesRebuildTheTimeline(t *testing.T) {
	for _, fx := range [][2]string{{"deadlock-cross-wait", "broken"}, {"deadlock-cross-wait", "fixed"}, {"leak-unread-result", "broken"}} {
		t.Run(fx[0]+"/"+fx[1], func(t *testing.T) {
			tl, updates := build(t, fixture(t, fx[0], fx[1]))
			if len(updates) < 2 {
				t.Errorf("only %d updates: a live view would not see the run unfold", len(updates))
			}
			view := &Timeline{}
			for _, u := range updates {
				applyUpdate(view, u)
			}
			for _, g := range view.Goroutines {
				if n := len(g.Spans); n > 0 && g.Spans[n-1].End == Open {
					g.Spans[n-1].End = tl.Duration
				}
			}
			if !reflect.DeepEqual(view.Goroutines, tl.Goroutines) {
				t.Errorf("goroutines rebuilt from updates differ from the timeline")
			}
			if !reflect.DeepEqual(view.Stacks, tl.Stacks) || !reflect.DeepEqual(view.Links, tl.Links) {
				t.Errorf("stacks or links rebuilt from updates differ from the timeline")
			}
			closeIntervals(view.Runtime.GC, tl.Duration)
			closeIntervals(view.Runtime.STW, tl.Duration)
			if len(view.Runtime.Heap) != len(tl.Runtime.Heap) || len(view.Runtime.GC) != len(tl.Runtime.GC) ||
				len(view.Runtime.STW) != len(tl.Runtime.STW) {
				t.Errorf("runtime lanes rebuilt from updates differ: heap %d/%d, gc %d/%d, stw %d/%d",
					len(view.Runtime.Heap), len(tl.Runtime.Heap), len(view.Runtime.GC), len(tl.Runtime.GC),
					len(view.Runtime.STW), len(tl.Runtime.STW))
			}
		})
	}
}

// applyUpdate is what a live view does with an update.
func applyUpdate(v *Timeline, u *Update) {
	for _, d := range u.Goroutines {
		g := v.Goroutine(d.ID)
		if g == nil {
			g = &Goroutine{ID: d.ID, Spans: []Span{}}
			v.Goroutines = append(v.Goroutines, g)
		}
		g.Name, g.Parent, g.Created, g.Hidden = d.Name, d.Parent, d.Created, d.Hidden
		g.Spans = append(g.Spans[:d.FromSpan], d.Spans...)
	}
	v.Stacks = append(v.Stacks[:u.StackBase], u.Stacks...)
	v.Links = append(v.Links, u.Links...)
	rt, d := &v.Runtime, u.Runtime
	rt.GC = append(rt.GC[:d.GCFrom], d.GC...)
	rt.STW = append(rt.STW[:d.STWFrom], d.STW...)
	rt.Heap = append(rt.Heap, d.Heap...)
	rt.HeapGoal = append(rt.HeapGoal, d.HeapGoal...)
}

func hasLink(tl *Timeline, kind LinkKind, from, to int64) bool {
	for _, l := range tl.Links {
		if l.Kind == kind && l.From == from && l.To == to {
			return true
		}
	}
	return false
}

// TestRuntimeLanes checks the runtime lanes of a recording: heap samples,
// and no stop-the-world pause of the harness's own making.
func TestRuntimeLanes(t *testing.T) {
	tl, _ := build(t, fixture(t, "deadlock-cross-wait", "broken"))
	if len(tl.Runtime.Heap) == 0 {
		t.Errorf("no heap samples")
	}
	for _, p := range tl.Runtime.STW {
		if isHarnessPause(p.Reason) {
			t.Errorf("harness pause %q shown in a scenario run", p.Reason)
		}
		if p.End < p.Start {
			t.Errorf("pause %+v ends before it starts", p)
		}
	}
}
