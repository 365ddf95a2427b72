//go:build ignore

// gen records the trace fixtures of the timeline builder's tests, named by
// the Go version that recorded them. Run it from this directory:
//
//	go run gen.go
//
// It runs `viz record` for each fixture, so the traces are exactly what the
// tool records, harness goroutines included. It builds viz with -trimpath
// so that the fixtures name source files by import path, not by where this
// checkout happens to live.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

var fixtures = []struct{ scenario, variant string }{
	{"deadlock-cross-wait", "broken"},
	{"deadlock-cross-wait", "fixed"},
	{"leak-unread-result", "broken"},
}

func main() {
	version := runtime.Version()
	if i := strings.LastIndexByte(version, '.'); strings.Count(version, ".") > 1 {
		version = version[:i] // go1.26.8 -> go1.26
	}
	for _, f := range fixtures {
		out := fmt.Sprintf("%s-%s-%s.trace", version, f.scenario, f.variant)
		cmd := exec.Command("go", "run", "-trimpath", "../../../cmd/viz", "record", f.scenario, "--variant", f.variant, "-o", out)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "gen: %s %s: %v\n", f.scenario, f.variant, err)
			os.Exit(1)
		}
	}
}
