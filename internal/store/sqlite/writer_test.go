package sqlite

import (
	"cmp"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tokend/tokend/internal/store"
)

// batchStore opens a store that records the sizes of its commits.
func batchStore(t *testing.T) (*Store, func() []int) {
	var mu sync.Mutex
	var commits []int
	s := openMigrated(t, Options{OnCommit: func(n int) {
		mu.Lock()
		defer mu.Unlock()
		commits = append(commits, n)
	}})
	return s, func() []int {
		mu.Lock()
		defer mu.Unlock()
		return append([]int(nil), commits...)
	}
}

// inBatch runs fns as the ops of one batch, queued in order behind a
// blocked writer, and returns their errors.
func inBatch(t *testing.T, s *Store, fns ...func(*tx) error) []error {
	t.Helper()
	release := block(t, s)
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		waitQueued(t, s, i) // keep the queue in order
		wg.Go(func() { errs[i] = s.write(t.Context(), fn) })
	}
	waitQueued(t, s, len(fns))
	release()
	wg.Wait()
	return errs
}

// counted returns fn and a count of its runs.
func counted(fn func(*tx) error) (func(*tx) error, *atomic.Int32) {
	var n atomic.Int32
	return func(t *tx) error { n.Add(1); return fn(t) }, &n
}

// insert is an op that writes client id, then returns err.
func insert(s *Store, id string, err error) func(*tx) error {
	args, aerr := clientArgs(store.Client{ID: id})
	return func(t *tx) error {
		if aerr != nil {
			return aerr
		}
		if _, werr := t.exec(s.w.insertClient, args...); werr != nil {
			return werr
		}
		return err
	}
}

// clients returns the ids of the stored clients.
func clients(t *testing.T, s *Store) string {
	t.Helper()
	cs, err := s.ListClients(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	return fmt.Sprint(ids)
}

// TestBatchRuns: a batch runs once without savepoints unless an op fails
// after it may have written and shares the transaction with another live
// op; then the batch runs again from its first op, with a savepoint each.
func TestBatchRuns(t *testing.T) {
	errBoom, errKept := errors.New("boom"), errors.New("kept")
	t.Run("no failure", func(t *testing.T) {
		s, commits := batchStore(t)
		ok, nOK := counted(insert(s, "ok", nil))
		refused, nRefused := counted(func(*tx) error { return &unwritten{err: store.ErrNotFound} })
		kept, nKept := counted(insert(s, "kept", &commitAnyway{err: errKept}))
		errs := inBatch(t, s, ok, refused, kept)
		if errs[0] != nil || !errors.Is(errs[1], store.ErrNotFound) || errs[2] != errKept {
			t.Errorf("errors %v; want nil, ErrNotFound, kept", errs)
		}
		if runs := [3]int32{nOK.Load(), nRefused.Load(), nKept.Load()}; runs != [3]int32{1, 1, 1} {
			t.Errorf("runs %v; want one each", runs)
		}
		if got := clients(t, s); got != "[kept ok]" {
			t.Errorf("clients %s; want [kept ok]", got)
		}
		if got := fmt.Sprint(commits()); got != "[1 2]" {
			t.Errorf("commits %s; want [1 2] (blocker, ok+kept)", got)
		}
	})
	t.Run("failure", func(t *testing.T) {
		s, commits := batchStore(t)
		a, nA := counted(insert(s, "a", nil))
		failed, nFailed := counted(insert(s, "failed", errBoom))
		c, nC := counted(insert(s, "c", nil))
		errs := inBatch(t, s, a, failed, c)
		if errs[0] != nil || errs[1] != errBoom || errs[2] != nil {
			t.Errorf("errors %v; want nil, boom, nil", errs)
		}
		if runs := [3]int32{nA.Load(), nFailed.Load(), nC.Load()}; runs != [3]int32{2, 2, 1} {
			t.Errorf("runs %v; want 2, 2, 1", runs)
		}
		if got := clients(t, s); got != "[a c]" {
			t.Errorf("clients %s; want [a c]", got)
		}
		if got := fmt.Sprint(commits()); got != "[1 2]" {
			t.Errorf("commits %s; want [1 2] (blocker, a+c)", got)
		}
	})
	t.Run("failure alone", func(t *testing.T) {
		s, commits := batchStore(t)
		failed, n := counted(insert(s, "failed", errBoom))
		if errs := inBatch(t, s, failed); errs[0] != errBoom {
			t.Errorf("error %v; want boom", errs[0])
		}
		if n.Load() != 1 {
			t.Errorf("%d runs; want 1", n.Load())
		}
		if got := clients(t, s); got != "[]" {
			t.Errorf("clients %s; want none", got)
		}
		if got := fmt.Sprint(commits()); got != "[1]" {
			t.Errorf("commits %s; want [1] (blocker)", got)
		}
	})
}

// TestBatchAborted: when a savepoint statement fails, the transaction is
// given up: the ops already kept and the ops not yet run get
// ErrUnavailable, and nothing of the batch commits.
func TestBatchAborted(t *testing.T) {
	errBoom := errors.New("boom")
	for _, c := range []struct {
		broken string
		want   [3]error // nil: ErrUnavailable
	}{
		{"savepoint", [3]error{}},
		{"release", [3]error{}},
		{"rollbackTo", [3]error{1: errBoom}},
	} {
		t.Run(c.broken, func(t *testing.T) {
			s, commits := batchStore(t)
			w := s.w
			// A statement that is no SQL fails.
			broken := map[string]**stmt{"savepoint": &s.w.savepoint, "release": &s.w.release, "rollbackTo": &s.w.rollbackTo}[c.broken]
			*broken = &stmt{db: s.wdb, query: "no SQL"}
			errs := inBatch(t, s, insert(s, "a", nil), insert(s, "failed", errBoom), insert(s, "c", nil))
			s.w = w
			for i, err := range errs {
				if want := c.want[i]; want == nil && !errors.Is(err, store.ErrUnavailable) || want != nil && err != want {
					t.Errorf("op %d: %v; want %v", i, err, cmp.Or(want, store.ErrUnavailable))
				}
			}
			if got := clients(t, s); got != "[]" {
				t.Errorf("clients %s; want none", got)
			}
			if got := fmt.Sprint(commits()); got != "[1]" {
				t.Errorf("commits %s; want [1] (blocker)", got)
			}
			if err := s.write(t.Context(), insert(s, "after", nil)); err != nil {
				t.Errorf("write after the aborted batch: %v", err)
			}
		})
	}
}

// TestCommitFails: when the COMMIT fails, every op whose writes it held
// gets ErrUnavailable, a commitAnyway's error replaced.
func TestCommitFails(t *testing.T) {
	s, commits := batchStore(t)
	// A deferred foreign key that does not hold fails the COMMIT.
	deferFKs := s.newStmt(s.wdb, `PRAGMA defer_foreign_keys = ON`)
	orphan := func(t *tx) error {
		if _, err := t.exec(deferFKs); err != nil {
			return err
		}
		h := store.HashToken("orphan")
		_, err := t.exec(s.w.insertToken, h[:], "access_token", "no such grant", nil, nil, 0, 0)
		return err
	}
	refused := func(*tx) error { return &unwritten{err: store.ErrNotFound} }
	errs := inBatch(t, s, insert(s, "a", nil), refused, orphan, insert(s, "kept", &commitAnyway{err: errors.New("kept")}))
	for i, err := range errs {
		if i == 1 {
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("unwritten op: %v; want ErrNotFound", err)
			}
		} else if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("op %d: %v; want ErrUnavailable", i, err)
		}
	}
	if got := clients(t, s); got != "[]" {
		t.Errorf("clients %s; want none", got)
	}
	if got := fmt.Sprint(commits()); got != "[1]" {
		t.Errorf("commits %s; want [1] (blocker)", got)
	}
	if err := s.write(t.Context(), insert(s, "after", nil)); err != nil {
		t.Errorf("write after the failed commit: %v", err)
	}
}
