package tracer

import (
	"strconv"
	"strings"
)

// This file parses the reports of the race detector (ThreadSanitizer's Go
// mode) that a child built with -race prints on stderr. A report is framed
// by lines of '=' signs:
//
//	==================
//	WARNING: DATA RACE
//	Read at 0x00c000012345 by goroutine 8:
//	  main.main.func1()
//	      /path/x.go:14 +0x44
//
//	Previous write at 0x00c000012345 by main goroutine:
//	  ...
//
//	Goroutine 8 (running) created at:
//	  main.main()
//	      /path/x.go:12 +0x7c
//	==================

// RaceAccess is one of the two conflicting memory accesses of a race report.
type RaceAccess struct {
	// Write says the access wrote; otherwise it read.
	Write bool `json:"write"`
	// Goroutine is the race detector's number of the goroutine, which is
	// not the runtime's goroutine id (nor the trace's). The detector
	// numbers the main goroutine 1 and prints it as "main goroutine", so
	// a main access has Goroutine 1 and Main set.
	Goroutine int  `json:"goroutine"`
	Main      bool `json:"main,omitempty"`
	// Frames is the stack of the access, innermost first; it starts in
	// the runtime for accesses the runtime makes on the program's behalf
	// (runtime.mapassign_fast64). It is empty when the detector failed
	// to restore the stack.
	Frames []Location `json:"frames"`
	// Created is the stack of the go statement that started the
	// goroutine ("Goroutine N (...) created at:"), empty for the main
	// goroutine.
	Created []Location `json:"created,omitempty"`
}

// RaceReport is one "WARNING: DATA RACE" report.
type RaceReport struct {
	// Accesses holds the current access first, then the previous one.
	Accesses [2]RaceAccess `json:"accesses"`
	// Raw is the report text between the ===== lines.
	Raw string `json:"raw"`
}

const (
	raceFence   = "=================="
	raceWarning = "WARNING: DATA RACE"
)

// ParseRaces returns every complete data race report in a child's stderr,
// in order. The rest of stderr (the scenario's output, "Found N data
// race(s)", a crash that followed) is skipped, and so is a report cut
// short before its closing line.
func ParseRaces(stderr string) []RaceReport {
	var reports []RaceReport
	lines := strings.Split(stderr, "\n")
	for i := 0; i < len(lines); i++ {
		if lines[i] != raceFence || i+1 >= len(lines) || lines[i+1] != raceWarning {
			continue
		}
		end := -1
		for j := i + 2; j < len(lines); j++ {
			if lines[j] == raceFence {
				end = j
				break
			}
		}
		// The closing fence must be a whole line: one more element
		// after it shows that its newline arrived.
		if end < 0 || end+1 >= len(lines) {
			break
		}
		body := lines[i+1 : end]
		if r, ok := parseRace(body); ok {
			reports = append(reports, r)
		}
		i = end
	}
	return reports
}

// parseRace parses the lines of one report, WARNING line included. A report
// is kept only if it names both accesses.
func parseRace(body []string) (RaceReport, bool) {
	r := RaceReport{Raw: strings.Join(body, "\n") + "\n"}
	var n int // accesses found
	created := map[int][]Location{}
	for i := 1; i < len(body); i++ {
		if a, ok := parseRaceAccess(body[i]); ok {
			a.Frames, i = raceFrames(body, i+1)
			if n < len(r.Accesses) {
				r.Accesses[n] = a
				n++
			}
			continue
		}
		if g, ok := parseRaceCreated(body[i]); ok {
			created[g], i = raceFrames(body, i+1)
		}
		// Other sections ("Heap block of size 8 at ... allocated by
		// ...:", "Global var ...") and their stacks say nothing the
		// views show.
	}
	if n < len(r.Accesses) {
		return RaceReport{}, false
	}
	for i := range r.Accesses {
		a := &r.Accesses[i]
		if !a.Main {
			a.Created = created[a.Goroutine]
		}
	}
	return r, true
}

// raceFrames reads the stack that starts at body[i] and returns it with the
// index of its last line.
func raceFrames(body []string, i int) ([]Location, int) {
	var frames []Location
	for ; i+1 < len(body); i += 2 {
		fn, ok := parseRaceFunc(body[i])
		if !ok {
			break
		}
		file, line, ok := parseRaceFile(body[i+1])
		if !ok {
			break
		}
		frames = append(frames, Location{Func: fn, File: file, Line: line})
	}
	return frames, i - 1
}

// mainRaceGoroutine is the race detector's number for the main goroutine
// (kMainGoroutineId in ThreadSanitizer's Go report code).
const mainRaceGoroutine = 1

// parseRaceAccess parses "Read at 0x00c000012345 by goroutine 8:",
// "Previous write at 0x... by main goroutine:" and the atomic forms.
func parseRaceAccess(line string) (RaceAccess, bool) {
	rest, ok := strings.CutSuffix(line, ":")
	if !ok {
		return RaceAccess{}, false
	}
	kind, rest, ok := strings.Cut(rest, " at ")
	if !ok {
		return RaceAccess{}, false
	}
	kind = strings.ToLower(kind)
	kind = strings.TrimPrefix(kind, "previous ")
	kind = strings.TrimPrefix(kind, "atomic ")
	var a RaceAccess
	switch kind {
	case "read":
	case "write":
		a.Write = true
	default:
		return RaceAccess{}, false
	}
	_, who, ok := strings.Cut(rest, " by ")
	if !ok {
		return RaceAccess{}, false
	}
	if who == "main goroutine" {
		a.Goroutine, a.Main = mainRaceGoroutine, true
		return a, true
	}
	g, ok := strings.CutPrefix(who, "goroutine ")
	if !ok {
		return RaceAccess{}, false
	}
	id, err := strconv.Atoi(g)
	if err != nil {
		return RaceAccess{}, false
	}
	a.Goroutine = id
	return a, true
}

// parseRaceCreated parses "Goroutine 8 (running) created at:".
func parseRaceCreated(line string) (int, bool) {
	rest, ok := strings.CutPrefix(line, "Goroutine ")
	if !ok || !strings.HasSuffix(rest, " created at:") {
		return 0, false
	}
	id, _, _ := strings.Cut(rest, " ")
	g, err := strconv.Atoi(id)
	return g, err == nil
}

// parseRaceFunc parses a frame's function line, "  main.main.func1()": the
// detector prints every function with empty parentheses.
func parseRaceFunc(line string) (string, bool) {
	s, ok := strings.CutPrefix(line, "  ")
	if !ok || strings.HasPrefix(s, " ") {
		return "", false
	}
	fn, ok := strings.CutSuffix(s, "()")
	return fn, ok && fn != ""
}

// parseRaceFile parses a frame's file line, "      /path/x.go:14 +0x44".
func parseRaceFile(line string) (string, int, bool) {
	s, ok := strings.CutPrefix(line, "      ")
	if !ok {
		return "", 0, false
	}
	return parseFileLine("\t" + s)
}
