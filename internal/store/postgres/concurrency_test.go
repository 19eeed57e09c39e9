package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/store"
)

// parallel runs fn(0) ... fn(n-1) in n goroutines released at once.
func parallel(n int, fn func(i int)) {
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(n)
	for i := range n {
		done.Go(func() {
			ready.Done()
			<-start
			fn(i)
		})
	}
	ready.Wait()
	close(start)
	done.Wait()
}

// A revocation that races a rotation of its family covers the rotation's
// new tokens whenever the rotation succeeded: the event's coverage is read
// after the revocation holds the family's lock, not from the snapshot its
// statement started with.
func TestRevokeCoversRacingRotation(t *testing.T) {
	s := openTest(t, "", Options{MaxConns: 16})
	const n = 40
	now := epoch.Add(time.Minute)
	news := make([][]store.Token, n)
	for i := range n {
		id := fmt.Sprint("g", i)
		g, toks := grant(id)
		if err := s.CreateGrant(t.Context(), g, toks); err != nil {
			t.Fatal(err)
		}
		news[i] = []store.Token{
			{Hash: store.HashToken(id + "/a2"), Kind: store.AccessToken, JTI: id + "-jti2", StatusIndex: int64(i + 1), IssuedAt: now, ExpiresAt: now.Add(time.Hour)},
			{Hash: store.HashToken(id + "/r2"), Kind: store.RefreshToken, IssuedAt: now, ExpiresAt: now.Add(24 * time.Hour)},
		}
	}
	rotErrs := make([]error, n)
	revRes := make([]store.RevokeResult, n)
	revErrs := make([]error, n)
	revAt := store.Revocation{Time: now, Reason: store.ReasonClientRequest, Actor: "c1"}
	parallel(2*n, func(i int) {
		id := fmt.Sprint("g", i/2)
		if i%2 == 0 {
			_, rotErrs[i/2] = s.RotateRefresh(t.Context(), store.HashToken(id+"/r"), now, news[i/2], revAt)
		} else {
			revRes[i/2], revErrs[i/2] = s.RevokeGrant(t.Context(), id, revAt)
		}
	})
	evs, err := s.Events(t.Context(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	byGrant := map[string]store.Event{}
	for _, e := range evs {
		byGrant[e.GrantID] = e
	}
	rotated := 0
	for i := range n {
		id := fmt.Sprint("g", i)
		if revErrs[i] != nil || revRes[i].Grants != 1 {
			t.Errorf("RevokeGrant(%s) = %+v, %v; want Grants=1", id, revRes[i], revErrs[i])
			continue
		}
		e := byGrant[id]
		switch {
		case rotErrs[i] == nil:
			rotated++
			for _, tok := range news[i] {
				if !slices.Contains(e.TokenHashes, tok.Hash) {
					t.Errorf("%s: the event does not cover the new %s of the rotation that committed first", id, tok.Kind)
				}
			}
			if !slices.Contains(e.JTIs, id+"-jti2") || !slices.Contains(e.StatusIndexes, int64(i+1)) {
				t.Errorf("%s: event JTIs %v, StatusIndexes %v; want the new access token's", id, e.JTIs, e.StatusIndexes)
			}
			if want := now.Add(24 * time.Hour); !e.ExpiresAt.Equal(want) {
				t.Errorf("%s: event ExpiresAt %v; want %v", id, e.ExpiresAt, want)
			}
			if e.Tokens != 3 || revRes[i].Tokens != 3 { // the first access token, a2 and r2
				t.Errorf("%s: event Tokens %d, result Tokens %d; want 3", id, e.Tokens, revRes[i].Tokens)
			}
		case errors.Is(rotErrs[i], store.ErrNotFound):
			if len(e.TokenHashes) != 2 || e.Tokens != 2 {
				t.Errorf("%s: revoked before the rotation, the event covers %d hashes, %d tokens; want 2, 2", id, len(e.TokenHashes), e.Tokens)
			}
		default:
			t.Errorf("RotateRefresh(%s) = %v; want nil or ErrNotFound", id, rotErrs[i])
		}
	}
	t.Logf("%d of %d rotations won their race", rotated, n)
}

// Of concurrent uses of one assertion jti exactly one succeeds; an expired
// record is taken over.
func TestUseJTIConcurrent(t *testing.T) {
	s := openTest(t, "", Options{MaxConns: 16})
	const n = 20
	errs := make([]error, n)
	parallel(n, func(i int) {
		errs[i] = s.UseJTI(t.Context(), "https://idp.example", "jti-1", epoch.Add(time.Minute), epoch)
	})
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, store.ErrAlreadyExists):
			t.Errorf("UseJTI %d = %v; want nil or ErrAlreadyExists", i, err)
		}
	}
	if ok != 1 {
		t.Errorf("%d UseJTI calls succeeded; want 1", ok)
	}
	if err := s.UseJTI(t.Context(), "https://idp.example", "jti-1", epoch.Add(2*time.Minute), epoch.Add(time.Minute)); err != nil {
		t.Errorf("UseJTI once the record expired: %v", err)
	}
	if err := s.UseJTI(t.Context(), "https://idp.example", "jti-1", epoch.Add(3*time.Minute), epoch.Add(time.Minute)); !errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf("UseJTI replaying the renewed record = %v; want ErrAlreadyExists", err)
	}
}

// Concurrent reservations of status list indexes, from two stores (two
// tokend processes) on one database, never overlap, and the first starts
// at 1.
func TestReserveStatusIndexesConcurrent(t *testing.T) {
	schema := freshSchema(t)
	stores := []*Store{openTest(t, schema, Options{}), openTest(t, schema, Options{})}
	const n = 40
	firsts := make([]int64, n)
	errs := make([]error, n)
	size := func(i int) int { return 1 + i%7 }
	parallel(n, func(i int) {
		firsts[i], errs[i] = stores[i%2].ReserveStatusIndexes(t.Context(), size(i))
	})
	type block struct{ first, end int64 }
	var blocks []block
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("ReserveStatusIndexes: %v", errs[i])
		}
		blocks = append(blocks, block{firsts[i], firsts[i] + int64(size(i))})
	}
	slices.SortFunc(blocks, func(a, b block) int { return int(a.first - b.first) })
	next := int64(1)
	for _, b := range blocks {
		if b.first != next {
			t.Fatalf("blocks %v: one starts at %d; want %d (no gap, no overlap)", blocks, b.first, next)
		}
		next = b.end
	}
	if _, err := stores[0].ReserveStatusIndexes(t.Context(), 0); err == nil {
		t.Error("ReserveStatusIndexes(0) = nil error")
	}
}

// TestNotifyReachesListener: a Notify on one store wakes Listen on another
// store of the same database (two tokend instances).
func TestNotifyReachesListener(t *testing.T) {
	schema := freshSchema(t)
	a := openTest(t, schema, Options{})
	b := openTest(t, schema, Options{})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	woken := make(chan struct{}, 16)
	done := make(chan error, 1)
	go func() { done <- b.Listen(ctx, func() { woken <- struct{}{} }) }()
	select {
	case <-woken: // the nudge Listen gives once it is listening
	case <-time.After(10 * time.Second):
		t.Fatal("Listen did not start")
	}
	a.Notify()
	select {
	case <-woken:
	case <-time.After(10 * time.Second):
		t.Fatal("a notification from another store did not arrive")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Listen after cancel: %v", err)
	}
}
