package tracer

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzReadTrace feeds arbitrary bytes through the path a user's file takes:
// parse, build the timeline, encode it as the browser receives it. It must
// never panic, and what it accepts must be a well-formed timeline. Seeds
// are the recorded fixtures, cut short at a few points, and garbage.
//
// A short run is part of go test; a longer one:
//
//	go test ./tracer -run '^$' -fuzz FuzzReadTrace -fuzztime 10m
func FuzzReadTrace(f *testing.F) {
	fixtures, _ := filepath.Glob(filepath.Join("testdata", "traces", "*.trace"))
	for _, p := range fixtures {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		for _, cut := range []int{16, 64, len(data) / 3, len(data) / 2, len(data) - 1} {
			if cut > 0 && cut < len(data) {
				f.Add(data[:cut])
			}
		}
	}
	f.Add([]byte("go 1.26 trace\x00\x00\x00"))
	f.Add([]byte("go 1.22 trace\x00\x00\x00\x01"))
	f.Add([]byte("not a trace"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		tl, err := ReadTrace(bytes.NewReader(data), ReadOptions{})
		if err != nil {
			return
		}
		checkTimeline(t, tl)
		if _, err := json.Marshal(tl); err != nil {
			t.Fatalf("timeline does not encode: %v", err)
		}
	})
}

// checkTimeline checks the model's invariants.
func checkTimeline(t *testing.T, tl *Timeline) {
	t.Helper()
	seen := map[int64]bool{}
	for _, g := range tl.Goroutines {
		if seen[g.ID] {
			t.Fatalf("G%d appears twice", g.ID)
		}
		seen[g.ID] = true
		for i, s := range g.Spans {
			if s.End == Open || s.End < s.Start {
				t.Fatalf("G%d span %d: [%d, %d] is open or reversed after Finish", g.ID, i, s.Start, s.End)
			}
			if i > 0 && s.Start != g.Spans[i-1].End {
				t.Fatalf("G%d span %d does not start where the previous ended", g.ID, i)
			}
			if s.State >= StateLast {
				t.Fatalf("G%d span %d has state %d", g.ID, i, s.State)
			}
			if s.Stack != NoStack && (s.Stack < 0 || s.Stack >= len(tl.Stacks)) {
				t.Fatalf("G%d span %d stack %d out of range", g.ID, i, s.Stack)
			}
		}
	}
}
