package tracer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
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
	raceBuild.mu.Lock()
	defer raceBuild.mu.Unlock()
	if raceBuild.path != "" {
		if touchChild(raceBuild.path) {
			return raceBuild.path, nil
		}
		// Removed since (by hand, or pruned by a viz process of
		// another source): build it again.
		raceBuild.path = ""
	}
	// The build is shared by every run of this process, so no run's
	// cancellation may cut it short; a cold build takes about 15 s. A
	// failed build is not remembered: the next race run tries again, once
	// the source compiles.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	path, err := buildRaceChild(ctx)
	if err != nil {
		return "", err
	}
	raceBuild.path = path
	return path, nil
}

var raceBuild struct {
	mu   sync.Mutex
	path string
}

func buildRaceChild(ctx context.Context) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	goTool, err := findGo()
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
	work, err := os.MkdirTemp(dir, "race-build-")
	if err != nil {
		return "", fmt.Errorf("race child cache: %w", err)
	}
	defer os.RemoveAll(work)
	// The child needs nothing but the harness and the catalog: building
	// that small main, not ./cmd/viz, keeps a half-edited web package
	// from breaking race puzzles.
	mainFile := filepath.Join(work, "main.go")
	if err := os.WriteFile(mainFile, []byte(customMain), 0o644); err != nil {
		return "", fmt.Errorf("race child: %w", err)
	}
	bin := filepath.Join(work, "viz-race")
	cmd := goCommand(ctx, goTool, root, true, "build", "-race", "-o", bin, mainFile)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build -race: %v: %s", err, strings.TrimSpace(string(b)))
	}
	// The binary is named by its content, so viz processes built from
	// different sources never run each other's child; rename is atomic, so
	// none runs a half-written one.
	sum, err := fileHash(bin)
	if err != nil {
		return "", fmt.Errorf("race child: %w", err)
	}
	out := filepath.Join(dir, "viz-race-"+sum)
	if err := os.Rename(bin, out); err != nil {
		return "", fmt.Errorf("race child cache: %w", err)
	}
	pruneChildren(filepath.Join(dir, "viz-race-*"), out, keepRaceChildren)
	return out, nil
}

// keepRaceChildren is how many race children of earlier sources the cache
// keeps beside the current one.
const keepRaceChildren = 3

// fileHash is the first 16 hex digits of a file's SHA-256.
func fileHash(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
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
