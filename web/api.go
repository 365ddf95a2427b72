package web

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/concviz/concviz/scenarios"
	"github.com/concviz/concviz/tracer"
)

// ScenarioInfo is one entry of GET /api/scenarios: what the picker and the
// explanation pane show of a scenario.
type ScenarioInfo struct {
	ID           string        `json:"id"`
	Title        string        `json:"title"`
	Category     string        `json:"category"`
	Statement    string        `json:"statement"`
	Failure      string        `json:"failure"`
	Fix          string        `json:"fix"`
	File         string        `json:"file"`
	Race         bool          `json:"race"`
	Variants     []VariantInfo `json:"variants"`
	DefaultFixed string        `json:"default_fixed"`
	// Profile is the profile a run records unless the page asks for
	// another: "cpu", "wall" or "" for none.
	Profile string `json:"profile"`
}

// VariantInfo is a variant of a scenario and the outcome it must produce.
type VariantInfo struct {
	Name   string            `json:"name"`
	Expect scenarios.Outcome `json:"expect"`
}

// SourceInfo is the answer of GET /api/scenarios/{id}/source: the code pane's
// text and the lines marked "// BUG" and "// FIX" (1-based).
type SourceInfo struct {
	File     string `json:"file"`
	Source   string `json:"source"`
	BugLines []int  `json:"bug_lines"`
	FixLines []int  `json:"fix_lines"`
}

// apiError is the body of every error answer of the API.
type apiError struct {
	Error string `json:"error"`
	// Valid lists the valid values, when the error is an unknown name.
	Valid []string `json:"valid,omitempty"`
}

// scenarioInfo converts a catalog entry for the API.
func scenarioInfo(sc *scenarios.Scenario) ScenarioInfo {
	info := ScenarioInfo{
		ID:           sc.ID,
		Title:        sc.Title,
		Category:     sc.Category,
		Statement:    sc.Statement,
		Failure:      sc.Failure,
		Fix:          sc.Fix,
		File:         sc.File,
		Race:         sc.Race,
		Variants:     make([]VariantInfo, len(sc.Variants)),
		DefaultFixed: sc.DefaultFixed,
		Profile:      sc.Profile,
	}
	for i, v := range sc.Variants {
		info.Variants[i] = VariantInfo{Name: v.Name, Expect: v.Expect}
	}
	return info
}

// handleScenarios lists the catalog in display order.
func (s *Server) handleScenarios(w http.ResponseWriter, r *http.Request) {
	list := make([]ScenarioInfo, 0, len(scenarios.Catalog()))
	for _, sc := range scenarios.Catalog() {
		list = append(list, scenarioInfo(sc))
	}
	writeJSON(w, http.StatusOK, list)
}

// handleSource serves a scenario's source with its marked lines.
func (s *Server) handleSource(w http.ResponseWriter, r *http.Request) {
	sc, err := scenarios.Lookup(r.PathValue("id"))
	if err != nil {
		var unknown *scenarios.UnknownError
		if errors.As(err, &unknown) {
			writeJSON(w, http.StatusNotFound, apiError{Error: err.Error(), Valid: scenarios.IDs()})
			return
		}
		writeJSON(w, http.StatusInternalServerError, apiError{Error: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, SourceInfo{
		File:     sc.File,
		Source:   sc.Source(),
		BugLines: nonNil(sc.MarkedLines("// BUG")),
		FixLines: nonNil(sc.MarkedLines("// FIX")),
	})
}

// handleStates lists the goroutine state names in the order of
// tracer.State, so that the page can index its legend and palette by them.
func (s *Server) handleStates(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, tracer.StateNames())
}

// handleAPINotFound answers every other /api/ path with a JSON error rather
// than the file server's text. (A method other than GET on an API path gets
// the mux's 405.)
func (s *Server) handleAPINotFound(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusNotFound, apiError{Error: "no such API route: " + r.URL.Path})
}

// writeJSON writes v as the JSON body of a response with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encode response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// nonNil returns s, or an empty slice for nil, so that JSON says [] rather
// than null.
func nonNil(s []int) []int {
	if s == nil {
		return []int{}
	}
	return s
}
