package tracer

import (
	"bufio"
	"os"
	"path"
	"strings"
)

// harnessPkg is this package's import path: its frames are the harness's,
// never the user's.
const harnessPkg = "github.com/concviz/concviz/tracer"

// funcPackage returns the import path of a function name such as
// "github.com/a/b.(*T).m.func1" -> "github.com/a/b".
func funcPackage(fn string) string {
	slash := strings.LastIndexByte(fn, '/')
	dot := strings.IndexByte(fn[slash+1:], '.')
	if dot < 0 {
		return fn
	}
	return fn[:slash+1+dot]
}

// isStdPackage reports whether an import path belongs to the standard
// library: its first element has no dot ("runtime", "internal/sync",
// "net/http"), main excepted.
func isStdPackage(pkg string) bool {
	if pkg == "main" {
		return false
	}
	first, _, _ := strings.Cut(pkg, "/")
	return !strings.Contains(first, ".")
}

// isUserFunc reports whether a frame is the user's code: neither the
// standard library nor the concviz harness.
func isUserFunc(fn string) bool {
	pkg := funcPackage(fn)
	return !isStdPackage(pkg) && pkg != harnessPkg
}

// isRuntimeFunc reports whether a goroutine's start function is the
// runtime's or the tracer's own machinery.
func isRuntimeFunc(name string) bool {
	return strings.HasPrefix(name, "runtime.") || strings.HasPrefix(name, "runtime/")
}

// userFrame returns the index of the first user frame, or -1.
func userFrame(frames []Location) int {
	for i, f := range frames {
		if isUserFunc(f.Func) {
			return i
		}
	}
	return -1
}

// trimRuntimeFrames drops the parking frames at the top of a blocked
// goroutine's stack, which say nothing a reader needs.
func trimRuntimeFrames(frames []Location) []Location {
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

// shortFunc shortens a function name to its last path element:
// "github.com/concviz/concviz/scenarios.crossWaitBroken.func1" ->
// "scenarios.crossWaitBroken.func1".
func shortFunc(fn string) string {
	if i := strings.LastIndexByte(fn, '/'); i >= 0 {
		return fn[i+1:]
	}
	return fn
}

func baseName(file string) string {
	return path.Base(file)
}

// sourceCache holds the lines of the local files diagnoses quote.
var sourceCache = newFileCache(readLines)

// readLines returns the lines of a file, or nil when it cannot be read.
func readLines(file string) []string {
	f, err := os.Open(file)
	if err != nil {
		return nil
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

// sourceLine returns the text of a line of a local file, trimmed, or "" when
// the file cannot be read (a trace from another machine).
func sourceLine(file string, line int) string {
	if file == "" || line <= 0 {
		return ""
	}
	lines := sourceCache.get(file)
	if line > len(lines) {
		return ""
	}
	return strings.TrimSpace(lines[line-1])
}

// withSource returns the location with its source text filled in.
func withSource(l Location) Location {
	if l.Source == "" {
		l.Source = sourceLine(l.File, l.Line)
	}
	return l
}

// WrapperStart is the start function of every goroutine that
// sync.WaitGroup.Go starts: a program that uses it would have all its
// lanes called that.
const WrapperStart = "sync.(*WaitGroup).Go.func1"

// WrappedFunc returns the user's function that sync.WaitGroup.Go runs, as
// its short name, from a stack of the goroutine (the frame just inside the
// wrapper); "" when the stack shows none. The builder and the large-trace
// index name such goroutines after it.
func WrappedFunc(frames []Location) string {
	for i, f := range frames {
		if f.Func == WrapperStart && i > 0 && isUserFunc(frames[i-1].Func) {
			return shortFunc(frames[i-1].Func)
		}
	}
	return ""
}
