package tracer

// mergeCrash completes a timeline with the final state of each scenario
// goroutine from a crash dump. A fatal error loses the trace's unfinished
// generation (up to one TracePeriod), so goroutines can be missing from the
// trace or shown in a state older than the crash; the dump, printed at the
// moment of the crash, is the truth about where each one ended. Dumped
// goroutines carry the harness's pprof label, which tells the scenario's
// apart from the harness's.
func mergeCrash(tl *Timeline, c *Crash) {
	at := tl.Duration
	for _, d := range c.Goroutines {
		if d.Labels[labelKey] != labelValue {
			continue
		}
		state := dumpState(d.Status)
		if d.ID == c.Goroutine {
			state = StateRunning
		}
		stack := internDumpStack(tl, d.Frames)
		g := tl.Goroutine(d.ID)
		if g == nil {
			g = &Goroutine{ID: d.ID, Name: dumpName(d), Parent: d.Parent, Created: NoStack, Spans: []Span{}}
			if d.CreatedBy.Func != "" {
				g.Created = internDumpStack(tl, []Location{d.CreatedBy})
			}
			tl.Goroutines = append(tl.Goroutines, g)
		}
		g.Hidden = false
		if n := len(g.Spans); n > 0 && g.Spans[n-1].State == StateDone {
			continue
		}
		g.Spans = append(g.Spans, Span{Start: at, End: at, State: state, Reason: d.Status, Stack: stack})
	}
}

// dumpName names a goroutine known only from a dump by its outermost user
// function: the function it started in, or the scenario's variant for the
// root, whose outer frames are the harness's.
func dumpName(d DumpGoroutine) string {
	for i := len(d.Frames) - 1; i >= 0; i-- {
		if isUserFunc(d.Frames[i].Func) {
			return shortFunc(d.Frames[i].Func)
		}
	}
	if len(d.Frames) > 0 {
		return shortFunc(d.Frames[len(d.Frames)-1].Func)
	}
	return ""
}

func internDumpStack(tl *Timeline, frames []Location) int {
	if len(frames) == 0 {
		return NoStack
	}
	tl.Stacks = append(tl.Stacks, Stack{Frames: frames, User: userFrame(frames)})
	return len(tl.Stacks) - 1
}
