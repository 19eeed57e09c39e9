package revocation_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"testing"

	"github.com/tokend/tokend/internal/sourcetest"
)

// revocationOwners are the directories, from the module root, whose code
// may write a store.Revocation: the engine, and the store that records it
// (its backends and conformance suite below it).
var revocationOwners = []string{"internal/revocation", "internal/store"}

// TestRevocationsGoThroughTheEngine holds the rule of the package's
// documentation: outside revocationOwners no code (tests aside) writes a
// store.Revocation composite literal, so every revocation goes through an
// Engine method and the engine alone decides what a cause revokes and
// which reason it logs.
func TestRevocationsGoThroughTheEngine(t *testing.T) {
	_, mod := sourcetest.Module(t)
	storePath := mod + "/internal/store"
	importers := 0
	for _, f := range sourcetest.Files(t) {
		pkg := sourcetest.ImportName(f.AST, storePath)
		if pkg == "" {
			continue
		}
		importers++
		if slices.ContainsFunc(revocationOwners, f.Within) {
			continue
		}
		for _, pos := range revocationLiterals(f.AST, pkg) {
			t.Errorf("%s: a store.Revocation written outside the engine; revoke through a revocation.Engine method (add one for a new cause)", f.Position(pos))
		}
	}
	// Without a file that imports the store, the walk went astray and the
	// rule would hold for nothing.
	if importers < 10 {
		t.Fatalf("only %d files import %s; the module was not read", importers, storePath)
	}
}

// revocationLiterals returns where f writes a composite literal of
// store.Revocation, f importing package store as pkg: T{...} and &T{...},
// and the elided elements of a slice, array or map of T or *T.
func revocationLiterals(f *ast.File, pkg string) []token.Pos {
	isRevocation := func(e ast.Expr) bool {
		if star, ok := e.(*ast.StarExpr); ok {
			e = star.X
		}
		return sourcetest.Names(e, pkg, "Revocation")
	}
	var found []token.Pos
	ast.Inspect(f, func(n ast.Node) bool {
		lit, ok := n.(*ast.CompositeLit)
		if !ok {
			return true
		}
		switch typ := lit.Type.(type) {
		case *ast.ArrayType:
			if isRevocation(typ.Elt) {
				found = append(found, lit.Pos())
			}
		case *ast.MapType:
			if isRevocation(typ.Value) {
				found = append(found, lit.Pos())
			}
		default:
			if typ != nil && isRevocation(typ) {
				found = append(found, lit.Pos())
			}
		}
		return true
	})
	return found
}

// TestRevocationLiterals: the rule's finder sees every way to write the
// literal, and nothing else.
func TestRevocationLiterals(t *testing.T) {
	const imp = `import "example.com/m/internal/store"` + "\n"
	cases := []struct {
		name string
		src  string
		want int
	}{
		{"value", imp + `var r = store.Revocation{Reason: store.ReasonAdmin}`, 1},
		{"pointer", imp + `var r = &store.Revocation{}`, 1},
		{"argument", imp + `func f(s store.Store) { s.DeleteUser(nil, "u", store.Revocation{Actor: "admin"}) }`, 1},
		{"two", imp + `func f(s store.Store) { g(store.Revocation{}); g(store.Revocation{}) }`, 2},
		{"slice of values", imp + `var rs = []store.Revocation{{}, {}}`, 1},
		{"slice of pointers", imp + `var rs = []*store.Revocation{{}}`, 1},
		{"map values", imp + `var rs = map[string]store.Revocation{"a": {}}`, 1},
		{"renamed import", `import st "example.com/m/internal/store"
var r = st.Revocation{}`, 1},
		{"dot import", `import . "example.com/m/internal/store"
var r = Revocation{}`, 1},
		{"the type alone", imp + `func f(r store.Revocation) *store.Revocation { var p *store.Revocation; return p }`, 0},
		{"another type", imp + `var f = store.Filter{Subject: "s"}`, 0},
		{"another package's Revocation", `import store "example.com/m/internal/other"
var r = store.Revocation{}`, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := parser.ParseFile(token.NewFileSet(), "p.go", "package p\n"+tc.src+"\n", parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			pkg := sourcetest.ImportName(f, "example.com/m/internal/store")
			if got := len(revocationLiterals(f, pkg)); got != tc.want {
				t.Errorf("found %d literals in %q; want %d", got, tc.src, tc.want)
			}
		})
	}
}
