package tracer

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/concviz/concviz/scenarios"
)

// maxRaceFindings bounds the race findings of one report: the first few
// distinct pairs of lines tell the story.
const maxRaceFindings = 4

// diagnose turns what a child left behind into a report. It never trusts
// the variant's expectation: every finding comes from what was observed.
func diagnose(s *scenarios.Scenario, v *scenarios.Variant, out *childOutput) *Report {
	tl := out.timeline
	rep := &Report{
		Scenario:   s.ID,
		Variant:    v.Name,
		Expected:   v.Expect,
		Findings:   []Finding{},
		DurationNS: tl.Duration,
		Output:     trimOutput(out.stdout),
		ExitCode:   out.exitCode,
		Warnings:   append(append([]string{}, out.warnings...), tl.Warnings...),
	}
	crash, crashed := ParseCrash(out.stderr)
	if crashed {
		mergeCrash(tl, crash)
	}
	for _, g := range tl.Goroutines {
		if !g.Hidden {
			rep.Goroutines++
		}
	}
	d := &diagnosis{tl: tl, rep: rep}

	races := ParseRaces(out.stderr)
	if len(races) > 0 {
		rep.Race = raceText(races)
	}
	if crashed {
		rep.Crash = trimOutput(out.stderr)
		d.crash(crash)
	}
	if r := out.report; r != nil {
		switch {
		case r.Deadlock:
			d.deadlock(r.Stuck)
		case len(r.Stuck) > 0:
			d.leaks(r.Stuck)
		}
	}
	d.races(races)
	if r := out.report; r != nil && r.Error != "" {
		rep.Findings = append(rep.Findings, Finding{
			Kind:       scenarios.Wrong,
			Summary:    fmt.Sprintf("The scenario's own check failed: %s.", strings.TrimSuffix(r.Error, ".")),
			Goroutines: []GoroutineRef{},
			Locations:  []Location{},
			Time:       tl.Duration,
		})
	}
	if out.timedOut {
		d.timeout(out)
	}
	if out.killedFor != "" {
		rep.Findings = append(rep.Findings, Finding{
			Kind:       scenarios.Crash,
			Summary:    fmt.Sprintf("concviz stopped the program because %s.", out.killedFor),
			Goroutines: []GoroutineRef{},
			Locations:  []Location{},
			Time:       tl.Duration,
		})
	}
	if out.report == nil && !crashed && !out.timedOut && out.killedFor == "" {
		rep.Crash = trimOutput(out.stderr)
		rep.Findings = append(rep.Findings, Finding{
			Kind:       scenarios.Crash,
			Summary:    fmt.Sprintf("The program ended without reporting (exit status %d).", out.exitCode),
			Goroutines: []GoroutineRef{},
			Locations:  []Location{},
			Time:       tl.Duration,
		})
	}
	if tl.Truncated && crashed {
		rep.Warnings = append(rep.Warnings, "the crash cut the trace short: the last moments before it are missing from the timeline; the goroutines' final lines come from the crash dump")
	}
	rep.Outcome = worstOutcome(rep.Findings)
	return rep
}

// outcomeOrder ranks outcomes from the worst: a report's outcome is the
// worst of its findings.
var outcomeOrder = []scenarios.Outcome{
	scenarios.Crash, scenarios.Panic, scenarios.Deadlock, scenarios.Race,
	scenarios.Leak, scenarios.Wrong, scenarios.Timeout,
}

func worstOutcome(fs []Finding) scenarios.Outcome {
	for _, o := range outcomeOrder {
		for _, f := range fs {
			if f.Kind == o {
				return o
			}
		}
	}
	return scenarios.OK
}

// diagnosis accumulates the findings of one report.
type diagnosis struct {
	tl  *Timeline
	rep *Report
}

func (d *diagnosis) add(f Finding) {
	if f.Goroutines == nil {
		f.Goroutines = []GoroutineRef{}
	}
	if f.Locations == nil {
		f.Locations = []Location{}
	}
	d.rep.Findings = append(d.rep.Findings, f)
}

// deadlock explains a run that the watchdog stopped. Where the source
// shows it, it follows the chain of waits: who waits on which channel, and
// which blocked goroutine would be the one to end that wait.
func (d *diagnosis) deadlock(stuck []DumpGoroutine) {
	f := Finding{Kind: scenarios.Deadlock}
	refs := make([]GoroutineRef, len(stuck))
	for i, g := range stuck {
		refs[i] = d.ref(g)
		f.Goroutines = append(f.Goroutines, refs[i])
		f.Locations = append(f.Locations, refs[i].Location)
		if t := d.blockedSince(g.ID); t > f.Time {
			f.Time = t
		}
	}
	file := baseName(refs[0].Location.File)
	where := func(r GoroutineRef) string {
		if baseName(r.Location.File) == file && r.ID != refs[0].ID {
			return fmt.Sprintf("at line %d", r.Location.Line)
		}
		return fmt.Sprintf("at %s:%d", baseName(r.Location.File), r.Location.Line)
	}
	wait := func(r GoroutineRef) string {
		return fmt.Sprintf("%s %s", waitPhrase(r.State, r.Reason, r.Location.Source), where(r))
	}
	if len(refs) == 1 {
		r := refs[0]
		f.Summary = fmt.Sprintf("G%d (%s) %s, and no other goroutine exists that could ever wake it: a deadlock.", r.ID, r.Name, wait(r))
		d.add(f)
		return
	}

	// Follow the waits from the first goroutine: each one's wait can only
	// be ended by a goroutine that uses the same channel the other way.
	chain := []int{0}
	inChain := map[int]bool{0: true}
	var sentence strings.Builder
	fmt.Fprintf(&sentence, "G%d (%s) %s", refs[0].ID, refs[0].Name, wait(refs[0]))
	for cur := 0; ; {
		ch, send, ok := waitChannel(refs[cur])
		if !ok {
			break
		}
		var partners []int
		for j, r := range refs {
			if j != cur && funcUsesChan(r.Location.File, r.Location.Line, ch, !send) {
				partners = append(partners, j)
			}
		}
		if len(partners) == 0 {
			fmt.Fprintf(&sentence, "; no blocked goroutine %s %s", opVerb(!send, true), ch)
			break
		}
		next := partners[0]
		if inChain[next] {
			if len(partners) == 1 {
				fmt.Fprintf(&sentence, ", but only G%d %s %s, and G%d is the one waiting above: the waits form a cycle", refs[next].ID, opVerb(!send, false), ch, refs[next].ID)
			} else {
				fmt.Fprintf(&sentence, ", and G%d, which %s %s, is the one waiting above: the waits form a cycle", refs[next].ID, opVerb(!send, false), ch)
			}
			break
		}
		role := opVerb(!send, false) + " " + ch
		if len(partners) == 1 {
			role = "the only one that " + role
		} else {
			role = "one that " + role
		}
		fmt.Fprintf(&sentence, ". G%d (%s), %s, is itself blocked: it %s", refs[next].ID, refs[next].Name, role, wait(refs[next]))
		chain, inChain[next], cur = append(chain, next), true, next
	}
	var others []string
	for j, r := range refs {
		if !inChain[j] {
			others = append(others, fmt.Sprintf("G%d (%s) %s", r.ID, r.Name, wait(r)))
		}
	}
	if len(others) > 0 {
		fmt.Fprintf(&sentence, ". Also blocked: %s", joinAnd(others))
	}
	f.Summary = sentence.String() + ". Every goroutine is blocked, so none can ever proceed: a deadlock."
	d.add(f)
}

// waitChannel returns the channel a goroutine waits on, as spelled on its
// blocking line, and whether it waits to send.
func waitChannel(r GoroutineRef) (ch string, send, ok bool) {
	switch r.State {
	case StateBlockedRecv:
		if m := recvChan.FindStringSubmatch(r.Location.Source); m != nil {
			return m[1], false, true
		}
	case StateBlockedSend:
		if m := sendChan.FindStringSubmatch(r.Location.Source); m != nil {
			return m[1], true, true
		}
	}
	return "", false, false
}

// opVerb words a channel operation: "sends on" / "would send on".
func opVerb(send, would bool) string {
	switch {
	case send && would:
		return "would send on"
	case send:
		return "sends on"
	case would:
		return "would receive from"
	}
	return "receives from"
}

// leaks explains goroutines still alive after the scenario returned.
func (d *diagnosis) leaks(alive []DumpGoroutine) {
	for _, g := range alive {
		ref := d.ref(g)
		what := waitPhrase(ref.State, ref.Reason, ref.Location.Source)
		d.add(Finding{
			Kind: scenarios.Leak,
			Summary: fmt.Sprintf("G%d (%s) is still alive after the scenario returned: it %s at %s:%d. "+
				"A goroutine that outlives the work that started it, with nothing left to end it, is a leak.",
				ref.ID, ref.Name, what, baseName(ref.Location.File), ref.Location.Line),
			Goroutines: []GoroutineRef{ref},
			Locations:  []Location{ref.Location},
			Time:       d.tl.Duration,
		})
	}
}

// crash explains a panic or a fatal runtime error from the child's dump.
// The dump's goroutine ids are the trace's.
func (d *diagnosis) crash(c *Crash) {
	kind := scenarios.Panic
	if c.Kind == "fatal" {
		kind = scenarios.Crash
	}
	f := Finding{Kind: kind, Time: d.tl.Duration}
	var culprit *DumpGoroutine
	for i := range c.Goroutines {
		g := &c.Goroutines[i]
		if g.ID == c.Goroutine {
			culprit = g
		}
	}
	if culprit != nil {
		ref := d.ref(*culprit)
		ref.State = StateRunning
		f.Goroutines = append(f.Goroutines, ref)
		for _, fr := range culprit.Frames {
			if isUserFunc(fr.Func) && len(f.Locations) < 3 {
				f.Locations = append(f.Locations, withSource(fr))
			}
		}
	}
	if kind == scenarios.Crash {
		// Each goroutine's last line comes from the dump: the crash took
		// the end of the trace with it.
		for _, g := range c.Goroutines {
			if g.ID == c.Goroutine || !d.visible(g.ID) {
				continue
			}
			f.Goroutines = append(f.Goroutines, d.ref(g))
		}
	}
	where := ""
	if len(f.Locations) > 0 {
		l := f.Locations[0]
		where = fmt.Sprintf(" at %s:%d", baseName(l.File), l.Line)
		if l.Source != "" {
			where += fmt.Sprintf(" (%s)", l.Source)
		}
	}
	who := "A goroutine"
	if len(f.Goroutines) > 0 {
		who = fmt.Sprintf("G%d (%s)", f.Goroutines[0].ID, f.Goroutines[0].Name)
	}
	if kind == scenarios.Panic {
		f.Summary = fmt.Sprintf("%s panicked%s: %s. Nothing recovered it, so the whole program died.", who, where, c.Message)
	} else {
		f.Summary = fmt.Sprintf("The Go runtime stopped the whole program with \"fatal error: %s\" when %s reached%s; a fatal error cannot be recovered.", c.Message, who, where)
	}
	d.add(f)
}

// races explains race detector reports, matching the detector's goroutines
// (numbered its own way) to the trace's by creation site and stack.
func (d *diagnosis) races(races []RaceReport) {
	seen := map[string]bool{}
	n := 0
	for _, r := range races {
		a, b := r.Accesses[0], r.Accesses[1]
		la, lb := userLocation(a.Frames), userLocation(b.Frames)
		key := fmt.Sprintf("%s:%d|%s:%d", la.File, la.Line, lb.File, lb.Line)
		if seen[key] {
			continue
		}
		seen[key] = true
		if n++; n > maxRaceFindings {
			break
		}
		f := Finding{Kind: scenarios.Race, Locations: []Location{la, lb}}
		ga, na := d.raceGoroutine(a, 0)
		gb, nb := d.raceGoroutine(b, ga)
		for _, pair := range []struct {
			id  int64
			loc Location
		}{{ga, la}, {gb, lb}} {
			ref := GoroutineRef{ID: pair.id, State: StateRunning, Location: pair.loc}
			if g := d.tl.Goroutine(pair.id); g != nil {
				ref.Name = g.Name
				if t := firstRun(g); f.Time == 0 || t < f.Time {
					f.Time = t
				}
			}
			f.Goroutines = append(f.Goroutines, ref)
		}
		f.Summary = fmt.Sprintf("Data race: %s %s at %s:%d while %s %s at %s:%d, and nothing orders the two accesses, so the result depends on timing (reported by the race detector).",
			raceWho(ga, na), accessVerb(a.Write, false), baseName(la.File), la.Line, raceWho(gb, nb), accessVerb(b.Write, true), baseName(lb.File), lb.Line)
		if la.Source != "" {
			f.Summary += fmt.Sprintf(" The line: %s", la.Source)
		}
		d.add(f)
	}
}

// raceGoroutine finds the trace goroutine that made a racing access: the
// scenario's root for the main goroutine, else one created at the same
// site whose start function is the access's outermost user function. It
// prefers one other than avoid, returns 0 when nothing matches, and says
// how many goroutines matched: the race detector numbers goroutines its
// own way, so among goroutines started by one go statement it cannot tell
// which one it was.
func (d *diagnosis) raceGoroutine(a RaceAccess, avoid int64) (id int64, candidates int) {
	var created Location
	if len(a.Created) > 0 {
		created = userLocation(a.Created)
	}
	start := ""
	for _, fr := range a.Frames {
		if isUserFunc(fr.Func) {
			start = shortFunc(fr.Func)
		}
	}
	for _, g := range d.tl.Goroutines {
		if g.Hidden {
			continue
		}
		if a.Main || len(a.Created) == 0 {
			if g.Parent == 0 {
				return g.ID, 1
			}
			continue
		}
		cs := d.tl.Stack(g.Created)
		site, ok := cs.UserFrame()
		if !ok || site.Line != created.Line || baseName(site.File) != baseName(created.File) {
			continue
		}
		if start != "" && g.Name != start {
			continue
		}
		candidates++
		if id == 0 || (id == avoid && g.ID != avoid) {
			id = g.ID
		}
	}
	return id, candidates
}

// timeout explains a run that was killed at its time limit.
func (d *diagnosis) timeout(out *childOutput) {
	f := Finding{Kind: scenarios.Timeout, Time: d.tl.Duration}
	for _, g := range d.tl.Goroutines {
		if g.Hidden || len(g.Spans) == 0 {
			continue
		}
		last := g.Spans[len(g.Spans)-1]
		if last.State == StateDone {
			continue
		}
		ref := GoroutineRef{ID: g.ID, Name: g.Name, State: last.State, Reason: last.Reason}
		if loc, ok := d.tl.Stack(last.Stack).UserFrame(); ok {
			ref.Location = withSource(loc)
			f.Locations = append(f.Locations, ref.Location)
		}
		f.Goroutines = append(f.Goroutines, ref)
	}
	f.Summary = fmt.Sprintf("The run was still going after %s and was stopped; %d goroutines were still alive.", out.elapsed.Round(1e6), len(f.Goroutines))
	d.add(f)
}

// ref describes a dumped goroutine with the trace's name for it.
func (d *diagnosis) ref(g DumpGoroutine) GoroutineRef {
	ref := GoroutineRef{ID: g.ID, State: dumpState(g.Status), Reason: g.Status, Location: withSource(g.userLocation())}
	if tg := d.tl.Goroutine(g.ID); tg != nil && tg.Name != "" {
		ref.Name = tg.Name
		if n := len(tg.Spans); n > 0 && tg.Spans[n-1].Reason != "" && tg.Spans[n-1].State.Blocked() {
			ref.Reason = tg.Spans[n-1].Reason
		}
	} else if len(g.Frames) > 0 {
		ref.Name = shortFunc(g.Frames[len(g.Frames)-1].Func)
	}
	return ref
}

func (d *diagnosis) visible(id int64) bool {
	g := d.tl.Goroutine(id)
	return g != nil && !g.Hidden
}

// blockedSince is when a goroutine entered the blocked state it ended in.
func (d *diagnosis) blockedSince(id int64) int64 {
	g := d.tl.Goroutine(id)
	if g == nil {
		return 0
	}
	for i := len(g.Spans) - 1; i >= 0; i-- {
		if g.Spans[i].State.Blocked() {
			return g.Spans[i].Start
		}
	}
	return 0
}

// userLocation is the goroutine's innermost user frame.
func (g DumpGoroutine) userLocation() Location {
	return userLocation(g.Frames)
}

func userLocation(frames []Location) Location {
	if i := userFrame(frames); i >= 0 {
		return withSource(frames[i])
	}
	if len(frames) > 0 {
		return withSource(frames[0])
	}
	return Location{}
}

func firstRun(g *Goroutine) int64 {
	for _, s := range g.Spans {
		if s.State == StateRunning {
			return s.Start
		}
	}
	if len(g.Spans) > 0 {
		return g.Spans[0].Start
	}
	return 0
}

// dumpState maps a goroutine dump's wait reason to a state.
func dumpState(status string) State {
	switch status {
	case "running":
		return StateRunning
	case "runnable", "preempted":
		return StateRunnable
	case "syscall":
		return StateSyscall
	case "chan receive":
		return StateBlockedRecv
	case "chan send":
		return StateBlockedSend
	case "select":
		return StateBlockedSelect
	case "select (no cases)", "chan receive (nil chan)", "chan send (nil chan)":
		return StateStuck
	case "sync.Mutex.Lock":
		return StateBlockedMutex
	case "sync.RWMutex.Lock", "sync.RWMutex.RLock":
		return StateBlockedRWMutex
	case "sync.WaitGroup.Wait":
		return StateBlockedWaitGroup
	case "sync.Cond.Wait":
		return StateBlockedCond
	case "semacquire":
		return StateBlockedSync
	case "sleep":
		return StateSleep
	case "IO wait":
		return StateBlockedIO
	}
	return StateBlockedOther
}

var (
	recvChan = regexp.MustCompile(`(?:<-|\brange)\s*([A-Za-z_][\w.]*(?:\[[^\]]*\])?)`)
	sendChan = regexp.MustCompile(`([A-Za-z_][\w.]*(?:\[[^\]]*\])?)\s*<-`)
)

// waitPhrase says in words what a goroutine waits for, naming the channel
// when the source line shows it.
func waitPhrase(s State, reason, src string) string {
	switch s {
	case StateBlockedRecv:
		if m := recvChan.FindStringSubmatch(src); m != nil {
			return "waits to receive from " + m[1]
		}
		return "waits to receive from a channel"
	case StateBlockedSend:
		if m := sendChan.FindStringSubmatch(src); m != nil {
			return "waits to send on " + m[1]
		}
		return "waits to send on a channel"
	case StateBlockedSelect:
		return "waits in a select for a channel to be ready"
	case StateBlockedMutex:
		return "waits to lock a mutex"
	case StateBlockedRWMutex:
		return "waits for a read-write lock"
	case StateBlockedWaitGroup:
		return "waits for a WaitGroup to reach zero"
	case StateBlockedCond:
		return "waits on a condition variable"
	case StateStuck:
		return "is blocked for ever (" + reason + ")"
	case StateRunning, StateRunnable:
		return "is still running"
	case StateSleep:
		return "is sleeping"
	case StateSyscall:
		return "is in a system call"
	}
	if reason != "" {
		return "is blocked (" + reason + ")"
	}
	return "is blocked"
}

func accessVerb(write, previous bool) string {
	switch {
	case write && previous:
		return "wrote"
	case write:
		return "writes"
	case previous:
		return "read"
	}
	return "reads"
}

// raceWho names the goroutine of a racing access, saying so when it is
// one of several that the race report cannot tell apart.
func raceWho(id int64, candidates int) string {
	if candidates > 1 {
		return fmt.Sprintf("a goroutine (one of %d started by the same go statement, shown on G%d)", candidates, id)
	}
	return gName(id)
}

func gName(id int64) string {
	if id == 0 {
		return "a goroutine"
	}
	return fmt.Sprintf("G%d", id)
}

func joinAnd(parts []string) string {
	if len(parts) <= 1 {
		return strings.Join(parts, "")
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

// raceText is the raw text of the race reports, for the report's Race field.
func raceText(races []RaceReport) string {
	var b strings.Builder
	for i, r := range races {
		if i == maxRaceFindings {
			fmt.Fprintf(&b, "... and %d more reports\n", len(races)-i)
			break
		}
		b.WriteString(strings.TrimSpace(r.Raw))
		b.WriteString("\n\n")
	}
	return strings.TrimSpace(b.String())
}
