package postgres

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/store"
)

// openOneWriter opens a store with one group writer, for inOneGroup.
func openOneWriter(t *testing.T) *Store {
	s := openTest(t, "", Options{})
	s.groupWriters = 1
	return s
}

// inOneGroup makes the calls, the first alone and the others once the
// writer holds it, so that they all reach the writer as one group.
func inOneGroup(t *testing.T, s *Store, calls ...func()) {
	t.Helper()
	taken, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	s.groupHold = func() {
		once.Do(func() {
			close(taken)
			<-release
		})
	}
	var wg sync.WaitGroup
	wg.Go(calls[0])
	<-taken
	for _, call := range calls[1:] {
		wg.Go(call)
	}
	for len(s.groupOps) < len(calls)-1 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
}

// TestGroupedWritesShareATransaction: issuances waiting at once are
// committed in one transaction, each with its result.
func TestGroupedWritesShareATransaction(t *testing.T) {
	t.Parallel()
	s := openOneWriter(t)
	ctx := t.Context()
	ids := []string{"n0", "n1", "n2", "n3"}
	errs := make([]error, len(ids))
	var calls []func()
	for i, id := range ids {
		calls = append(calls, func() { g, toks := grant(id); errs[i] = s.CreateGrant(ctx, g, toks) })
	}
	inOneGroup(t, s, calls...)
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	// The first call ran alone while the writer held the others back.
	var xacts int
	if err := s.pool.QueryRow(ctx, `SELECT count(DISTINCT xmin::text) FROM grants WHERE id IN ('n1', 'n2', 'n3')`).Scan(&xacts); err != nil {
		t.Fatal(err)
	}
	if xacts != 1 {
		t.Errorf("the group's writes were made by %d transactions; want 1", xacts)
	}
	for _, id := range ids {
		if _, err := s.LookupToken(ctx, store.HashToken(id+"/a")); err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}
}

// TestGroupedWritesFailAlone: in a group, an issuance of a taken grant ID
// fails alone, and so does an exchange from a revoked grant; the others
// are committed.
func TestGroupedWritesFailAlone(t *testing.T) {
	t.Parallel()
	s := openOneWriter(t)
	ctx := t.Context()
	for _, id := range []string{"taken", "r1"} {
		g, toks := grant(id)
		if err := s.CreateGrant(ctx, g, toks); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.RevokeGrant(ctx, "r1", rev); err != nil {
		t.Fatal(err)
	}
	orphan, orphanToks := grant("x1")
	orphan.ParentID = "r1" // exchanged from a revoked grant
	ids := []string{"n0", "taken", "n1"}
	errs := make([]error, len(ids)+1)
	var calls []func()
	for i, id := range ids {
		calls = append(calls, func() { g, toks := grant(id); errs[i] = s.CreateGrant(ctx, g, toks) })
	}
	calls = append(calls, func() { errs[len(ids)] = s.CreateGrant(ctx, orphan, orphanToks) })
	inOneGroup(t, s, calls...)
	for i, err := range errs {
		var want error
		switch i {
		case 1:
			want = store.ErrAlreadyExists
		case len(ids):
			want = store.ErrNotFound
		}
		if (want == nil && err != nil) || (want != nil && !errors.Is(err, want)) {
			t.Errorf("call %d: %v; want %v", i, err, want)
		}
	}
	for _, id := range []string{"n0", "n1"} {
		if _, err := s.LookupToken(ctx, store.HashToken(id+"/a")); err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}
}
