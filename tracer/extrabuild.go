package tracer

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/concviz/concviz/scenarios"
)

// A scenario whose Link names a package runs in a child of its own: the
// child harness plus that package, built with the local Go toolchain the
// first time such a scenario runs in this process. The package is one viz
// must not compile: the pure-Go SQLite takes 45 s to compile on two idle
// cores, about as long as the rest of the module and its dependencies
// together. So neither viz nor the race child imports it; only this child
// pays for it, once per machine thanks to Go's build cache, and a build
// after the first only links (one to two seconds).

// linkBuildTimeout bounds the build of a linked child. A cold build of the
// SQLite child takes 45 s on an idle two-core machine (60 s with -race,
// 80-90 s from an empty build cache on a loaded one); a busy machine may
// need several times that. A build cut short keeps the packages it
// finished in Go's cache, so the next try resumes from there.
const linkBuildTimeout = 10 * time.Minute

// keepLinkedChildren is how many linked children of earlier sources the
// cache keeps beside the current one, for each linked package.
const keepLinkedChildren = 2

// childMain is the main package of a child that links pkg beside the
// harness: the blank import runs the package's init functions (a database
// driver registers itself there), which is all a scenario needs of it.
func childMain(pkg string) string {
	if pkg == "" {
		return customMain
	}
	return fmt.Sprintf(`package main

import (
	"github.com/concviz/concviz/tracer"

	_ %q
)

func main() { tracer.MaybeRunChild() }
`, pkg)
}

// linkedBuild is the child of one linked package, with or without -race.
// Its lock is held for the whole build, so that the runs that need it wait
// for one build instead of starting their own.
type linkedBuild struct {
	mu   sync.Mutex
	path string // set once built; guarded by mu
}

var linkedBuilds struct {
	mu sync.Mutex
	m  map[string]*linkedBuild // by linkedKey
}

func linkedKey(pkg string, race bool) string {
	return fmt.Sprintf("%s|race=%t", pkg, race)
}

// linkedEntry returns the build entry of a linked child, creating it.
func linkedEntry(pkg string, race bool) *linkedBuild {
	linkedBuilds.mu.Lock()
	defer linkedBuilds.mu.Unlock()
	if linkedBuilds.m == nil {
		linkedBuilds.m = make(map[string]*linkedBuild)
	}
	key := linkedKey(pkg, race)
	b := linkedBuilds.m[key]
	if b == nil {
		b = &linkedBuild{}
		linkedBuilds.m[key] = b
	}
	return b
}

// linkedChild returns the child binary that links pkg, building it if this
// process has not yet. The build is shared by every run of the process, so
// no run's cancellation may cut it short. A failed build is not
// remembered: the next run tries again, once the source builds or the
// module can be downloaded.
func linkedChild(pkg string, race bool) (string, error) {
	b := linkedEntry(pkg, race)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.path != "" {
		if touchChild(b.path) {
			return b.path, nil
		}
		b.path = "" // removed since: build it again
	}
	ctx, cancel := context.WithTimeout(context.Background(), linkBuildTimeout)
	defer cancel()
	p, err := buildLinkedChild(ctx, pkg, race)
	if err != nil {
		return "", err
	}
	b.path = p
	return p, nil
}

// scenarioChild returns the executable that runs a scenario with a Link,
// telling onStatus (if set) when the build is slow (whileSlow).
func scenarioChild(s *scenarios.Scenario, onStatus func(string)) (string, error) {
	race := s.Race
	name := path.Base(s.Link)
	say := func(waited time.Duration) string {
		text := fmt.Sprintf("Building the %s child with the local Go toolchain (first time, about a minute; later runs start at once).", name)
		if waited > 0 {
			text += fmt.Sprintf(" %d s so far.", int(waited.Seconds()))
		}
		return text
	}
	return whileSlow(onStatus, say, func() (string, error) { return linkedChild(s.Link, race) })
}

// buildLinkedChild builds the child harness with pkg linked in and moves it
// into the user's cache directory, named by its content.
func buildLinkedChild(ctx context.Context, pkg string, race bool) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	goTool, err := findGo()
	if err != nil {
		return "", fmt.Errorf("no Go toolchain found to build the child that links %s: %w", pkg, err)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "concviz")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("linked child cache: %w", err)
	}
	work, err := os.MkdirTemp(dir, "link-build-")
	if err != nil {
		return "", fmt.Errorf("linked child cache: %w", err)
	}
	defer os.RemoveAll(work)
	mainFile := filepath.Join(work, "main.go")
	if err := os.WriteFile(mainFile, []byte(childMain(pkg)), 0o644); err != nil {
		return "", fmt.Errorf("linked child: %w", err)
	}
	bin := filepath.Join(work, "viz-child")
	args := []string{"build", "-o", bin}
	if race {
		args = append(args, "-race")
	}
	args = append(args, mainFile)
	cmd := goCommand(ctx, goTool, root, race, args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("build the child that links %s: stopped after %s", pkg, linkBuildTimeout)
		}
		return "", fmt.Errorf("build the child that links %s: %v: %s", pkg, err, strings.TrimSpace(string(out)))
	}
	// Named by its content, as the race child is: viz processes built
	// from different sources never run each other's child, and the rename
	// is atomic, so none runs a half-written one.
	sum, err := fileHash(bin)
	if err != nil {
		return "", fmt.Errorf("linked child: %w", err)
	}
	prefix := "viz-link-" + path.Base(pkg) + "-"
	if race {
		prefix = "viz-link-race-" + path.Base(pkg) + "-"
	}
	out := filepath.Join(dir, prefix+sum)
	if err := os.Rename(bin, out); err != nil {
		return "", fmt.Errorf("linked child cache: %w", err)
	}
	pruneChildren(filepath.Join(dir, prefix+"*"), out, keepLinkedChildren)
	return out, nil
}

// childInUse is how recently a child must have been used to be kept
// whatever the count: every use touches its modification time
// (touchChild), and another viz process, of another checkout or version,
// may be running it right now.
const childInUse = time.Hour

// pruneChildren removes the built children that match pattern, except
// current, the keep most recently used, and any used within childInUse.
func pruneChildren(pattern, current string, keep int) {
	olds, _ := filepath.Glob(pattern)
	type aged struct {
		path string
		mod  time.Time
	}
	var list []aged
	for _, p := range olds {
		if fi, err := os.Stat(p); err == nil && p != current && fi.Mode().IsRegular() {
			list = append(list, aged{p, fi.ModTime()})
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].mod.After(list[j].mod) })
	for i := keep; i < len(list); i++ {
		if time.Since(list[i].mod) > childInUse {
			os.Remove(list[i].path)
		}
	}
}

// touchChild marks a built child as used now, so that no viz process prunes
// it while this one runs it, and reports whether it still exists.
func touchChild(path string) bool {
	now := time.Now()
	return os.Chtimes(path, now, now) == nil
}
