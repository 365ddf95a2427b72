package index

import (
	"strings"

	"github.com/concviz/concviz/tracer"
	"golang.org/x/exp/trace"
)

// The helpers of this file mirror unexported ones of package tracer (its
// builder.go and frames.go), so that a lane of the index reads exactly like
// a goroutine of tracer.ReadTrace; TestMatchesBuilder holds them to it.

// harnessPkg is the tracer package's import path: its frames are the
// harness's, never the user's.
const harnessPkg = "github.com/concviz/concviz/tracer"

// rootLogCategory is the category of the log event with which a concviz
// child names the root goroutine of its scenario.
const rootLogCategory = "concviz.root"

// stateOf maps a runtime block reason to a state; a "sync" wait is told
// apart by syncState of its stack.
func stateOf(to trace.GoState, reason string, syncState tracer.State) tracer.State {
	switch to {
	case trace.GoRunning:
		return tracer.StateRunning
	case trace.GoRunnable:
		return tracer.StateRunnable
	case trace.GoSyscall:
		return tracer.StateSyscall
	case trace.GoNotExist:
		return tracer.StateDone
	}
	switch reason {
	case "chan receive":
		return tracer.StateBlockedRecv
	case "chan send":
		return tracer.StateBlockedSend
	case "select":
		return tracer.StateBlockedSelect
	case "forever":
		return tracer.StateStuck
	case "sleep":
		return tracer.StateSleep
	case "network":
		return tracer.StateBlockedIO
	case "sync.(*Cond).Wait":
		return tracer.StateBlockedCond
	case "sync":
		return syncState
	}
	return tracer.StateBlockedOther
}

// syncStateOf is the state of a "sync" wait with the given stack.
func syncStateOf(stk trace.Stack) tracer.State {
	for f := range stk.Frames() {
		switch {
		case strings.HasPrefix(f.Func, "sync.(*WaitGroup)."):
			return tracer.StateBlockedWaitGroup
		case strings.HasPrefix(f.Func, "sync.(*RWMutex)."):
			return tracer.StateBlockedRWMutex
		case strings.HasPrefix(f.Func, "sync.(*Mutex)."):
			return tracer.StateBlockedMutex
		}
	}
	return tracer.StateBlockedSync
}

// startFunc is the function a goroutine starts in.
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

// shortFunc shortens a function name to its last path element.
func shortFunc(fn string) string {
	if i := strings.LastIndexByte(fn, '/'); i >= 0 {
		return fn[i+1:]
	}
	return fn
}

// isRuntimeFunc reports whether a start function is the runtime's.
func isRuntimeFunc(name string) bool {
	return strings.HasPrefix(name, "runtime.") || strings.HasPrefix(name, "runtime/")
}

// funcPackage returns the import path of a function name.
func funcPackage(fn string) string {
	slash := strings.LastIndexByte(fn, '/')
	dot := strings.IndexByte(fn[slash+1:], '.')
	if dot < 0 {
		return fn
	}
	return fn[:slash+1+dot]
}

// isUserFunc reports whether a frame is neither the standard library's nor
// the concviz harness's.
func isUserFunc(fn string) bool {
	pkg := funcPackage(fn)
	if pkg == harnessPkg {
		return false
	}
	if pkg == "main" {
		return true
	}
	first, _, _ := strings.Cut(pkg, "/")
	return strings.Contains(first, ".")
}

// userFrame returns the index of the first user frame, or -1.
func userFrame(frames []tracer.Location) int {
	for i, f := range frames {
		if isUserFunc(f.Func) {
			return i
		}
	}
	return -1
}

// trimRuntimeFrames drops the parking frames at the top of a blocked
// goroutine's stack.
func trimRuntimeFrames(frames []tracer.Location) []tracer.Location {
	for len(frames) > 1 {
		switch frames[0].Func {
		case "runtime.gopark", "runtime.goparkunlock", "runtime.park_m", "runtime.mcall":
			frames = frames[1:]
			continue
		}
		break
	}
	return frames
}
