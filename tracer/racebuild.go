package tracer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// raceChild returns a race-instrumented build of viz to run as the child of
// a race scenario. When this binary is itself built with -race it is its own
// race child. Otherwise viz is built once per process with the local Go
// toolchain from the module's source (Go's build cache makes every build
// after the first take well under a second) and kept in the user's cache
// directory.
func raceChild() (string, error) {
	if raceEnabled {
		return os.Executable()
	}
	raceBuild.once.Do(func() {
		// The build is shared by every run of this process, so no run's
		// cancellation may cut it short; a cold build takes about 15 s.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		raceBuild.path, raceBuild.err = buildRaceChild(ctx)
		raceBuild.done.Store(true)
	})
	return raceBuild.path, raceBuild.err
}

var raceBuild struct {
	once sync.Once
	done atomic.Bool
	path string
	err  error
}

// raceChildReady reports whether raceChild will answer without a build.
func raceChildReady() bool {
	return raceEnabled || raceBuild.done.Load()
}

func buildRaceChild(ctx context.Context) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	goTool, err := exec.LookPath("go")
	if err != nil && os.Getenv("GOROOT") != "" {
		goTool, err = exec.LookPath(filepath.Join(os.Getenv("GOROOT"), "bin", "go"))
	}
	if err != nil {
		return "", fmt.Errorf("no Go toolchain found to build a -race child: %w", err)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "concviz")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("race child cache: %w", err)
	}
	out := filepath.Join(dir, "viz-race")
	tmp, err := os.CreateTemp(dir, "viz-race-*.tmp")
	if err != nil {
		return "", fmt.Errorf("race child cache: %w", err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	cmd := exec.CommandContext(ctx, goTool, "build", "-race", "-o", tmp.Name(), "./cmd/viz")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build -race: %v: %s", err, strings.TrimSpace(string(b)))
	}
	// Rename is atomic, so concurrent viz processes never run a half
	// written binary.
	if err := os.Rename(tmp.Name(), out); err != nil {
		return "", fmt.Errorf("race child cache: %w", err)
	}
	return out, nil
}

// moduleRoot finds the concviz source tree this binary was built from: the
// directory above this file, as the compiler recorded it.
func moduleRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("cannot locate the concviz source")
	}
	root := filepath.Dir(filepath.Dir(file))
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return "", fmt.Errorf("the concviz source (%s) is not on this machine; build viz from a checkout to see races", root)
	}
	return root, nil
}
