package store_test

import (
	"go/ast"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tokend/tokend/internal/sourcetest"
	"github.com/tokend/tokend/internal/store"
)

func methodNames(t reflect.Type) []string {
	names := make([]string, t.NumMethod())
	for i := range names {
		names[i] = t.Method(i).Name
	}
	return names
}

// TestEveryMethodIsReadOrWrite: each method of Store is a Reader's or a
// Writer's, never both, so a decorator knows which ones it must define.
func TestEveryMethodIsReadOrWrite(t *testing.T) {
	reads := methodNames(reflect.TypeFor[store.Reader]())
	writes := methodNames(reflect.TypeFor[store.Writer]())
	for _, m := range methodNames(reflect.TypeFor[store.Store]()) {
		r, w := slices.Contains(reads, m), slices.Contains(writes, m)
		switch {
		case r && w:
			t.Errorf("Store.%s is in both Reader and Writer; want one", m)
		case !r && !w:
			t.Errorf("Store.%s is in neither Reader nor Writer: is it a write, which every decorator must see?", m)
		}
	}
}

// decorator names a type that embeds store.Store: its package's directory
// from the module root, and its name.
type decorator struct{ dir, name string }

func (d decorator) String() string { return d.dir + "." + d.name }

// decorators are the store decorators the rule must find, so that it
// holds for something: a cache that must see every write to stay current,
// metrics that count revocations, and the feed's nudge after each one.
var decorators = []decorator{
	{"internal/cache", "Store"},
	{"internal/metrics", "Store"},
	{"internal/feed", "Nudging"},
}

// notDecorators embed store.Store without decorating its writes, and why.
var notDecorators = map[decorator]string{
	{"cmd/tokend", "backend"}: "holds the opened store, decorated already where needed, with its notifiers; it adds to Close only",
}

// TestDecoratorsDefineEveryWrite: every type of the module (tests aside)
// that embeds store.Store defines every method of store.Writer itself, so
// that no write reaches the embedded store past it unseen.
func TestDecoratorsDefineEveryWrite(t *testing.T) {
	_, mod := sourcetest.Module(t)
	storePath := mod + "/internal/store"
	embedders := map[decorator]bool{}
	methods := map[decorator][]string{}
	for _, f := range sourcetest.Files(t) {
		pkg := sourcetest.ImportName(f.AST, storePath)
		for _, decl := range f.AST.Decls {
			switch decl := decl.(type) {
			case *ast.GenDecl:
				for _, spec := range decl.Specs {
					ts, ok := spec.(*ast.TypeSpec)
					if ok && embedsStore(ts, pkg) {
						embedders[decorator{f.Dir(), ts.Name.Name}] = true
					}
				}
			case *ast.FuncDecl:
				if recv := receiver(decl); recv != "" {
					d := decorator{f.Dir(), recv}
					methods[d] = append(methods[d], decl.Name.Name)
				}
			}
		}
	}
	for _, d := range decorators {
		if !embedders[d] {
			t.Errorf("%s embeds store.Store no more, or was not found: update decorators", d)
		}
	}
	for d := range notDecorators {
		if !embedders[d] {
			t.Errorf("%s embeds store.Store no more, or was not found: update notDecorators", d)
		}
	}
	for _, d := range slices.SortedFunc(maps.Keys(embedders), func(a, b decorator) int { return strings.Compare(a.String(), b.String()) }) {
		if _, ok := notDecorators[d]; ok {
			continue
		}
		for _, m := range methodNames(reflect.TypeFor[store.Writer]()) {
			if !slices.Contains(methods[d], m) {
				t.Errorf("%s does not define the write %s: define it, as a pass-through if it has nothing to do, with a line saying why", d, m)
			}
		}
	}
}

// embedsStore reports whether ts is a struct type with an embedded
// store.Store (or *store.Store), package store being imported as pkg.
func embedsStore(ts *ast.TypeSpec, pkg string) bool {
	st, ok := ts.Type.(*ast.StructType)
	if !ok {
		return false
	}
	for _, field := range st.Fields.List {
		typ := field.Type
		if star, ok := typ.(*ast.StarExpr); ok {
			typ = star.X
		}
		if len(field.Names) == 0 && sourcetest.Names(typ, pkg, "Store") {
			return true
		}
	}
	return false
}

// receiver returns the name of the type a method is declared on, T for a
// receiver of T or *T; "" for a function.
func receiver(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		return ""
	}
	typ := fn.Recv.List[0].Type
	if star, ok := typ.(*ast.StarExpr); ok {
		typ = star.X
	}
	switch typ := typ.(type) {
	case *ast.Ident:
		return typ.Name
	case *ast.IndexExpr: // a generic type's method
		if id, ok := typ.X.(*ast.Ident); ok {
			return id.Name
		}
	case *ast.IndexListExpr:
		if id, ok := typ.X.(*ast.Ident); ok {
			return id.Name
		}
	}
	return ""
}
