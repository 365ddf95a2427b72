package web

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"reflect"
	"runtime"
	"strings"

	"github.com/concviz/concviz/scenarios"
)

// DiffInfo is the answer of GET /api/scenarios/{id}/diff?a=VARIANT&b=VARIANT:
// the code of two variants, line by line, with what one has and the other
// lacks. A variant's code is the function that runs it, found in the
// scenario's file; helpers the variants share are the same in both.
type DiffInfo struct {
	File  string     `json:"file"`
	A     DiffSide   `json:"a"`
	B     DiffSide   `json:"b"`
	Lines []DiffLine `json:"lines"`
}

// DiffSide is one variant of a diff and where its function is in the file.
type DiffSide struct {
	Variant string `json:"variant"`
	Func    string `json:"func"`
	// Start and End are the function's first and last line, 1-based.
	Start int `json:"start"`
	End   int `json:"end"`
}

// DiffLine is one line of a diff. Op is " " for a line both variants have,
// "-" for a line of A only and "+" for a line of B only; A and B are its
// line numbers in the file (0 on the side that lacks it). Mark is "bug" or
// "fix" for a line marked "// BUG" or "// FIX".
type DiffLine struct {
	Op   string `json:"op"`
	A    int    `json:"a"`
	B    int    `json:"b"`
	Text string `json:"text"`
	Mark string `json:"mark,omitempty"`
}

// handleDiff answers the diff of two variants of a scenario.
func (s *Server) handleDiff(w http.ResponseWriter, r *http.Request) {
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
	q := r.URL.Query()
	a, b := q.Get("a"), q.Get("b")
	if b == "" {
		b = "fixed"
	}
	d, err := variantDiff(sc, clip(a), clip(b))
	if err != nil {
		writeJSON(w, http.StatusNotFound, apiError{Error: err.Error(), Valid: sc.VariantNames()})
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// variantDiff diffs the functions of variants a and b of sc.
func variantDiff(sc *scenarios.Scenario, a, b string) (*DiffInfo, error) {
	src := sc.Source()
	lines := strings.Split(src, "\n")
	bug := map[int]bool{}
	for _, n := range sc.MarkedLines("// BUG") {
		bug[n] = true
	}
	fix := map[int]bool{}
	for _, n := range sc.MarkedLines("// FIX") {
		fix[n] = true
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, sc.File, src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", sc.File, err)
	}
	side := func(name string) (DiffSide, error) {
		v, err := sc.Variant(name)
		if err != nil {
			return DiffSide{}, err
		}
		fn := funcName(v.Run)
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Name.Name == fn {
				// The doc comment says what the variant does: part of it.
				start := fd.Pos()
				if fd.Doc != nil {
					start = fd.Doc.Pos()
				}
				return DiffSide{Variant: v.Name, Func: fn, Start: fset.Position(start).Line, End: fset.Position(fd.End()).Line}, nil
			}
		}
		return DiffSide{}, fmt.Errorf("variant %s of %s runs %s, which is not in %s", v.Name, sc.ID, fn, sc.File)
	}
	sa, err := side(a)
	if err != nil {
		return nil, err
	}
	sb, err := side(b)
	if err != nil {
		return nil, err
	}
	d := &DiffInfo{File: sc.File, A: sa, B: sb}
	for _, op := range diffLines(lines[sa.Start-1:sa.End], lines[sb.Start-1:sb.End]) {
		l := DiffLine{Op: op.op}
		if op.a >= 0 {
			l.A = sa.Start + op.a
			l.Text = lines[l.A-1]
		}
		if op.b >= 0 {
			l.B = sb.Start + op.b
			l.Text = lines[l.B-1]
		}
		switch {
		case bug[l.A] || bug[l.B]:
			l.Mark = "bug"
		case fix[l.A] || fix[l.B]:
			l.Mark = "fix"
		}
		d.Lines = append(d.Lines, l)
	}
	return d, nil
}

// funcName returns the bare name of a package-level function.
func funcName(fn any) string {
	name := runtime.FuncForPC(reflect.ValueOf(fn).Pointer()).Name()
	return name[strings.LastIndexByte(name, '.')+1:]
}

// diffOp is one step of a line diff; a and b index the two inputs, -1 on
// the side that lacks the line.
type diffOp struct {
	op   string
	a, b int
}

// diffLines is a longest-common-subsequence diff of two short line lists
// (a variant's function is tens of lines, so the quadratic table is small).
// Lines are compared without their indentation, so that a line moved into
// a block still counts as the same line.
func diffLines(a, b []string) []diffOp {
	norm := func(s string) string { return strings.TrimSpace(s) }
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if norm(a[i]) == norm(b[j]) {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []diffOp
	i, j := 0, 0
	for i < n && j < m {
		switch {
		case norm(a[i]) == norm(b[j]):
			out = append(out, diffOp{" ", i, j})
			i++
			j++
		case lcs[i+1][j] >= lcs[i][j+1]:
			out = append(out, diffOp{"-", i, -1})
			i++
		default:
			out = append(out, diffOp{"+", -1, j})
			j++
		}
	}
	for ; i < n; i++ {
		out = append(out, diffOp{"-", i, -1})
	}
	for ; j < m; j++ {
		out = append(out, diffOp{"+", -1, j})
	}
	return out
}
