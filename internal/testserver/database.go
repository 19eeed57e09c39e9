package testserver

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/tokend/tokend/internal/store/sqlite"
)

// template is a SQLite database with every migration applied, made once
// per test process: applying the migrations is most of what opening a new
// store costs (under the race detector, about a second of CPU for each),
// and a test that starts a server per case would pay it every time.
var template struct {
	once sync.Once
	db   []byte
	err  error
}

// MigratedDatabase writes a new SQLite database at path, with every
// migration applied, as sqlite.Open would leave a new file: a copy of one
// migrated once per process, so that a test that opens many new stores
// pays for the migrations once. The migrations themselves are tested where
// they live, in internal/store/sqlite. It is a real database file; opening
// it runs the migration check, which finds nothing to apply.
func MigratedDatabase(t testing.TB, path string) {
	t.Helper()
	template.once.Do(func() {
		dir, err := os.MkdirTemp("", "tokend-template-")
		if err != nil {
			template.err = err
			return
		}
		defer os.RemoveAll(dir)
		p := filepath.Join(dir, "tokend.db")
		st, err := sqlite.Open(p, sqlite.Options{})
		if err != nil {
			template.err = err
			return
		}
		// Closing checkpoints the WAL into the file, and removes it.
		if template.err = st.Close(); template.err == nil {
			template.db, template.err = os.ReadFile(p)
		}
	})
	if template.err != nil {
		t.Fatalf("the migrated template database: %v", template.err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, template.db, 0o600); err != nil {
		t.Fatal(err)
	}
}
