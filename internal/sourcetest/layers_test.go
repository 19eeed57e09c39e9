package sourcetest

import (
	"go/ast"
	"go/token"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// layers is the import rule of docs/architecture.md, from the bottom up: a
// package imports only packages of lower layers, never one of its own layer
// or above. A package missing from the table fails the test, so a new one
// is placed on purpose.
var layers = []struct {
	name     string
	packages []string
}{
	{"public building blocks", []string{"dpop"}},
	{"foundations", []string{
		"internal/store", "internal/store/migration", "internal/atomicfile", "internal/logbuf",
		"internal/ratelimit", "internal/sourcetest", "internal/outbound", "rs",
	}},
	{"formats and backends", []string{
		"internal/token", "internal/identity",
		"internal/store/sqlite", "internal/store/postgres", "internal/store/storetest",
	}},
	{"services", []string{
		"internal/revocation", "internal/clientauth", "internal/registry", "internal/assertion",
		"internal/statuslist", "internal/cache", "internal/metrics", "internal/sweep",
	}},
	{"services built on services", []string{"internal/feed", "internal/adminauth", "internal/backchannel", "internal/ssf"}},
	{"the mapping of errors to HTTP", []string{"internal/httperr"}},
	{"the OAuth error type", []string{"internal/oautherr"}},
	{"HTTP areas and plumbing", []string{
		"internal/oauth", "internal/admin", "internal/scim", "internal/web", "internal/server", "internal/ssfhttp",
	}},
	{"test tooling", []string{"internal/testserver", "internal/stack"}},
	{"programs", []string{"cmd/tokend", "cmd/tokend-bench", "cmd/tokend-propagation", "examples/api"}},
}

func layerOf(dir string) (int, bool) {
	for i, l := range layers {
		if slices.Contains(l.packages, dir) {
			return i, true
		}
	}
	return 0, false
}

// TestLayering holds every import of the module's own packages to the
// layers: nothing below imports what is above it, and the HTTP areas do not
// import each other (each mounts its own routes; what they share lives
// below them).
func TestLayering(t *testing.T) {
	_, module := Module(t)
	seen := map[string]bool{}
	for _, f := range Files(t) {
		dir := f.Dir()
		from, ok := layerOf(dir)
		if !ok {
			if !seen[dir] {
				t.Errorf("package %s is in no layer of the table: place it", dir)
			}
			seen[dir] = true
			continue
		}
		for _, imp := range f.AST.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			dep, ok := strings.CutPrefix(p, module+"/")
			if !ok {
				continue
			}
			to, known := layerOf(dep)
			switch {
			case !known:
				t.Errorf("%s imports %s, which is in no layer", f.Position(imp.Pos()), dep)
			case to >= from:
				t.Errorf("%s: %s (%s) imports %s (%s): an import must go to a lower layer",
					f.Position(imp.Pos()), dir, layers[from].name, dep, layers[to].name)
			}
		}
	}
}

// TestPublicPackageStandsAlone: rs and dpop are imported by resource servers
// and clients outside this module, and examples/api shows how; none may
// lean on internal code.
func TestPublicPackageStandsAlone(t *testing.T) {
	_, module := Module(t)
	for _, f := range Files(t) {
		if !f.Within("rs") && !f.Within("dpop") && !f.Within("examples") {
			continue
		}
		for _, imp := range f.AST.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(p, module+"/internal/") {
				t.Errorf("%s imports %s", f.Position(imp.Pos()), p)
			}
		}
	}
}

// TestServerNamesNoOAuthPath: package server is HTTP plumbing; the paths of
// the protocol belong to the packages that serve them, and reach server only
// as configuration.
func TestServerNamesNoOAuthPath(t *testing.T) {
	for _, f := range Files(t) {
		if f.Dir() != "internal/server" {
			continue
		}
		ast.Inspect(f.AST, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			for _, p := range []string{"/oauth2", "/.well-known", "/api/identity", "/scim2", "/admin", "/global-token-revocation"} {
				if strings.Contains(s, p) {
					t.Errorf("%s: package server names the path %q", f.Position(lit.Pos()), s)
				}
			}
			return true
		})
	}
}
