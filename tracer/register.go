package tracer

import (
	"fmt"
	"sync"

	"github.com/concviz/concviz/scenarios"
)

// registered holds the scenarios that this program added for itself with
// RegisterScenario, by id. The catalog stays the list that learners pick
// from; these are runnable by id only, in this program alone.
var registered struct {
	sync.RWMutex
	byID map[string]*scenarios.Scenario
}

// RegisterScenario makes s runnable by Run (and by the web server's
// sessions) in this program, without adding it to the catalog that viz
// lists and the page offers. It is for programs that measure the tracer
// with a scenario of their own, such as a benchmark's busy child.
//
// The program is its own child, and a child finds its scenario by id, so
// the program must register s before it calls MaybeRunChild, in the parent
// and the child alike: an init function is the place. Registering an id
// that the catalog or an earlier registration already has panics, because
// it would make one of the two unreachable.
func RegisterScenario(s *scenarios.Scenario) {
	if _, err := scenarios.Lookup(s.ID); err == nil {
		panic(fmt.Sprintf("tracer: register scenario %q: the catalog has one of that id", s.ID))
	}
	registered.Lock()
	defer registered.Unlock()
	if _, dup := registered.byID[s.ID]; dup {
		panic(fmt.Sprintf("tracer: register scenario %q twice", s.ID))
	}
	if registered.byID == nil {
		registered.byID = make(map[string]*scenarios.Scenario)
	}
	registered.byID[s.ID] = s
}

// LookupScenario returns the scenario with the given id, from the catalog
// or from this program's registrations. An unknown id gives the catalog's
// *scenarios.UnknownError, which lists the catalog's ids only.
func LookupScenario(id string) (*scenarios.Scenario, error) {
	s, err := scenarios.Lookup(id)
	if err == nil {
		return s, nil
	}
	registered.RLock()
	defer registered.RUnlock()
	if s, ok := registered.byID[id]; ok {
		return s, nil
	}
	return nil, err
}
