package tracer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/concviz/concviz/scenarios"
)

// A learner's own version of a scenario is the scenario's file with their
// edits. It is compiled into a small child program of its own (the harness
// and the catalog, with the edited file put in place by go build -overlay),
// which then runs exactly like the child of any other run. Only the edited
// file changes, so the variants keep their names and a learner edits their
// bodies.

// MaxSource bounds the edited text of a scenario file. The largest scenario
// file is a few kilobytes; anything far larger is not an edit of one.
const MaxSource = 64 << 10

// customKeep is how many custom children the cache keeps. Each is a full Go
// binary of some megabytes; a learner returns to the last few edits, not to
// the hundredth.
const customKeep = 8

// MinBuildTimeout is the least time a build of a learner's version gets,
// however short the run's timeout: a build that links a new binary takes
// seconds, and over ten on a busy two-core machine. A build that takes
// longer is stopped like a run.
const MinBuildTimeout = time.Minute

// customMain is the main package of a custom child: nothing but the child
// harness, which is all the child of a run needs.
const customMain = `package main

import "github.com/concviz/concviz/tracer"

func main() { tracer.MaybeRunChild() }
`

// CompileError is a learner's edit that does not build. Errors holds the
// compiler's complaints about the edited file, in order; Output is the go
// command's whole output, which also says what went wrong elsewhere (a
// name the edit removed that another file of the catalog uses).
type CompileError struct {
	File   string        `json:"file"`
	Errors []SourceError `json:"errors"`
	Output string        `json:"output"`
}

// SourceError is one complaint of the compiler about a line of the edited
// file. Line and Column are 1-based, as the compiler prints them.
type SourceError struct {
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Message string `json:"message"`
}

func (e *CompileError) Error() string {
	if len(e.Errors) == 0 {
		return fmt.Sprintf("your version of %s does not build: %s", e.File, firstLine(e.Output))
	}
	first := e.Errors[0]
	more := ""
	if n := len(e.Errors) - 1; n > 0 {
		more = fmt.Sprintf(" (and %d more)", n)
	}
	return fmt.Sprintf("your version of %s does not build: line %d: %s%s", e.File, first.Line, first.Message, more)
}

func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			return l
		}
	}
	return strings.TrimSpace(s)
}

// customChild is a built custom child: the binary, and the copy of the
// edited file that the diagnosis reads in place of the catalog's file.
type customChild struct {
	exe string
	// source is where the edited text lies on disk; original is the path
	// of the scenario's file that the binary's stacks name.
	source, original string
}

// customBuilds serializes the builds of custom children: on a learner's
// machine they come one at a time anyway, and two identical edits must not
// race to write the same cache entry.
var customBuilds sync.Mutex

// buildCustom builds the child for an edited scenario file, or finds it in
// the cache, keyed by the edit, the scenario's file, -race and the viz
// binary that asks (a rebuilt viz may have another harness). The build is
// bounded by timeout (Run gives it the run's, at least MinBuildTimeout);
// when it passes, the go command and the compilers it started are killed.
func buildCustom(ctx context.Context, s *scenarios.Scenario, source string, race bool, timeout time.Duration) (*customChild, error) {
	root, err := moduleRoot()
	if err != nil {
		return nil, fmt.Errorf("build your version: %w", err)
	}
	goTool, err := findGo()
	if err != nil {
		return nil, fmt.Errorf("build your version: %w", err)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	base := filepath.Join(cache, "concviz", "custom")
	dir := filepath.Join(base, customKey(s.File, source, race))
	cc := &customChild{
		exe:      filepath.Join(dir, "viz-child"),
		source:   filepath.Join(dir, s.File),
		original: filepath.Join(root, "scenarios", s.File),
	}

	customBuilds.Lock()
	defer customBuilds.Unlock()
	if _, err := os.Stat(cc.exe); err == nil {
		// Touched, so that the pruning keeps what is used.
		now := time.Now()
		os.Chtimes(dir, now, now)
		return cc, nil
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return nil, fmt.Errorf("build your version: cache: %w", err)
	}
	work, err := os.MkdirTemp(base, "build-")
	if err != nil {
		return nil, fmt.Errorf("build your version: %w", err)
	}
	defer os.RemoveAll(work)
	mainFile := filepath.Join(work, "main.go")
	if err := os.WriteFile(mainFile, []byte(childMain(s.Link)), 0o644); err != nil {
		return nil, fmt.Errorf("build your version: %w", err)
	}
	// The compiler reads the edit from this copy and names it so in its
	// errors; the binary's stacks name the file it replaces.
	edited := filepath.Join(work, s.File)
	if err := os.WriteFile(edited, []byte(source), 0o644); err != nil {
		return nil, fmt.Errorf("build your version: %w", err)
	}
	ovJSON, err := json.Marshal(map[string]map[string]string{"Replace": {cc.original: edited}})
	if err != nil {
		return nil, fmt.Errorf("build your version: %w", err)
	}
	overlay := filepath.Join(work, "overlay.json")
	if err := os.WriteFile(overlay, ovJSON, 0o644); err != nil {
		return nil, fmt.Errorf("build your version: %w", err)
	}
	bin := filepath.Join(work, "viz-child")
	args := []string{"build", "-o", bin, "-overlay", overlay}
	if race {
		args = append(args, "-race")
	}
	args = append(args, mainFile)

	bctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := goCommand(bctx, goTool, root, race, args...)
	out, err := cmd.CombinedOutput()
	switch {
	case bctx.Err() != nil && ctx.Err() == nil:
		return nil, fmt.Errorf("build your version: the go command took longer than %s and was stopped", timeout)
	case ctx.Err() != nil:
		return nil, fmt.Errorf("build your version: %w", ctx.Err())
	case err != nil:
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return nil, fmt.Errorf("build your version: %w", err)
		}
		return nil, parseCompileErrors(s.File, edited, string(out))
	}
	// Only a build that succeeded is kept, the edit beside its binary.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("build your version: cache: %w", err)
	}
	if err := os.WriteFile(cc.source, []byte(source), 0o644); err != nil {
		return nil, fmt.Errorf("build your version: cache: %w", err)
	}
	if err := os.Rename(bin, cc.exe); err != nil {
		return nil, fmt.Errorf("build your version: cache: %w", err)
	}
	pruneCustom(base, dir)
	return cc, nil
}

// customKey names the cache entry of an edit.
func customKey(file, source string, race bool) string {
	h := sha256.New()
	fmt.Fprintf(h, "concviz custom child 1\x00%s\x00%s\x00%t\x00", selfID(), file, race)
	h.Write([]byte(source))
	return hex.EncodeToString(h.Sum(nil))[:24]
}

// selfID tells builds of viz apart: the path, size and time of the running
// executable. A custom child built for another viz could speak another
// child protocol.
var selfID = sync.OnceValue(func() string {
	exe, err := os.Executable()
	if err != nil {
		return "unknown"
	}
	fi, err := os.Stat(exe)
	if err != nil {
		return exe
	}
	return fmt.Sprintf("%s|%d|%d", exe, fi.Size(), fi.ModTime().UnixNano())
})

// pruneCustom removes all but the customKeep most recently used custom
// children, never the one just built. Build directories of other viz
// processes are left alone.
func pruneCustom(base, keep string) {
	entries, err := os.ReadDir(base)
	if err != nil {
		return
	}
	type entry struct {
		path string
		mod  time.Time
	}
	var all []entry
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), "build-") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		all = append(all, entry{filepath.Join(base, e.Name()), info.ModTime()})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].mod.After(all[j].mod) })
	for i, e := range all {
		if i >= customKeep && e.path != keep {
			os.RemoveAll(e.path)
		}
	}
}

// parseCompileErrors turns the go command's output into the complaints
// about the edited file, which the compiler names by the path of its
// overlay copy (edited) or, in some messages, by its base name.
func parseCompileErrors(file, edited, out string) *CompileError {
	ce := &CompileError{File: file, Errors: []SourceError{}, Output: strings.TrimSpace(out)}
	for _, line := range strings.Split(out, "\n") {
		rest, ok := "", false
		if edited != "" {
			rest, ok = strings.CutPrefix(line, edited+":")
		}
		if !ok {
			continue
		}
		// rest is "LINE:COL: message" or "LINE: message".
		parts := strings.SplitN(rest, ":", 3)
		if len(parts) < 2 {
			continue
		}
		ln, err := strconv.Atoi(parts[0])
		if err != nil {
			continue
		}
		se := SourceError{Line: ln}
		if len(parts) == 3 {
			if col, err := strconv.Atoi(parts[1]); err == nil {
				se.Column = col
				se.Message = strings.TrimSpace(parts[2])
			} else {
				se.Message = strings.TrimSpace(parts[1] + ":" + parts[2])
			}
		} else {
			se.Message = strings.TrimSpace(parts[1])
		}
		ce.Errors = append(ce.Errors, se)
	}
	// The output names the work directory, which is gone: say the file's
	// own name instead.
	if edited != "" {
		ce.Output = strings.ReplaceAll(ce.Output, edited, file)
	}
	return ce
}

// relocate points every stack frame of a custom child's output that names
// the catalog's file at the edited copy instead, so that the diagnosis
// reads the learner's lines (the binary's stacks name the file it
// replaced).
func (cc *customChild) relocate(out *childOutput) {
	fix := func(frames []Location) {
		for i := range frames {
			if frames[i].File == cc.original {
				frames[i].File = cc.source
			}
		}
	}
	if tl := out.timeline; tl != nil {
		for i := range tl.Stacks {
			fix(tl.Stacks[i].Frames)
		}
	}
	if r := out.report; r != nil {
		for i := range r.Stuck {
			fix(r.Stuck[i].Frames)
			if r.Stuck[i].CreatedBy.File == cc.original {
				r.Stuck[i].CreatedBy.File = cc.source
			}
		}
	}
	out.stderr = strings.ReplaceAll(out.stderr, cc.original+":", cc.source+":")
}
