package tracer

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A source file edited between two diagnoses is quoted as it is now, and a
// file that disappears is no longer quoted at all.
func TestSourceLineFollowsEdits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "main.go")
	write := func(src string, mod time.Time) {
		t.Helper()
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		// An explicit time: two writes within the file system's clock
		// granularity would otherwise look unchanged when their sizes match.
		if err := os.Chtimes(path, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Now().Add(-time.Hour)
	write("package main\n\tch <- 1\n", t0)
	if got := sourceLine(path, 2); got != "ch <- 1" {
		t.Fatalf("line 2 = %q, want %q", got, "ch <- 1")
	}
	write("package main\n\tch <- 2\n", t0.Add(time.Second))
	if got := sourceLine(path, 2); got != "ch <- 2" {
		t.Fatalf("after the edit, line 2 = %q, want %q", got, "ch <- 2")
	}
	if f, _ := parseSource(path); f == nil || f.Name.Name != "main" {
		t.Fatalf("parseSource = %v, want the package main file", f)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if got := sourceLine(path, 2); got != "" {
		t.Fatalf("after removal, line 2 = %q, want empty", got)
	}
	if f, fset := parseSource(path); f != nil || fset == nil {
		t.Fatalf("parseSource of a removed file = %v, %v; want nil and a file set", f, fset)
	}
}

// The caches keep at most fileCacheSize files, however many are read.
func TestSourceCacheIsBounded(t *testing.T) {
	dir := t.TempDir()
	for i := range fileCacheSize + 50 {
		path := filepath.Join(dir, fmt.Sprintf("f%d.go", i))
		if err := os.WriteFile(path, []byte(fmt.Sprintf("package p\n// %d\n", i)), 0o644); err != nil {
			t.Fatal(err)
		}
		if got, want := sourceLine(path, 2), fmt.Sprintf("// %d", i); got != want {
			t.Fatalf("%s line 2 = %q, want %q", path, got, want)
		}
		parseSource(path)
	}
	if n := sourceCache.entries.Len(); n > fileCacheSize {
		t.Errorf("source cache holds %d files, want at most %d", n, fileCacheSize)
	}
	if n := parsedFiles.entries.Len(); n > fileCacheSize {
		t.Errorf("parse cache holds %d files, want at most %d", n, fileCacheSize)
	}
}
