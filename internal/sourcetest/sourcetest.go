// Package sourcetest reads the module's own Go source, for tests that hold
// a rule of the code base: a rule that review alone would let slip becomes
// a test that fails when the rule is broken. It parses with go/parser only,
// with no type checking, so a rule is a matter of syntax.
package sourcetest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// File is one parsed Go file of the module.
type File struct {
	// Path is the file's path from the module root, slash-separated; it is
	// also the file name of Fset's positions.
	Path string
	Fset *token.FileSet
	AST  *ast.File
}

// Dir is the directory of the file, from the module root ("." for the
// root itself).
func (f File) Dir() string { return path.Dir(f.Path) }

// Position returns "path:line:column" of p in f.
func (f File) Position(p token.Pos) string { return f.Fset.Position(p).String() }

// Within reports whether the file is in the directory dir (a path from the
// module root) or below it.
func (f File) Within(dir string) bool {
	d := f.Dir()
	return d == dir || strings.HasPrefix(d, dir+"/")
}

// Module returns the root of the module that holds the working directory,
// the directory of the go.mod above it, and the module's path.
func Module(t testing.TB) (root, modulePath string) {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil {
			for line := range strings.Lines(string(b)) {
				if p, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
					return dir, strings.Trim(strings.TrimSpace(p), `"`)
				}
			}
			t.Fatalf("%s has no module line", filepath.Join(dir, "go.mod"))
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Files parses every Go file of the module that is not a test (_test.go),
// whatever its build constraints. Like the go tool, it skips the
// directories testdata and vendor, those whose name starts with . or _,
// and those of another module (with a go.mod of their own).
func Files(t testing.TB) []File {
	t.Helper()
	root, _ := Module(t)
	fset := token.NewFileSet()
	var files []File
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p == root {
				return nil
			}
			if name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") ||
			strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		f, err := parser.ParseFile(fset, rel, src, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		files = append(files, File{Path: rel, Fset: fset, AST: f})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// ImportName returns the name by which f refers to the package with the
// import path importPath: the import's own name ("." for a dot import), or
// else the path's last element (the package name, for this module's
// packages). It returns "" when f does not import the package, or imports
// it blank.
func ImportName(f *ast.File, importPath string) string {
	for _, imp := range f.Imports {
		p, err := strconv.Unquote(imp.Path.Value)
		if err != nil || p != importPath {
			continue
		}
		switch {
		case imp.Name == nil:
			return path.Base(p)
		case imp.Name.Name == "_":
			continue
		default:
			return imp.Name.Name
		}
	}
	return ""
}

// Names reports whether e names the type name of the package that the file
// imports as pkg (an ImportName): pkg.name, or name alone when pkg is ".".
func Names(e ast.Expr, pkg, name string) bool {
	if pkg == "" {
		return false
	}
	if id, ok := e.(*ast.Ident); ok {
		return pkg == "." && id.Name == name
	}
	sel, ok := e.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != name {
		return false
	}
	id, ok := sel.X.(*ast.Ident)
	return ok && id.Name == pkg
}
