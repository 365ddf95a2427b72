package tracer

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/concviz/concviz/scenarios"
)

// This file is viz trace: a user's main package built with the watchdog
// added (go build -overlay, as for viz test) and run under the tracer. The
// harness starts the trace in the main package's init, so what other
// packages' init functions do is not traced. Go has no hook at the return
// of main, so the overlay also replaces the file that declares main with a
// copy in which it is renamed (nothing else changes, every line keeps its
// number); the harness's own main calls it, lets the goroutines it woke
// settle, and stops the trace, whose end then shows the goroutines left
// blocked: leaks. A program that leaves through os.Exit cuts the unfinished
// trace generation (at most TracePeriod) and is reported with a warning. A
// deadlock, a timeout and an interrupt stop the trace through the watchdog,
// and a panic flushes it: those are seen whole.

// ProgramOptions says which program to run and how.
type ProgramOptions struct {
	// Dir is the directory the package or files are relative to.
	Dir string
	// Args are go run's arguments: build flags, then a package or .go
	// files, then the program's own arguments.
	Args []string
	// Timeout bounds the run; 0 means DefaultTimeout.
	Timeout time.Duration
	// HangAfter is how long every goroutine must stay blocked to count
	// as a deadlock; 0 means DefaultHangAfter.
	HangAfter time.Duration
	// Stdin, if set, is the program's standard input.
	Stdin io.Reader
	// Stdout and Stderr, if set, receive the program's output as it
	// arrives; the report keeps a capped copy of stdout either way.
	Stdout, Stderr io.Writer
	// TraceOut, if set, is where the program's execution trace is kept,
	// a file that viz open and go tool trace read.
	TraceOut string
}

// goRunArgs is go run's command line, split.
type goRunArgs struct {
	build   []string
	target  []string // one package, or .go files
	program []string
}

// buildFlagsWithValue are the go build flags that take a value as the next
// argument when it is not given with "=".
var buildFlagsWithValue = map[string]bool{
	"asmflags": true, "buildmode": true, "buildvcs": true, "compiler": true, "gccgoflags": true,
	"gcflags": true, "installsuffix": true, "ldflags": true, "mod": true, "modfile": true,
	"overlay": true, "pgo": true, "pkgdir": true, "tags": true, "toolexec": true, "p": true, "C": true,
}

// ProgramArgsError is a mistake in go run's arguments given to
// TraceProgram.
type ProgramArgsError struct{ msg string }

func (e *ProgramArgsError) Error() string { return e.msg }

// splitGoRun splits go run's arguments the way go run does: flags up to
// the first argument that is not one, then the package (or every .go file
// in a row), then the program's arguments.
func splitGoRun(args []string) (goRunArgs, error) {
	var r goRunArgs
	i := 0
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			i++
			break
		}
		if !strings.HasPrefix(a, "-") {
			break
		}
		r.build = append(r.build, a)
		name := strings.TrimLeft(a, "-")
		if !strings.Contains(name, "=") && buildFlagsWithValue[name] && i+1 < len(args) {
			i++
			r.build = append(r.build, args[i])
		}
	}
	for _, f := range r.build {
		name, _, _ := strings.Cut(strings.TrimLeft(f, "-"), "=")
		if name == "o" || name == "overlay" || name == "C" {
			return r, &ProgramArgsError{fmt.Sprintf("go run flag -%s is not supported by viz trace", name)}
		}
	}
	if i >= len(args) {
		return r, &ProgramArgsError{"no package or .go files to run"}
	}
	if strings.HasSuffix(args[i], ".go") {
		for ; i < len(args) && strings.HasSuffix(args[i], ".go"); i++ {
			r.target = append(r.target, args[i])
		}
	} else {
		r.target = []string{args[i]}
		i++
	}
	r.program = args[i:]
	return r, nil
}

// TraceProgram builds and runs a user's program with the watchdog and the
// tracer, and diagnoses it like a scenario run. An error means the program
// could not be built or started, and the result then is nil; arguments that
// go run would refuse give a *ProgramArgsError. A cancelled ctx kills the
// program and returns the context's error with the partial result.
func TraceProgram(ctx context.Context, opt ProgramOptions) (*Result, error) {
	ga, err := splitGoRun(opt.Args)
	if err != nil {
		return nil, err
	}
	goTool, err := findGo()
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(opt.Dir)
	if err != nil {
		return nil, fmt.Errorf("trace: %w", err)
	}
	name := strings.Join(ga.target, " ")
	var pkgDir string
	var files []string
	if strings.HasSuffix(ga.target[0], ".go") {
		pkgDir = filepath.Join(dir, filepath.Dir(ga.target[0]))
		for _, f := range ga.target {
			files = append(files, filepath.Join(dir, f))
		}
	} else {
		pkgs, err := listPackages(ctx, goTool, dir, ga.target)
		if err != nil {
			return nil, err
		}
		if len(pkgs) != 1 {
			return nil, fmt.Errorf("trace %s: the pattern matches %d packages; name one main package", name, len(pkgs))
		}
		p := pkgs[0]
		if p.Error != nil {
			return nil, fmt.Errorf("trace %s: %s", name, p.Error.Err)
		}
		if p.Name != "main" {
			return nil, fmt.Errorf("trace %s: package %s is not a main package", name, p.ImportPath)
		}
		pkgDir, name = p.Dir, p.ImportPath
		for _, f := range p.GoFiles {
			files = append(files, filepath.Join(p.Dir, f))
		}
	}
	mainFile, renamed, err := renameMain(files)
	if err != nil {
		return nil, fmt.Errorf("trace %s: %w", name, err)
	}

	work, err := os.MkdirTemp("", "concviz-trace-")
	if err != nil {
		return nil, fmt.Errorf("trace %s: %w", name, err)
	}
	defer os.RemoveAll(work)
	overlay, err := writeOverlay(work, map[string]string{
		filepath.Join(pkgDir, harnessProgramFile): harnessFor("main", true),
		mainFile: renamed,
	})
	if err != nil {
		return nil, fmt.Errorf("trace %s: %w", name, err)
	}
	bin := filepath.Join(work, "prog")
	args := append([]string{"build", "-o", bin, "-overlay", overlay}, ga.build...)
	args = append(args, ga.target...)
	if strings.HasSuffix(ga.target[0], ".go") {
		// A list of files builds exactly those files.
		args = append(args, filepath.Join(filepath.Dir(ga.target[0]), harnessProgramFile))
	}
	race := false
	for _, f := range ga.build {
		race = race || f == "-race" || f == "--race"
	}
	if msg, err := goBuild(ctx, goTool, dir, race, args); err != nil {
		return nil, fmt.Errorf("build %s:\n%s", name, msg)
	}

	timeout := opt.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	tracePath := filepath.Join(work, "trace.out")
	hangPath := filepath.Join(work, "hang.txt")
	pr := &procRun{
		path:      bin,
		args:      ga.program,
		dir:       dir,
		env:       append(harnessEnv(hangPath, opt.HangAfter), envProgramTrace+"="+tracePath),
		stopFile:  hangPath + stopSuffix,
		stdin:     opt.Stdin,
		stdoutTee: opt.Stdout,
		stderrTee: opt.Stderr,
	}
	out := pr.run(ctx, timeout)
	if !out.started {
		return nil, fmt.Errorf("run %s: %s", name, strings.Join(out.warnings, "; "))
	}
	tl := readTraceFile(tracePath)
	hang, _ := readHang(hangPath)
	rep := diagnoseProgram(name, tl, hang, out)
	if opt.TraceOut != "" {
		if err := keepFile(tracePath, opt.TraceOut); err != nil {
			rep.Warnings = append(rep.Warnings, err.Error())
		}
	}
	res := &Result{Report: rep, Timeline: tl}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("trace %s: %w", name, err)
	}
	return res, nil
}

// renameMain finds the file that declares the program's main function and
// returns it with main renamed, so that the harness's main can call it.
// Only the name changes, so every line keeps its number.
func renameMain(files []string) (path, src string, err error) {
	fset := token.NewFileSet()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", "", fmt.Errorf("read %s: %w", f, err)
		}
		af, err := parser.ParseFile(fset, f, b, parser.SkipObjectResolution)
		if err != nil {
			// The compiler says it better; let the build report it.
			continue
		}
		for _, d := range af.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv != nil || fd.Name.Name != "main" || fd.Body == nil {
				continue
			}
			off := fset.Position(fd.Name.Pos()).Offset
			return f, string(b[:off]) + renamedMain + string(b[off+len("main"):]), nil
		}
	}
	return "", "", errors.New("no func main found (is it a main package?)")
}

// diagnoseProgram turns what a traced program left into a report.
func diagnoseProgram(name string, tl *Timeline, hang *hangReport, out *procOutput) *Report {
	unrenameMain(tl, hang)
	// The main goroutine was running before the trace began, so the
	// timeline knows it only from the runtime's frame; it is the user's.
	if g := tl.Goroutine(1); g != nil {
		g.Name, g.Hidden = "main", false
	}
	stderr := strings.ReplaceAll(out.stderr, "main."+renamedMain+"(", "main.main(")
	rep := &Report{
		Scenario:   name,
		Findings:   []Finding{},
		DurationNS: tl.Duration,
		Output:     trimOutput(out.stdout),
		ExitCode:   out.exitCode,
		Warnings:   append(append([]string{}, out.warnings...), tl.Warnings...),
	}
	a := newTestAnalysis(name, tl, &testEvents{})
	a.program = true
	for _, g := range tl.Goroutines {
		if a.counted(g) {
			rep.Goroutines++
		}
	}
	if hang != nil && !hang.Stopped {
		_, f := a.hang(hang)
		rep.Findings = append(rep.Findings, f)
	}
	races := ParseRaces(stderr)
	if len(races) > 0 {
		rep.Race = raceText(races)
	}
	for _, f := range a.races(races) {
		rep.Findings = append(rep.Findings, f.Finding)
	}
	c, crashed := ParseCrash(stderr)
	if crashed && hang == nil {
		for i := range c.Goroutines {
			c.Goroutines[i].Frames = unrenameFrames(c.Goroutines[i].Frames)
		}
		rep.Crash = trimOutput(stderr)
		_, f := a.crash(c)
		rep.Findings = append(rep.Findings, f)
	}
	if out.timedOut {
		rep.Findings = append(rep.Findings, a.timeout(out.elapsed))
	}
	if out.exitCode != 0 && hang == nil && !out.timedOut && !crashed && len(races) == 0 {
		// The program said it failed; what it printed says why.
		rep.Findings = append(rep.Findings, Finding{
			Kind:       scenarios.Wrong,
			Summary:    fmt.Sprintf("The program exited with status %d.", out.exitCode),
			Goroutines: []GoroutineRef{},
			Locations:  []Location{},
			Time:       tl.Duration,
		})
	}
	switch {
	case hang != nil || out.timedOut || crashed:
	case !mainReturned(tl):
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("the program ended without returning from main (os.Exit?), which cuts the trace: up to its last %s are missing from the timeline, and goroutines it left behind are not reported", TracePeriod))
	default:
		rep.Findings = append(rep.Findings, a.exitLeaks()...)
	}
	rep.Outcome = worstOutcome(rep.Findings)
	return rep
}

// mainReturned reports whether the harness marked the return of main in
// the trace.
func mainReturned(tl *Timeline) bool {
	for _, l := range tl.Logs {
		if l.Category == mainReturnedLog {
			return true
		}
	}
	return false
}

// exitLeaks reports the goroutines blocked for good when main returned:
// nothing could ever have woken them, so in a function that returns
// instead of a program that exits they would be leaks.
func (a *testAnalysis) exitLeaks() []Finding {
	var fs []Finding
	for _, g := range a.tl.Goroutines {
		if !a.counted(g) || g.ID == 1 || len(g.Spans) == 0 {
			continue
		}
		last := g.Spans[len(g.Spans)-1]
		if !last.State.Blocked() || last.State == StateSleep || last.State == StateBlockedIO {
			continue
		}
		fs = append(fs, a.leak(g, last, a.tl.Duration, "when main returned"))
	}
	return fs
}

// unrenameMain gives the program's main its own name back in the
// timeline's stacks and the hang dump, and drops the harness's frames.
func unrenameMain(tl *Timeline, hang *hangReport) {
	if hang != nil {
		// The harness's goroutines are told by their frames, which go.
		var dump []DumpGoroutine
		for _, g := range hang.Dump {
			if !dumpOwn(g) {
				dump = append(dump, g)
			}
		}
		hang.Dump = dump
	}
	for i := range tl.Stacks {
		s := &tl.Stacks[i]
		s.Frames = unrenameFrames(s.Frames)
		s.User = userFrame(s.Frames)
	}
	if hang != nil {
		for i := range hang.Dump {
			hang.Dump[i].Frames = unrenameFrames(hang.Dump[i].Frames)
		}
	}
}

func unrenameFrames(frames []Location) []Location {
	out := frames[:0]
	for _, f := range frames {
		if baseName(f.File) == harnessProgramFile {
			continue
		}
		if f.Func == "main."+renamedMain {
			f.Func = "main.main"
		}
		out = append(out, f)
	}
	return out
}
