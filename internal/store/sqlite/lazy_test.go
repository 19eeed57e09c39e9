package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/tokend/tokend/internal/store"
)

// TestEveryStatementPrepares: statements are prepared when first needed,
// so Open no longer finds a statement that SQLite refuses; this does, for
// every statement the store may run.
func TestEveryStatementPrepares(t *testing.T) {
	t.Parallel()
	s := openMigrated(t, Options{})
	if len(s.all) < 100 {
		t.Fatalf("%d statements; want every statement the store runs", len(s.all))
	}
	for _, st := range s.all {
		p, err := st.db.PrepareContext(t.Context(), st.query)
		if err != nil {
			t.Errorf("preparing %q: %v", st.query, err)
			continue
		}
		p.Close()
	}
}

// TestStatementsPreparedOnFirstUse: a read statement is prepared by its
// first run, once however many run it at the same time; a write statement
// runs unprepared in its first batch and is prepared after it; the others
// stay unprepared.
func TestStatementsPreparedOnFirstUse(t *testing.T) {
	t.Parallel()
	s := openMigrated(t, Options{})
	for _, st := range s.all {
		if st.ready.Load() != nil {
			t.Fatalf("%q prepared at Open", st.query)
		}
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := s.GetClient(context.Background(), "nobody"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("GetClient: %v; want ErrNotFound", err)
			}
		})
	}
	wg.Wait()
	if err := s.CreateClient(t.Context(), store.Client{ID: "c1", Name: "one"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateClient(t.Context(), store.Client{ID: "c2", Name: "two"}); err != nil {
		t.Fatal(err)
	}
	if c, err := s.GetClient(t.Context(), "c2"); err != nil || c.Name != "two" {
		t.Fatalf("GetClient = %+v, %v", c, err)
	}
	for st, want := range map[*stmt]bool{s.r.getClient: true, s.w.insertClient: true, s.r.listUsers: false, s.w.deleteUser: false} {
		if got := st.ready.Load() != nil; got != want {
			t.Errorf("%q prepared %v; want %v", st.query, got, want)
		}
	}
}

// BenchmarkOpen opens and closes a store on a migrated database: what a
// test that wants a new store pays, and a server at start.
func BenchmarkOpen(b *testing.B) {
	dir := b.TempDir()
	openMigrated(b, Options{}) // makes the template
	for i := range b.N {
		path := filepath.Join(dir, fmt.Sprint(i, ".db"))
		if err := os.WriteFile(path, template.db, 0o600); err != nil {
			b.Fatal(err)
		}
		s, err := Open(path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
