//go:build ignore

// Gen builds each program of this directory with the race detector, runs it
// the way the child harness would (GOTRACEBACK=all,
// GODEBUG=tracebacklabels=1) and saves its stderr as go1.NN-<case>.txt, with
// this machine's paths replaced by /src/ (this directory) and /goroot/ (the
// Go installation), so the tests parse real race detector output of the Go
// version that wrote it. Run it with "go run gen.go" after a Go upgrade; it
// keeps the files of older versions. The tests take the lines they expect
// from the "// LINE:name" comments of the programs as they are now, so after
// editing a program, run gen.go again and delete the outputs of older
// versions whose lines moved.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// A genCase is one saved output: which program, and the environment it
// runs in on top of the common one.
type genCase struct {
	name string // output file suffix
	prog string // program file without .go
	env  []string
}

var cases = []genCase{
	{name: "counter", prog: "counter"},
	{name: "mainread", prog: "mainread"},
	{name: "mapwrite", prog: "mapwrite"},
	{name: "racepanic", prog: "racepanic"},
}

func main() {
	log.SetFlags(0)
	if err := run(); err != nil {
		log.Fatalf("gen: %v", err)
	}
}

func run() error {
	dir, err := os.Getwd()
	if err != nil {
		return err
	}
	version, err := goEnv("GOVERSION")
	if err != nil {
		return err
	}
	goroot, err := goEnv("GOROOT")
	if err != nil {
		return err
	}
	// go1.26.8 -> go1.26: the output format changes with minor releases only.
	if parts := strings.Split(version, "."); len(parts) > 2 {
		version = strings.Join(parts[:2], ".")
	}
	bin, err := os.MkdirTemp("", "concviz-gen")
	if err != nil {
		return err
	}
	defer os.RemoveAll(bin)

	built := map[string]bool{}
	for _, c := range cases {
		if built[c.prog] {
			continue
		}
		build := exec.Command("go", "build", "-race", "-o", filepath.Join(bin, c.prog), c.prog+".go")
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build %s: %w", c.prog, err)
		}
		built[c.prog] = true
	}

	replacer := strings.NewReplacer(dir+string(filepath.Separator), "/src/", goroot+string(filepath.Separator), "/goroot/")
	errs := make([]error, len(cases))
	var wg sync.WaitGroup
	for i, c := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := runCase(filepath.Join(bin, c.prog), c.env)
			if err != nil {
				errs[i] = fmt.Errorf("run %s: %w", c.name, err)
				return
			}
			file := fmt.Sprintf("%s-%s.txt", version, c.name)
			errs[i] = os.WriteFile(file, []byte(replacer.Replace(out)), 0o644)
			log.Printf("wrote %s (%d bytes)", file, len(out))
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// runCase runs one program and returns its stderr. A non-zero exit is the
// point of most programs, so only a failure to start or a hang is an error.
func runCase(path string, env []string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, path)
	cmd.Env = append(os.Environ(), "GOTRACEBACK=all", "GODEBUG=tracebacklabels=1")
	cmd.Env = append(cmd.Env, env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && (!errors.As(err, &exit) || ctx.Err() != nil) {
		return "", err
	}
	return stderr.String(), nil
}

func goEnv(key string) (string, error) {
	out, err := exec.Command("go", "env", key).Output()
	if err != nil {
		return "", fmt.Errorf("go env %s: %w", key, err)
	}
	return strings.TrimSpace(string(out)), nil
}
