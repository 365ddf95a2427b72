package tracer

import (
	"fmt"
	"strings"
	"time"

	"github.com/concviz/concviz/scenarios"
)

// leakGrace is how long after its test ended a goroutine that is not
// blocked (running, asleep, in a system call) must still be alive to count
// as leaked: one that is merely finishing its last lines is not a leak. A
// goroutine blocked on a channel or a lock at the end counts at once.
const leakGrace = 100 * time.Millisecond

// testAnalysis ties the goroutines of a test binary's trace to its tests.
//
// The testing package runs each test in a goroutine of its own, started in
// testing.tRunner: the test's runner. Every goroutine the runner creates,
// directly or through goroutines it created, belongs to the test, up to the
// runners of its subtests, which belong to the subtests. The trace names no
// test, so runners get their names from the order of the binary's
// "=== RUN" lines: the subtests of one test start one after the other, each
// "=== RUN" line printed just before its runner is created, so the k-th
// runner created under a test is its k-th subtest to run.
type testAnalysis struct {
	pkg    string
	tl     *Timeline
	events *testEvents
	byID   map[int64]*Goroutine
	// names maps each runner goroutine to its test.
	names map[int64]string
	// runnerOf memoizes the nearest runner above each goroutine.
	runnerOf map[int64]int64
	// runners lists the runner goroutines in the order of creation.
	runners []*Goroutine
	// funcs memoizes runnerFunc.
	funcs map[int64]string
	// program says the binary is a program (viz trace), not tests.
	program bool
	// traceNames and traceHidden are each goroutine's name and hidden flag
	// as the trace alone gives them, before the analysis names runners
	// and hides the watchdog: lanes() tells a recording what changed.
	traceNames  map[int64]string
	traceHidden map[int64]bool
}

func newTestAnalysis(pkg string, tl *Timeline, events *testEvents) *testAnalysis {
	a := &testAnalysis{
		pkg: pkg, tl: tl, events: events,
		byID:     make(map[int64]*Goroutine, len(tl.Goroutines)),
		names:    map[int64]string{},
		runnerOf: map[int64]int64{},
		funcs:    map[int64]string{},

		traceNames:  make(map[int64]string, len(tl.Goroutines)),
		traceHidden: map[int64]bool{},
	}
	for _, g := range tl.Goroutines {
		a.byID[g.ID] = g
		a.traceNames[g.ID] = g.Name
		if g.Hidden {
			a.traceHidden[g.ID] = true
		}
		if strings.Contains(g.Name, "."+watchFunc) || isTraceWriter(tl, g) {
			g.Hidden = true
		}
		if a.isRunner(g) {
			a.runners = append(a.runners, g)
		}
	}
	a.nameRunners()
	for _, g := range tl.Goroutines {
		a.nameWrapped(g)
	}
	return a
}

// nameWrapped names a goroutine started by sync.WaitGroup.Go after the
// function it runs, from the frame inside the wrapper on any of its stacks
// (the builder does so as it reads; this catches a timeline read before
// it did); a goroutine that never blocked shows none and keeps the
// wrapper's name.
func (a *testAnalysis) nameWrapped(g *Goroutine) {
	if g.Name != WrapperStart {
		return
	}
	for _, sp := range g.Spans {
		if s := a.tl.Stack(sp.Stack); s != nil {
			if fn := WrappedFunc(s.Frames); fn != "" {
				g.Name = fn
				return
			}
		}
	}
}

// isRunner reports whether a goroutine runs a test: it starts in
// testing.tRunner, and was not started by testing/synctest, whose bubble
// runs the same test in a goroutine of its own.
func (a *testAnalysis) isRunner(g *Goroutine) bool {
	if g.Name != "testing.tRunner" {
		return false
	}
	if s := a.tl.Stack(g.Created); s != nil {
		for _, f := range s.Frames {
			if f.Func == "testing.testingSynctestTest" {
				return false
			}
		}
	}
	return true
}

// runner returns the nearest runner that created g, directly or through
// other goroutines, g itself excepted; 0 if none.
func (a *testAnalysis) runner(g *Goroutine) int64 {
	if r, ok := a.runnerOf[g.ID]; ok {
		return r
	}
	var r int64
	seen := map[int64]bool{g.ID: true}
	for p := a.byID[g.Parent]; p != nil && !seen[p.ID]; p = a.byID[p.Parent] {
		seen[p.ID] = true
		if _, ok := a.names[p.ID]; ok || a.isRunner(p) {
			r = p.ID
			break
		}
	}
	a.runnerOf[g.ID] = r
	return r
}

// owner returns the runner of the test g belongs to: g itself if it is a
// runner.
func (a *testAnalysis) owner(g *Goroutine) int64 {
	if g == nil {
		return 0
	}
	if _, ok := a.names[g.ID]; ok {
		return g.ID
	}
	return a.runner(g)
}

// nameRunners gives each runner its test's name, and the timeline's lane
// of each runner that name.
func (a *testAnalysis) nameRunners() {
	queues := map[string][]string{}
	seen := map[string]bool{}
	for _, name := range a.events.order {
		parent := ""
		// A subtest's name is its parent's, a slash and its own; its own
		// may contain slashes too, so the parent is the longest prefix
		// that names a test already started.
		for i := len(name) - 1; i > 0; i-- {
			if name[i] == '/' && seen[name[:i]] {
				parent = name[:i]
				break
			}
		}
		seen[name] = true
		queues[parent] = append(queues[parent], name)
	}
	for _, r := range a.runners {
		parent := ""
		if p := a.runner(r); p != 0 {
			parent = a.names[p]
		}
		q := queues[parent]
		if len(q) == 0 {
			a.names[r.ID] = fmt.Sprintf("(unnamed test in G%d)", r.ID)
			continue
		}
		a.names[r.ID], queues[parent] = q[0], q[1:]
		r.Name = q[0]
	}
}

// testEnd is when a runner's goroutine exited, or -1 if it never did.
func testEnd(r *Goroutine) int64 {
	if n := len(r.Spans); n > 0 && r.Spans[n-1].State == StateDone {
		return r.Spans[n-1].Start
	}
	return -1
}

// neverRan reports whether a goroutine was created and then only waited to
// run: it has no span but runnable ones.
func neverRan(g *Goroutine) bool {
	for _, sp := range g.Spans {
		if sp.State != StateRunnable {
			return false
		}
	}
	return len(g.Spans) > 0
}

// endOfTest is when the test run by runner r ended: its runner's end, or,
// for a test that reported its result while its runner had not yet exited
// when the trace stopped (a parallel subtest signals its parent and then
// exits, and the binary may end in between), the start of the runner's
// last span. It is -1 for a test that never ended.
func (a *testAnalysis) endOfTest(r *Goroutine) int64 {
	if t := testEnd(r); t >= 0 {
		return t
	}
	if n := len(r.Spans); n > 0 && a.events.result[a.names[r.ID]] != "" {
		return r.Spans[n-1].Start
	}
	return -1
}

// counted reports whether a goroutine is the user's: neither the
// harness's, the testing package's, nor the runtime's.
func (a *testAnalysis) counted(g *Goroutine) bool {
	if g.Hidden || strings.Contains(g.Name, "."+watchFunc) {
		return false
	}
	if strings.HasPrefix(g.Name, "testing.") || strings.HasPrefix(g.Name, "runtime") {
		return false
	}
	return !isTraceWriter(a.tl, g)
}

// isTraceWriter reports whether g is the execution tracer's own writer,
// which runtime/trace starts.
func isTraceWriter(tl *Timeline, g *Goroutine) bool {
	s := tl.Stack(g.Created)
	return s != nil && len(s.Frames) > 0 && strings.HasPrefix(s.Frames[0].Func, "runtime/trace.")
}

// analyze fills the package report from the run's trace, the watchdog's
// hang report and the binary's stderr.
func (a *testAnalysis) analyze(rep *PackageReport, hang *hangReport, out *procOutput) {
	rep.Timeline = a.tl
	rep.Warnings = append(rep.Warnings, a.tl.Warnings...)
	tests := map[string]*TestReport{}
	for _, name := range a.events.order {
		if tests[name] != nil {
			continue
		}
		tr := &TestReport{Test: name, Package: a.pkg, Result: a.events.result[name], Findings: []Finding{}}
		tests[name] = tr
	}
	for id, name := range a.names {
		if tr := tests[name]; tr != nil && tr.Goroutine == 0 {
			tr.Goroutine = id
		}
	}
	// attach adds a finding to the test of the given runner, or to the
	// package when no test owns it.
	attach := func(runner int64, f Finding) {
		if tr := tests[a.names[runner]]; runner != 0 && tr != nil {
			tr.Findings = append(tr.Findings, f)
			return
		}
		rep.Findings = append(rep.Findings, f)
	}

	if a.tl.Truncated {
		// What the goroutines did in the lost end is unknown: one that
		// looks alive may have finished there.
		rep.Warnings = append(rep.Warnings, "leaks are not reported: the end of the trace is missing")
	} else {
		for _, f := range a.leaks() {
			attach(f.runner, f.Finding)
		}
	}
	if hang != nil && !hang.Stopped {
		runner, f := a.hang(hang)
		attach(runner, f)
	}
	races := ParseRaces(out.stderr)
	if len(races) > 0 {
		rep.Race = raceText(races)
	}
	for _, f := range a.races(races) {
		attach(f.runner, f.Finding)
	}
	if c, ok := ParseCrash(out.stderr); ok && hang == nil {
		rep.Crash = trimOutput(out.stderr)
		runner, f := a.crash(c)
		attach(runner, f)
	}
	if out.timedOut {
		rep.Findings = append(rep.Findings, a.timeout(out.elapsed))
	}
	if !out.started {
		rep.Findings = append(rep.Findings, Finding{
			Kind: scenarios.Crash, Summary: "The test binary could not be started.",
			Goroutines: []GoroutineRef{}, Locations: []Location{},
		})
	}

	var all []Finding
	for _, name := range a.events.order {
		tr := tests[name]
		if tr == nil {
			continue
		}
		delete(tests, name)
		tr.Outcome = worstOutcome(tr.Findings)
		if tr.Result == "fail" || tr.Outcome != scenarios.OK {
			if o := a.events.output[name]; o != nil {
				tr.Output = strings.TrimRight(o.String(), "\n")
			}
		}
		if tr.Result == "fail" && tr.Outcome != scenarios.Race && onlyRaceFailure(tr.Output) {
			tr.Note = "the testing package failed this test because the race detector fired while it ran; the race is reported with the test whose goroutines made it"
		}
		all = append(all, tr.Findings...)
		rep.Tests = append(rep.Tests, *tr)
	}
	all = append(all, rep.Findings...)
	rep.Outcome = worstOutcome(all)
}

// raceFailure is what the testing package prints in a test during which
// the race detector reported a race, whichever test made it.
const raceFailure = "race detected during execution of test"

// onlyRaceFailure reports whether a failing test's output is nothing but
// the testing package's race failure.
func onlyRaceFailure(output string) bool {
	seen := false
	for _, line := range strings.Split(output, "\n") {
		switch {
		case strings.TrimSpace(line) == "":
		case strings.Contains(line, raceFailure):
			seen = true
		default:
			return false
		}
	}
	return seen
}

// testFinding is a finding and the runner of the test it belongs to.
type testFinding struct {
	Finding
	runner int64
}

// leaks finds the goroutines that outlived the test that created them.
func (a *testAnalysis) leaks() []testFinding {
	var fs []testFinding
	end := a.tl.Duration
	for _, g := range a.tl.Goroutines {
		if !a.counted(g) || len(g.Spans) == 0 {
			continue
		}
		if _, isRunner := a.names[g.ID]; isRunner {
			continue
		}
		last := g.Spans[len(g.Spans)-1]
		if last.State == StateDone {
			continue
		}
		r := a.runner(g)
		if r == 0 {
			// Started by init or TestMain: not any test's.
			continue
		}
		testDone := a.endOfTest(a.byID[r])
		if testDone < 0 {
			// The test never ended: a hang, or the binary died.
			continue
		}
		// A goroutine that never ran at all had been started and left by its
		// test: the testing package stops the trace as soon as the last
		// test ends, often before the scheduler gets to a goroutine that a
		// test started just before it returned. It outlived its test as
		// surely as a blocked one.
		stuck := last.State.Blocked() && last.State != StateSleep || neverRan(g)
		if !stuck && end-testDone < int64(leakGrace) {
			continue
		}
		fs = append(fs, testFinding{a.leak(g, last, testDone, "after "+a.names[r]+" ended"), r})
	}
	return fs
}

// leak describes one leaked goroutine, blocked in its last span since
// the moment when says in words ("after TestX ended").
func (a *testAnalysis) leak(g *Goroutine, last Span, at int64, when string) Finding {
	ref := GoroutineRef{ID: g.ID, Name: g.Name, State: last.State, Reason: last.Reason}
	if loc, ok := a.tl.Stack(last.Stack).UserFrame(); ok {
		ref.Location = withSource(loc)
	} else if loc, ok := a.lastUserFrame(g); ok {
		ref.Location = loc
	}
	f := Finding{Kind: scenarios.Leak, Goroutines: []GoroutineRef{ref}, Locations: []Location{}, Time: at}
	what := waitPhrase(ref.State, ref.Reason, ref.Location.Source)
	if neverRan(g) {
		what = "had not yet begun to run"
	}
	where := ""
	if ref.Location.File != "" {
		where = fmt.Sprintf(" at %s:%d", baseName(ref.Location.File), ref.Location.Line)
		f.Locations = append(f.Locations, ref.Location)
	}
	started := ""
	if loc, ok := a.tl.Stack(g.Created).UserFrame(); ok {
		loc = withSource(loc)
		started = fmt.Sprintf(", started at %s:%d,", baseName(loc.File), loc.Line)
		f.Locations = append(f.Locations, loc)
	}
	// What was seen is that it outlived its test; whether something could
	// still wake it the trace cannot tell.
	end := "it outlived its test with nothing left to end it, so it leaks"
	f.Summary = fmt.Sprintf("G%d (%s)%s %s%s %s; %s.", g.ID, g.Name, started, what, where, when, end)
	return f
}

// lastUserFrame is the user frame of the latest span of g that has one.
func (a *testAnalysis) lastUserFrame(g *Goroutine) (Location, bool) {
	for i := len(g.Spans) - 1; i >= 0; i-- {
		if s := a.tl.Stack(g.Spans[i].Stack); s != nil && s.User >= 0 {
			return withSource(s.Frames[s.User]), true
		}
	}
	return Location{}, false
}

// hang explains what the watchdog saw when it stopped the binary, and
// returns the runner of the hung test (0 for the whole binary).
func (a *testAnalysis) hang(h *hangReport) (int64, Finding) {
	root := h.Root
	if _, ok := a.names[root]; !ok {
		root = 0
	}
	dumpParent := map[int64]int64{}
	for _, g := range h.Dump {
		dumpParent[g.ID] = g.Parent
	}
	// belongs follows creation links, from the trace where it has them
	// and from the dump's "in goroutine N" otherwise.
	belongs := func(id int64) bool {
		seen := map[int64]bool{}
		for id != 0 && !seen[id] {
			seen[id] = true
			if id == root {
				return true
			}
			if g := a.byID[id]; g != nil {
				if o := a.owner(g); o != 0 {
					return o == root
				}
				id = g.Parent
				continue
			}
			id = dumpParent[id]
		}
		return false
	}
	var stuck []DumpGoroutine
	for _, g := range h.Dump {
		if dumpOwn(g) {
			continue
		}
		if root == 0 || belongs(g.ID) {
			stuck = append(stuck, g)
		}
	}
	d := &diagnosis{tl: a.tl, rep: &Report{}}
	f := Finding{Kind: scenarios.Deadlock, Goroutines: []GoroutineRef{}, Locations: []Location{}, Time: a.tl.Duration}
	var parts []string
	for i, g := range stuck {
		ref := d.ref(g)
		if name, ok := a.names[g.ID]; ok {
			ref.Name = name
		}
		f.Goroutines = append(f.Goroutines, ref)
		if ref.Location.File != "" {
			f.Locations = append(f.Locations, ref.Location)
		}
		at := fmt.Sprintf("at %s:%d", baseName(ref.Location.File), ref.Location.Line)
		if i > 0 && baseName(ref.Location.File) == baseName(stuck[0].userLocation().File) {
			at = fmt.Sprintf("at line %d", ref.Location.Line)
		}
		parts = append(parts, fmt.Sprintf("G%d (%s) %s %s", ref.ID, ref.Name, waitPhrase(ref.State, ref.Reason, ref.Location.Source), at))
	}
	who, stopped := "The program", "viz trace stopped it"
	if !a.program {
		who, stopped = "The test binary, outside any single test,", "viz test stopped it rather than wait for go test's timeout"
		if root != 0 {
			who = a.names[root]
		}
	}
	switch len(parts) {
	case 0:
		f.Summary = fmt.Sprintf("%s hangs: every goroutine is blocked. Nothing changed for %s, so %s.", who, h.Quiet, stopped)
	case 1:
		f.Summary = fmt.Sprintf("%s hangs: %s, and none of its goroutines is left to wake it. Nothing changed for %s, so %s.", who, parts[0], h.Quiet, stopped)
	default:
		// The scenarios' own explanation, which follows the chain of
		// waits through the source and names the cycle where it sees one.
		d.deadlock(stuck)
		chain := d.rep.Findings[0].Summary
		if root != 0 {
			chain = strings.Replace(chain, "Every goroutine is blocked", "Every goroutine of the test is blocked", 1)
		}
		f.Summary = fmt.Sprintf("%s hangs: %s Nothing changed for %s, so %s.", who, chain, h.Quiet, stopped)
	}
	return root, f
}

// dumpOwn reports whether a dumped goroutine is the harness's, the
// tracer's or the testing framework's main goroutine, none of which is
// ever part of a hang.
func dumpOwn(g DumpGoroutine) bool {
	for _, f := range g.Frames {
		if strings.Contains(f.Func, "."+watchFunc) || strings.HasPrefix(f.Func, "runtime/trace.") || f.Func == "testing.(*M).Run" {
			return true
		}
	}
	return false
}

// races explains race detector reports, each attached to the test whose
// goroutines made the accesses. The detector numbers goroutines its own way,
// so they are found in the trace by where they were created and what they
// run.
func (a *testAnalysis) races(races []RaceReport) []testFinding {
	var fs []testFinding
	seen := map[string]bool{}
	for _, r := range races {
		acc0, acc1 := r.Accesses[0], r.Accesses[1]
		l0, l1 := userLocation(acc0.Frames), userLocation(acc1.Frames)
		key := fmt.Sprintf("%s:%d|%s:%d", l0.File, l0.Line, l1.File, l1.Line)
		if seen[key] {
			continue
		}
		seen[key] = true
		g0 := a.raceGoroutine(acc0, nil)
		g1 := a.raceGoroutine(acc1, g0)
		f := Finding{Kind: scenarios.Race, Locations: []Location{l0, l1}, Goroutines: []GoroutineRef{}}
		for _, p := range []struct {
			g   *Goroutine
			loc Location
			acc RaceAccess
		}{{g0, l0, acc0}, {g1, l1, acc1}} {
			ref := GoroutineRef{State: StateRunning, Location: p.loc}
			if p.g != nil && p.g.Name == WrapperStart {
				// The access's outermost user frame is the function the
				// wrapper ran.
				if fn := outerUserFunc(p.acc.Frames); fn != "" {
					p.g.Name = shortFunc(fn)
				}
			}
			if p.g != nil {
				ref.ID, ref.Name = p.g.ID, p.g.Name
				if t := firstRun(p.g); f.Time == 0 || t < f.Time {
					f.Time = t
				}
			}
			f.Goroutines = append(f.Goroutines, ref)
		}
		runner := a.owner(g0)
		if runner == 0 {
			runner = a.owner(g1)
		}
		if runner == 0 {
			runner = a.raceFlagged()
		}
		in := ""
		if name := a.names[runner]; runner != 0 && name != "" {
			in = " in " + name
		}
		f.Summary = fmt.Sprintf("Data race%s: %s %s at %s:%d while %s %s at %s:%d, and nothing orders the two accesses, so the result depends on timing (reported by the race detector).",
			in, refName(g0), accessVerb(acc0.Write, false), baseName(l0.File), l0.Line, refName(g1), accessVerb(acc1.Write, true), baseName(l1.File), l1.Line)
		if l0.Source != "" {
			f.Summary += " The line: " + l0.Source
		}
		fs = append(fs, testFinding{f, runner})
	}
	return fs
}

func refName(g *Goroutine) string {
	if g == nil {
		return "a goroutine"
	}
	return fmt.Sprintf("G%d (%s)", g.ID, g.Name)
}

// raceGoroutine finds the trace's goroutine that made a racing access,
// preferring one other than avoid; nil if none matches.
//
// A goroutine created by user code is matched by the line of its go
// statement and, among several, by its start function. A test's own
// goroutine was created by t.Run, so it is matched by the test function the
// access ran in; a program's main goroutine is G1. A goroutine started by the standard library on the user's
// behalf (sync.WaitGroup.Go) is matched by that library line, among the
// goroutines of that test: the detector's creation stacks often lack the
// user's frames above it.
func (a *testAnalysis) raceGoroutine(acc RaceAccess, avoid *Goroutine) *Goroutine {
	if acc.Main && a.program {
		return a.byID[1]
	}
	if acc.Main || len(acc.Created) == 0 {
		return nil
	}
	outer := outerUserFunc(acc.Frames)
	test := testFuncName(outer)
	inTest := func(g *Goroutine) bool {
		name := a.names[a.owner(g)]
		return strings.HasPrefix(test, "Test") && (name == test || strings.HasPrefix(name, test+"/"))
	}
	var cands []*Goroutine
	site, bySite := acc.Created[0], false
	if i := userFrame(acc.Created); i >= 0 {
		site, bySite = acc.Created[i], true
	}
	if acc.Created[0].Func == "testing.(*T).Run" {
		for _, r := range a.runners {
			if inTest(r) {
				cands = append(cands, r)
			}
		}
		// The runner whose test function is the one that raced, if the
		// trace shows it.
		var exact []*Goroutine
		for _, r := range cands {
			if a.runnerFunc(r) == outer {
				exact = append(exact, r)
			}
		}
		if len(exact) > 0 {
			cands = exact
		}
	} else {
		for _, g := range a.tl.Goroutines {
			if _, isRunner := a.names[g.ID]; isRunner || g.Hidden {
				continue
			}
			s := a.tl.Stack(g.Created)
			if s == nil || len(s.Frames) == 0 {
				continue
			}
			loc := s.Frames[0]
			if bySite {
				loc, _ = s.UserFrame()
			}
			if loc.Line == site.Line && baseName(loc.File) == baseName(site.File) {
				cands = append(cands, g)
			}
		}
		// Narrow down to the start function, then to the test, as far
		// as something is left.
		for _, keep := range []func(*Goroutine) bool{
			func(g *Goroutine) bool { return g.Name == shortFunc(outer) },
			inTest,
		} {
			var kept []*Goroutine
			for _, g := range cands {
				if keep(g) {
					kept = append(kept, g)
				}
			}
			if len(kept) > 0 {
				cands = kept
			}
		}
	}
	for _, g := range cands {
		if g != avoid {
			return g
		}
	}
	if len(cands) > 0 {
		return cands[0]
	}
	return nil
}

// outerUserFunc is the outermost user function of a stack, "" if none.
func outerUserFunc(frames []Location) string {
	outer := ""
	for _, fr := range frames {
		if isUserFunc(fr.Func) {
			outer = fr.Func
		}
	}
	return outer
}

// runnerFunc is the test function a runner ran: the frame just inside
// testing.tRunner on any stack of the runner or of a goroutine it created.
// It is "" when the test neither blocked nor created a goroutine.
func (a *testAnalysis) runnerFunc(r *Goroutine) string {
	if fn, ok := a.funcs[r.ID]; ok {
		return fn
	}
	inside := func(s *Stack) string {
		if s == nil {
			return ""
		}
		for i, f := range s.Frames {
			if f.Func == "testing.tRunner" && i > 0 {
				return s.Frames[i-1].Func
			}
		}
		return ""
	}
	fn := ""
	for _, sp := range r.Spans {
		if fn = inside(a.tl.Stack(sp.Stack)); fn != "" {
			break
		}
	}
	for _, g := range a.tl.Goroutines {
		if fn != "" {
			break
		}
		if g.Parent == r.ID {
			fn = inside(a.tl.Stack(g.Created))
		}
	}
	a.funcs[r.ID] = fn
	return fn
}

// testFuncName is the top-level test of a function in a test file:
// "example.com/p.TestX.func1.2" -> "TestX".
func testFuncName(fn string) string {
	s := shortFunc(fn)
	_, s, _ = strings.Cut(s, ".")
	s, _, _ = strings.Cut(s, ".")
	return s
}

// raceFlagged is the runner of the test the testing package failed for a
// race ("race detected during execution of test"), when exactly one was.
func (a *testAnalysis) raceFlagged() int64 {
	var found int64
	for id, name := range a.names {
		if o := a.events.output[name]; o != nil && strings.Contains(o.String(), raceFailure) {
			if found != 0 {
				return 0
			}
			found = id
		}
	}
	return found
}

// crash explains a panic or a fatal error of the test binary, or go test's
// own timeout, which panics.
func (a *testAnalysis) crash(c *Crash) (int64, Finding) {
	if after, ok := strings.CutPrefix(c.Message, "test timed out after "); ok {
		// "test timed out after 2s\nrunning tests:\n\tTestSlow (2s)"
		lines := strings.Split(after, "\n")
		var running []string
		for _, l := range lines[1:] {
			if name, _, ok := strings.Cut(strings.TrimSpace(l), " ("); ok {
				running = append(running, name)
			}
		}
		f := a.timeout(0)
		var runner int64
		for id, name := range a.names {
			if len(running) > 0 && name == running[0] {
				runner = id
			}
		}
		who := ""
		if len(running) > 0 {
			who = " while " + joinAnd(running) + " ran"
		}
		f.Summary = fmt.Sprintf("go test's -timeout (%s) stopped the binary%s. %s", lines[0], who, f.Summary)
		return runner, f
	}
	d := &diagnosis{tl: a.tl, rep: &Report{}}
	d.crash(c)
	f := d.rep.Findings[0]
	return a.owner(a.byID[c.Goroutine]), f
}

// timeout lists what was still alive when the binary was stopped.
func (a *testAnalysis) timeout(elapsed time.Duration) Finding {
	f := Finding{Kind: scenarios.Timeout, Goroutines: []GoroutineRef{}, Locations: []Location{}, Time: a.tl.Duration}
	for _, g := range a.tl.Goroutines {
		if !a.counted(g) && a.names[g.ID] == "" || len(g.Spans) == 0 {
			continue
		}
		last := g.Spans[len(g.Spans)-1]
		if last.State == StateDone {
			continue
		}
		ref := GoroutineRef{ID: g.ID, Name: g.Name, State: last.State, Reason: last.Reason}
		if loc, ok := a.tl.Stack(last.Stack).UserFrame(); ok {
			ref.Location = withSource(loc)
			f.Locations = append(f.Locations, ref.Location)
		}
		f.Goroutines = append(f.Goroutines, ref)
	}
	what := "test binary"
	if a.program {
		what = "program"
	}
	alive := fmt.Sprintf("%d goroutines were alive", len(f.Goroutines))
	if len(f.Goroutines) == 1 {
		alive = "1 goroutine was alive"
	}
	f.Summary = fmt.Sprintf("The %s was still running when its time was up; %s.", what, alive)
	if elapsed > 0 {
		f.Summary = fmt.Sprintf("The %s was still running after %s and was stopped; %s.", what, elapsed.Round(time.Millisecond), alive)
	}
	return f
}
