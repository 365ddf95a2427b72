// Package scenarios is the puzzle catalog: small Go programs with a
// concurrency bug, each in a broken and one or more fixed variants.
//
// A scenario is plain Go that reads like a Go tour snippet. It knows nothing
// about tracing: the tracer runs a variant in a child process, labels its
// goroutines and watches them. Lines that cause a bug end with a "// BUG"
// comment and the lines of a fix with "// FIX", so that the browser can mark
// them and tests can check that a diagnosis points at them.
//
// This package imports nothing of concviz.
package scenarios

import (
	"context"
	"embed"
	"fmt"
	"sort"
	"strings"
)

// Outcome is what a run of a variant ends in. The tracer diagnoses it from
// what actually happened; a variant declares the outcome it must produce.
type Outcome string

// The outcomes, from the worst to the best. A run that shows several
// problems reports the first of these that applies.
const (
	// Crash is a fatal runtime error that cannot be recovered, such as
	// "concurrent map writes".
	Crash Outcome = "crash"
	// Panic is an unrecovered panic.
	Panic Outcome = "panic"
	// Deadlock means every goroutine of the scenario was blocked with no
	// way to wake up.
	Deadlock Outcome = "deadlock"
	// Race means the race detector reported a data race.
	Race Outcome = "race"
	// Leak means goroutines of the scenario were still alive when the
	// scenario returned.
	Leak Outcome = "leak"
	// Wrong means the scenario's own check failed (a wrong result).
	Wrong Outcome = "wrong"
	// Timeout means the run did not end before its time limit and was
	// killed; what it was doing is in the findings.
	Timeout Outcome = "timeout"
	// OK means nothing went wrong.
	OK Outcome = "ok"
)

// Scenario is one puzzle.
type Scenario struct {
	// ID is the stable name used by the CLI, the URL and the tests.
	ID string
	// Title is a short human title.
	Title string
	// Category groups scenarios in the picker ("Deadlocks", "Races", ...).
	Category string
	// Statement is the puzzle as a learner first reads it.
	Statement string
	// Failure explains what goes wrong in the broken variant and why.
	Failure string
	// Fix explains what the fixed variants change and why it works.
	Fix string
	// File is the name of the Go file in this package that holds the
	// scenario's code; Source is its text, shown beside the timeline.
	File string
	// Link is the import path of a package that the scenario's child must
	// link, "" for none. A scenario that needs a large dependency, such as
	// a real SQL database, is written here against a small interface of the
	// standard library (database/sql), and Link names the package that
	// provides the implementation (the driver). Only the child that runs
	// the scenario compiles that package, which the tracer builds on first
	// use: viz and the race child stay small and quick to build.
	Link string
	// Race says that the scenario must run in a race-instrumented child:
	// its broken variant is a data race that only the detector reports.
	Race bool
	// Lesson marks a scenario that compares settings rather than fixing a
	// bug: its variants are named after what they set, every one ends ok,
	// and "broken" selects the first, the default setting.
	Lesson bool
	// Variants holds the broken variant first, then the fixed ones.
	Variants []Variant
	// DefaultFixed names the variant that the alias "fixed" selects.
	DefaultFixed string
	// Profile is the profile a run records unless the user picks another:
	// "cpu" for a scenario whose point is where the CPU goes, "wall" for
	// one whose point is where time goes while goroutines wait, "" for
	// none.
	Profile string
}

// Variant is one runnable version of a scenario.
type Variant struct {
	// Name is "broken", "fixed" or "fixed-<how>".
	Name string
	// Expect is the outcome the variant must produce in every run.
	Expect Outcome
	// Run is the code of the variant. A non-nil error means the variant's
	// own check failed (outcome Wrong); the context is cancelled when the
	// harness gives up on the run.
	Run func(ctx context.Context) error
}

//go:embed *.go
var sources embed.FS

// Source returns the text of the scenario's Go file.
func (s *Scenario) Source() string {
	b, err := sources.ReadFile(s.File)
	if err != nil {
		// The catalog test reads every file, so this cannot happen in a
		// build whose tests passed.
		return fmt.Sprintf("// source of %s is missing: %v\n", s.File, err)
	}
	return string(b)
}

// MarkedLines returns the line numbers (1-based) of the scenario's source
// that carry the given marker, "// BUG" or "// FIX". A marker is a trailing
// comment that either ends the line or is followed by a colon and a short
// reason ("// BUG: nobody receives"), so that the reason can sit beside the
// code it explains.
func (s *Scenario) MarkedLines(marker string) []int {
	var lines []int
	for i, line := range strings.Split(s.Source(), "\n") {
		if hasMarker(line, marker) {
			lines = append(lines, i+1)
		}
	}
	return lines
}

// hasMarker reports whether line carries marker as a comment of its own:
// "// BUG" or "// BUG: why", but not "// BUGS" or a mention of the marker
// inside a longer comment.
func hasMarker(line, marker string) bool {
	i := strings.LastIndex(line, marker)
	if i < 0 {
		return false
	}
	rest := line[i+len(marker):]
	return rest == "" || strings.TrimSpace(rest) == "" || strings.HasPrefix(rest, ":")
}

// Variant returns the named variant. "fixed" is an alias for the scenario's
// default fixed variant.
func (s *Scenario) Variant(name string) (*Variant, error) {
	if name == "" {
		name = "broken"
	}
	if name == "broken" && s.Lesson && len(s.Variants) > 0 {
		name = s.Variants[0].Name
	}
	if name == "fixed" && s.DefaultFixed != "" {
		name = s.DefaultFixed
	}
	for i := range s.Variants {
		if s.Variants[i].Name == name {
			return &s.Variants[i], nil
		}
	}
	return nil, fmt.Errorf("scenario %s has no variant %q (variants: %s)", s.ID, name, strings.Join(s.VariantNames(), ", "))
}

// VariantNames lists the names of the variants, broken first.
func (s *Scenario) VariantNames() []string {
	names := make([]string, len(s.Variants))
	for i, v := range s.Variants {
		names[i] = v.Name
	}
	return names
}

// UnknownError is returned by Lookup for an id that is not in the catalog.
type UnknownError struct {
	ID string
}

func (e *UnknownError) Error() string {
	return fmt.Sprintf("unknown scenario %q; valid ids: %s", e.ID, strings.Join(IDs(), ", "))
}

// Lookup returns the scenario with the given id.
func Lookup(id string) (*Scenario, error) {
	for _, s := range Catalog() {
		if s.ID == id {
			return s, nil
		}
	}
	return nil, &UnknownError{ID: id}
}

// IDs lists every scenario id, sorted.
func IDs() []string {
	var ids []string
	for _, s := range Catalog() {
		ids = append(ids, s.ID)
	}
	sort.Strings(ids)
	return ids
}
