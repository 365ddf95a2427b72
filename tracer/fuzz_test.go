package tracer

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzReadTrace feeds arbitrary bytes through the path a user's file takes:
// parse, build the timeline, encode it as the browser receives it. It must
// never panic, and what it accepts must be a well-formed timeline. Seeds
// are the recorded fixtures, cut short at fixed and at random offsets,
// with bytes flipped, and garbage (see traceSeeds). Inputs that once
// failed are kept under testdata/fuzz/FuzzReadTrace and run with every go
// test.
//
// A short run is part of go test; a longer one:
//
//	go test ./tracer -run '^$' -fuzz FuzzReadTrace -fuzztime 10m
func FuzzReadTrace(f *testing.F) {
	for _, seed := range traceSeeds(f) {
		f.Add(seed)
	}
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

// seedCuts and seedFlips are how many random truncations and random byte
// flips of each fixture traceSeeds adds.
const (
	seedCuts  = 48
	seedFlips = 16
)

// traceSeeds are the inputs FuzzReadTrace starts from and that the bound
// tests measure: each fixture whole, cut at fixed offsets and at seedCuts
// random ones, with a few bytes flipped at random, and garbage. The random
// choices are seeded, so the seeds are the same in every run.
func traceSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	fixtures, _ := filepath.Glob(filepath.Join("testdata", "traces", "*.trace"))
	if len(fixtures) == 0 {
		tb.Fatal("no trace fixtures in testdata/traces")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var seeds [][]byte
	for _, p := range fixtures {
		data, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		seeds = append(seeds, data)
		for _, cut := range []int{16, 64, len(data) / 3, len(data) / 2, len(data) - 1} {
			if cut > 0 && cut < len(data) {
				seeds = append(seeds, data[:cut])
			}
		}
		for range seedCuts {
			seeds = append(seeds, data[:1+rng.IntN(len(data)-1)])
		}
		for range seedFlips {
			b := bytes.Clone(data)
			for range 1 + rng.IntN(4) {
				b[rng.IntN(len(b))] ^= byte(1 + rng.IntN(255))
			}
			seeds = append(seeds, b)
		}
	}
	seeds = append(seeds,
		[]byte("go 1.26 trace\x00\x00\x00"),
		[]byte("go 1.22 trace\x00\x00\x00\x01"),
		[]byte("go 1.26 trace\x00\x00\x00"+strings.Repeat("\xff", 64)),
		[]byte("not a trace"),
		[]byte{},
	)
	return seeds
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
