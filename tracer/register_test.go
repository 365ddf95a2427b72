package tracer

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/concviz/concviz/scenarios"
)

// registeredPing is a scenario that only this test binary knows: it runs in
// the test binary as its own child, which finds it because init registers
// it before TestMain calls MaybeRunChild.
var registeredPing = scenarios.Scenario{
	ID:    "test-registered-ping",
	Title: "A handoff that only the tracer's tests know",
	Variants: []scenarios.Variant{{
		Name:   "broken",
		Expect: scenarios.OK,
		Run: func(ctx context.Context) error {
			ch := make(chan int)
			go func() { ch <- 42 }()
			if v := <-ch; v != 42 {
				return errors.New("the handoff lost its value")
			}
			return nil
		},
	}},
}

func init() { RegisterScenario(&registeredPing) }

// TestRegisteredScenario runs a registered scenario through the whole child
// path and checks that the catalog does not show it.
func TestRegisteredScenario(t *testing.T) {
	for _, s := range scenarios.Catalog() {
		if s.ID == registeredPing.ID {
			t.Fatalf("the catalog lists the registered scenario %s", s.ID)
		}
	}
	if slices.Contains(scenarios.IDs(), registeredPing.ID) {
		t.Fatalf("scenarios.IDs lists the registered scenario %s", registeredPing.ID)
	}
	res, err := Run(context.Background(), RunOptions{Scenario: registeredPing.ID})
	if err != nil {
		t.Fatalf("run %s: %v", registeredPing.ID, err)
	}
	if got := res.Report.Outcome; got != scenarios.OK {
		t.Fatalf("outcome = %s, want ok; findings: %+v", got, res.Report.Findings)
	}
	if res.Report.Goroutines < 2 {
		t.Errorf("report counts %d goroutines, want the root and its sender", res.Report.Goroutines)
	}
}

// TestLookupScenario checks that lookups reach the catalog and the
// registrations, and that an unknown id keeps the catalog's error.
func TestLookupScenario(t *testing.T) {
	for _, id := range []string{"deadlock-cross-wait", registeredPing.ID} {
		s, err := LookupScenario(id)
		if err != nil || s.ID != id {
			t.Errorf("LookupScenario(%q) = %v, %v; want the scenario", id, s, err)
		}
	}
	_, err := LookupScenario("no-such-scenario")
	var unknown *scenarios.UnknownError
	if !errors.As(err, &unknown) || strings.Contains(err.Error(), registeredPing.ID) {
		t.Errorf("LookupScenario(unknown) error = %v; want an *UnknownError that lists the catalog only", err)
	}
}

// TestRegisterScenarioTwice checks that an id already taken is refused.
func TestRegisterScenarioTwice(t *testing.T) {
	for _, id := range []string{"deadlock-cross-wait", registeredPing.ID} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("RegisterScenario(%q) did not panic", id)
				}
			}()
			RegisterScenario(&scenarios.Scenario{ID: id})
		}()
	}
}
