package sourcetest

import (
	"go/ast"
	"strings"
	"testing"
)

// maxFunctionLines is the longest a non-test function may be, from its func
// line to its closing brace: past it a function does several things, and
// its parts deserve names.
const maxFunctionLines = 80

// longFunctions are the functions allowed past maxFunctionLines, at most
// three in the whole tree; each has a comment saying why it must be long.
var longFunctions = map[string]bool{}

// TestNoLongFunctions holds every non-test function to maxFunctionLines,
// except the few of longFunctions, which must still exist and still need it.
func TestNoLongFunctions(t *testing.T) {
	if len(longFunctions) > 3 {
		t.Fatalf("%d functions are allowed to be long; at most three may be", len(longFunctions))
	}
	stillLong := map[string]bool{}
	for _, f := range Files(t) {
		for _, d := range f.AST.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			lines := f.Fset.Position(fn.End()).Line - f.Fset.Position(fn.Pos()).Line + 1
			if lines <= maxFunctionLines {
				continue
			}
			name := f.Dir() + "." + funcName(fn)
			if longFunctions[name] {
				stillLong[name] = true
				if fn.Doc == nil || !strings.Contains(strings.ToLower(fn.Doc.Text()), "long") {
					t.Errorf("%s: %s is allowed to be long, but its comment does not say why", f.Position(fn.Pos()), name)
				}
				continue
			}
			t.Errorf("%s: %s is %d lines; split it (at most %d)", f.Position(fn.Pos()), name, lines, maxFunctionLines)
		}
	}
	for name := range longFunctions {
		if !stillLong[name] {
			t.Errorf("%s is allowed to be long but is not (or is gone): take it off longFunctions", name)
		}
	}
}

// funcName is a function's name, with its receiver's type for a method:
// "serve", "Writer.commitBatch".
func funcName(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		return fn.Name.Name
	}
	typ := fn.Recv.List[0].Type
	if star, ok := typ.(*ast.StarExpr); ok {
		typ = star.X
	}
	if idx, ok := typ.(*ast.IndexExpr); ok {
		typ = idx.X
	}
	if id, ok := typ.(*ast.Ident); ok {
		return id.Name + "." + fn.Name.Name
	}
	return fn.Name.Name
}
