package postgres

import (
	"errors"
	"fmt"
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

// TestGroupedWritesShareATransaction: issuances and revocations by grant
// waiting at once are committed in one transaction, each with its result.
func TestGroupedWritesShareATransaction(t *testing.T) {
	t.Parallel()
	s := openOneWriter(t)
	ctx := t.Context()
	g, toks := grant("r1")
	if err := s.CreateGrant(ctx, g, toks); err != nil {
		t.Fatal(err)
	}
	errs := make([]error, 5)
	res := make([]store.RevokeResult, 2)
	calls := []func(){func() { res[0], errs[3] = s.RevokeGrant(ctx, "r1", rev) }}
	for i, id := range []string{"n0", "n1", "n2"} {
		calls = append(calls, func() { g, toks := grant(id); errs[i] = s.CreateGrant(ctx, g, toks) })
	}
	// The same grant again: run after the group, it finds it revoked.
	calls = append(calls, func() { res[1], errs[4] = s.RevokeGrant(ctx, "r1", rev) })
	inOneGroup(t, s, calls...)
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if res[0].Grants != 1 || res[0].Tokens != 2 || res[0].Seq == 0 || res[1] != (store.RevokeResult{}) {
		t.Errorf("RevokeGrant twice = %+v, %+v; want 1 grant and 2 tokens, then nothing", res[0], res[1])
	}
	if evs, err := s.Events(ctx, 0, 100); err != nil || len(evs) != 1 {
		t.Errorf("events %v, %v; want one", evs, err)
	}
	var xacts int
	if err := s.pool.QueryRow(ctx, `SELECT count(DISTINCT xmin::text) FROM grants WHERE id IN ('r1', 'n0', 'n1', 'n2')`).Scan(&xacts); err != nil {
		t.Fatal(err)
	}
	if xacts != 1 {
		t.Errorf("the group's writes were made by %d transactions; want 1", xacts)
	}
	for _, id := range []string{"n0", "n1", "n2"} {
		if _, err := s.LookupToken(ctx, store.HashToken(id+"/a")); err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}
}

// TestGroupedWritesFailAlone: in a group, an issuance of a taken grant ID
// fails alone, and of two revocations of one grant, one revokes it and
// logs one event.
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
	ids := []string{"n0", "taken", "n1"}
	errs := make([]error, len(ids)+2)
	res := make([]store.RevokeResult, 2)
	var calls []func()
	for i, id := range ids {
		calls = append(calls, func() { g, toks := grant(id); errs[i] = s.CreateGrant(ctx, g, toks) })
	}
	for i := range res {
		calls = append(calls, func() { res[i], errs[len(ids)+i] = s.RevokeGrant(ctx, "r1", rev) })
	}
	inOneGroup(t, s, calls...)
	for i, err := range errs {
		if taken := i == 1; taken != errors.Is(err, store.ErrAlreadyExists) || (!taken && err != nil) {
			t.Errorf("call %d: %v", i, err)
		}
	}
	if res[0].Grants+res[1].Grants != 1 {
		t.Errorf("RevokeGrant twice = %+v, %+v; want one to revoke", res[0], res[1])
	}
	evs, err := s.Events(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].GrantID != "r1" {
		t.Errorf("events %s; want one, of r1", fmt.Sprint(evs))
	}
	for _, id := range []string{"n0", "n1"} {
		if _, err := s.LookupToken(ctx, store.HashToken(id+"/a")); err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}
}
