package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tokend/tokend/internal/store"
)

// factsOf is what LookupTokenFacts promises of r: all but its state.
func factsOf(r store.TokenRecord) store.TokenRecord {
	r.Rotated, r.Revoked, r.RevokedAt = false, false, time.Time{}
	return r
}

// testTokenFacts checks that LookupTokenFacts answers a token's facts in
// every state (issued, rotated, of a revoked grant), and that a refresh
// token whose facts it answers is refused by RotateRefresh all the same
// once its grant is revoked, and revokes its grant when reused.
func testTokenFacts(t *testing.T, open opener) {
	s := open(t)
	f := newFamily("g1", "c1", "u1")
	f.grant.JKT = "jkt-of-g1"
	createFamily(t, s, f)
	wantFacts := func(when string, tok store.Token) {
		t.Helper()
		got, err := s.LookupTokenFacts(t.Context(), tok.Hash)
		if err != nil {
			t.Fatalf("LookupTokenFacts(%s %s): %v", when, tok.Kind, err)
		}
		if diff := cmp.Diff(factsOf(got), f.record(tok)); diff != "" {
			t.Errorf("LookupTokenFacts(%s %s) (-got +want):\n%s", when, tok.Kind, diff)
		}
	}
	wantFacts("issued", f.access)
	wantFacts("issued", f.refresh)

	a2, r2 := f.next(2, at(time.Hour))
	if _, err := rotate(t, s, f.refresh.Hash, at(time.Hour), a2, r2); err != nil {
		t.Fatalf("RotateRefresh: %v", err)
	}
	wantFacts("rotated", f.refresh)
	wantFacts("new", r2)

	// Reuse of the rotated token revokes the grant; its facts stay.
	if _, err := rotate(t, s, f.refresh.Hash, at(2*time.Hour)); !errors.Is(err, store.ErrRefreshReused) {
		t.Fatalf("RotateRefresh(reused) = %v; want ErrRefreshReused", err)
	}
	wantFacts("revoked", r2)
	wantRevoked(t, s, at(2*time.Hour), r2.Hash)
	a3, r3 := f.next(3, at(3*time.Hour))
	if _, err := rotate(t, s, r2.Hash, at(3*time.Hour), a3, r3); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RotateRefresh(refresh token of a revoked grant) = %v; want ErrNotFound", err)
	}
	wantAbsent(t, s, r3.Hash)

	if rec, err := s.LookupTokenFacts(t.Context(), store.HashToken("unknown")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("LookupTokenFacts(unknown) = %+v, %v; want ErrNotFound", rec, err)
	}
}
