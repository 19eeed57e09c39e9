package sourcetest_test

import (
	"go/parser"
	"go/token"
	"slices"
	"strings"
	"testing"

	"github.com/tokend/tokend/internal/sourcetest"
)

// TestFiles: the walk reaches the module root from a package directory,
// finds this package's source and leaves the tests out.
func TestFiles(t *testing.T) {
	_, mod := sourcetest.Module(t)
	if mod != "github.com/tokend/tokend" {
		t.Errorf("module path %q; want %q", mod, "github.com/tokend/tokend")
	}
	var paths []string
	for _, f := range sourcetest.Files(t) {
		paths = append(paths, f.Path)
		if strings.HasSuffix(f.Path, "_test.go") || strings.Contains(f.Path, "/testdata/") {
			t.Errorf("walked %s; want no test or testdata file", f.Path)
		}
	}
	for _, want := range []string{"internal/sourcetest/sourcetest.go", "cmd/tokend/main.go", "internal/store/store.go"} {
		if !slices.Contains(paths, want) {
			t.Errorf("the walk missed %s", want)
		}
	}
}

func TestWithin(t *testing.T) {
	cases := []struct {
		path, dir string
		want      bool
	}{
		{"internal/store/store.go", "internal/store", true},
		{"internal/store/sqlite/sqlite.go", "internal/store", true},
		{"internal/storetest/x.go", "internal/store", false},
		{"internal/revocation/engine.go", "internal/store", false},
	}
	for _, tc := range cases {
		if got := (sourcetest.File{Path: tc.path}).Within(tc.dir); got != tc.want {
			t.Errorf("%s within %s: %t; want %t", tc.path, tc.dir, got, tc.want)
		}
	}
}

func TestImportName(t *testing.T) {
	cases := []struct {
		imports string
		want    string
	}{
		{`import "example.com/m/internal/store"`, "store"},
		{`import st "example.com/m/internal/store"`, "st"},
		{`import . "example.com/m/internal/store"`, "."},
		{`import _ "example.com/m/internal/store"`, ""},
		{`import "example.com/m/internal/storetest"`, ""},
		{``, ""},
	}
	for _, tc := range cases {
		f, err := parser.ParseFile(token.NewFileSet(), "p.go", "package p\n"+tc.imports+"\n", parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		if got := sourcetest.ImportName(f, "example.com/m/internal/store"); got != tc.want {
			t.Errorf("ImportName with %q: got %q; want %q", tc.imports, got, tc.want)
		}
	}
}
