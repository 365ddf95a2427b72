package tracer

import (
	"reflect"
	"strings"
	"testing"
)

// wantAccess describes one access of a race report by the markers of the
// program that made it.
type wantAccess struct {
	write   bool
	main    bool
	fn      string // the user function that made the access
	line    string // its marker
	created string // marker of the go statement, "" for the main goroutine
}

func TestParseRaces(t *testing.T) {
	tests := []struct {
		file string
		want [][2]wantAccess
	}{
		{"counter", [][2]wantAccess{{
			{write: false, fn: "main.bump", line: "bump", created: "go-bump"},
			{write: true, fn: "main.bump", line: "bump", created: "go-bump"},
		}}},
		{"mainread", [][2]wantAccess{{
			{write: false, main: true, fn: "main.main", line: "read"},
			{write: true, fn: "main.main.func1", line: "write", created: "go-write"},
		}}},
		{"mapwrite", [][2]wantAccess{{
			{write: true, fn: "main.put", line: "put", created: "go-put"},
			{write: true, main: true, fn: "main.main", line: "main-put"},
		}, {
			{write: false, main: true, fn: "main.main", line: "flag-read"},
			{write: true, fn: "main.main.func1", line: "flag-write", created: "go-flag"},
		}}},
		{"racepanic", [][2]wantAccess{{
			{write: false, main: true, fn: "main.main", line: "read"},
			{write: true, fn: "main.add", line: "add", created: "go-add"},
		}}},
	}
	for _, tt := range tests {
		lines := markers(t, "races", tt.file)
		file := "/src/" + tt.file + ".go"
		for name, text := range outputs(t, "races", tt.file) {
			t.Run(name, func(t *testing.T) {
				reports := ParseRaces(text)
				if len(reports) != len(tt.want) {
					t.Fatalf("%d reports, want %d", len(reports), len(tt.want))
				}
				for i, r := range reports {
					if !strings.HasPrefix(r.Raw, "WARNING: DATA RACE\n") || strings.Contains(r.Raw, raceFence) {
						t.Errorf("report %d: raw text is not the report between the fences:\n%s", i, r.Raw)
					}
					if r.Accesses[0].Goroutine == r.Accesses[1].Goroutine {
						t.Errorf("report %d: both accesses by goroutine %d", i, r.Accesses[0].Goroutine)
					}
					for j, want := range tt.want[i] {
						a := r.Accesses[j]
						if a.Write != want.write || a.Main != want.main || a.Main != (a.Goroutine == 1) {
							t.Errorf("report %d access %d: write %v main %v goroutine %d, want write %v main %v",
								i, j, a.Write, a.Main, a.Goroutine, want.write, want.main)
						}
						f, ok := frame(a.Frames, want.fn)
						if wantLine := mark(t, lines, want.line); !ok || f.Line != wantLine || f.File != file {
							t.Errorf("report %d access %d: frames %v, want %s at %s:%d", i, j, a.Frames, want.fn, file, wantLine)
						}
						if want.created == "" {
							if len(a.Created) != 0 {
								t.Errorf("report %d access %d: created at %v, want nothing", i, j, a.Created)
							}
							continue
						}
						wantCreated := Location{Func: "main.main", File: file, Line: mark(t, lines, want.created)}
						if len(a.Created) != 1 || a.Created[0] != wantCreated {
							t.Errorf("report %d access %d: created at %v, want %v", i, j, a.Created, wantCreated)
						}
					}
				}
			})
		}
	}
}

func TestParseRacesRuntimeFrames(t *testing.T) {
	// A map write races inside the runtime: the innermost frame is the
	// runtime's, the user's code is under it.
	for name, text := range outputs(t, "races", "mapwrite") {
		r := ParseRaces(text)[0]
		for i, a := range r.Accesses {
			if len(a.Frames) < 2 || a.Frames[0].Func != "runtime.mapassign_fast64" || a.Frames[0].File != "/goroot/src/internal/runtime/maps/runtime_fast64.go" {
				t.Errorf("%s: access %d: frames %v, want runtime.mapassign_fast64 first", name, i, a.Frames)
			}
		}
	}
}

func TestParseRacesSynthetic(t *testing.T) {
	// The forms no saved program produces: atomic accesses, a stack the
	// detector could not restore, a heap block section, noise around.
	text := "output\n" +
		"==================\n" +
		"WARNING: DATA RACE\n" +
		"Atomic write at 0x00c000012345 by goroutine 12:\n" +
		"  main.store()\n" +
		"      /src/a.go:5 +0x44\n" +
		"\n" +
		"Previous read at 0x00c000012345 by goroutine 13:\n" +
		"  [failed to restore the stack]\n" +
		"\n" +
		"Heap block of size 8 at 0x00c000012340 allocated by main goroutine:\n" +
		"  main.main()\n" +
		"      /src/a.go:9 +0x20\n" +
		"\n" +
		"Goroutine 12 (running) created at:\n" +
		"  main.main()\n" +
		"      /src/a.go:10 +0x30\n" +
		"==================\n" +
		"==================\n" +
		"WARNING: DATA RACE\n" +
		"Read at 0x0 by goroutine 2:\n" +
		"==================\n" +
		"Found 2 data race(s)\n" +
		"exit status 66\n"
	got := ParseRaces(text)
	if len(got) != 1 {
		t.Fatalf("%d reports, want 1 (the second has one access)", len(got))
	}
	want := [2]RaceAccess{{
		Write:     true,
		Goroutine: 12,
		Frames:    []Location{{Func: "main.store", File: "/src/a.go", Line: 5}},
		Created:   []Location{{Func: "main.main", File: "/src/a.go", Line: 10}},
	}, {
		Goroutine: 13,
	}}
	if !reflect.DeepEqual(got[0].Accesses, want) {
		t.Errorf("got  %+v\nwant %+v", got[0].Accesses, want)
	}
}

func TestParseRacesTruncated(t *testing.T) {
	for name, text := range allOutputs(t, "races") {
		t.Run(name, func(t *testing.T) {
			full := ParseRaces(text)
			// A report is complete once its closing fence and newline
			// arrived.
			var ends []int
			for off, n := 0, 0; ; n++ {
				i := strings.Index(text[off:], raceFence+"\n")
				if i < 0 {
					break
				}
				off += i + len(raceFence) + 1
				if n%2 == 1 {
					ends = append(ends, off)
				}
			}
			if len(ends) != len(full) {
				t.Fatalf("%d reports closed, %d parsed", len(ends), len(full))
			}
			for k := 0; k <= len(text); k++ {
				got := ParseRaces(text[:k])
				complete := 0
				for _, e := range ends {
					if e <= k {
						complete++
					}
				}
				if len(got) != complete || complete > 0 && !reflect.DeepEqual(got, full[:complete]) {
					t.Fatalf("cut at %d: %d reports, want the %d complete ones", k, len(got), complete)
				}
			}
		})
	}
}

func TestParseRacesNone(t *testing.T) {
	for name, text := range allOutputs(t, "dumps") {
		if r := ParseRaces(text); len(r) != 0 {
			t.Errorf("%s: %d race reports in a dump", name, len(r))
		}
	}
}
