package tracer

import (
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
)

// The traces carry no channel identity, so the diagnosis reads the source:
// which channel a goroutine waits on comes from its blocking line, and who
// could end that wait comes from what the other goroutines' functions do
// with a channel of that name. This is a reading of names, not of values:
// it speaks of "ch2" the way a person reading the code would.

// parsedFiles caches parsed source files, each with a file set of its own
// (one shared set would grow by every file ever parsed); a nil File means
// the file could not be read or parsed.
var parsedFiles = newFileCache(func(file string) parsedFile {
	fset := token.NewFileSet()
	f, _ := parser.ParseFile(fset, file, nil, parser.SkipObjectResolution)
	return parsedFile{f, fset}
})

type parsedFile struct {
	f    *ast.File
	fset *token.FileSet
}

func parseSource(file string) (*ast.File, *token.FileSet) {
	p := parsedFiles.get(file)
	if p.f == nil {
		return nil, token.NewFileSet()
	}
	return p.f, p.fset
}

// enclosingFunc returns the body of the innermost function (declaration or
// literal) of a file that contains a line.
func enclosingFunc(file string, line int) (*ast.BlockStmt, *token.FileSet) {
	f, fset := parseSource(file)
	if f == nil {
		return nil, nil
	}
	var body *ast.BlockStmt
	ast.Inspect(f, func(n ast.Node) bool {
		var b *ast.BlockStmt
		switch fn := n.(type) {
		case *ast.FuncDecl:
			b = fn.Body
		case *ast.FuncLit:
			b = fn.Body
		}
		if b != nil {
			if fset.Position(b.Pos()).Line <= line && line <= fset.Position(b.End()).Line {
				body = b
			}
		}
		return true
	})
	return body, fset
}

// funcUsesChan reports whether the function around a line sends on (send)
// or receives from (!send) a channel spelled ch, in its own body: the
// function literals it contains run as other goroutines or later, so they
// are not counted.
func funcUsesChan(file string, line int, ch string, send bool) bool {
	body, _ := enclosingFunc(file, line)
	if body == nil {
		return false
	}
	found := false
	ast.Inspect(body, func(n ast.Node) bool {
		if found {
			return false
		}
		switch x := n.(type) {
		case *ast.FuncLit:
			return false
		case *ast.SendStmt:
			found = send && types.ExprString(x.Chan) == ch
		case *ast.UnaryExpr:
			found = !send && x.Op == token.ARROW && types.ExprString(x.X) == ch
		case *ast.RangeStmt:
			found = !send && types.ExprString(x.X) == ch
		}
		return !found
	})
	return found
}
