package storetest

import (
	"testing"
	"time"

	"github.com/tokend/tokend/internal/store"
)

// RevocationIsAtomic checks, on s, that a revocation and its event are one
// transaction: with the log refusing inserts (refuseLog, a trigger in the
// backend's own dialect), RevokeGrant fails and leaves the grant live and
// the log empty; once acceptLog undoes that, both are written. The
// backend's test supplies the two functions, which the conformance suite
// cannot write without knowing the dialect.
func RevocationIsAtomic(t *testing.T, s store.Store, refuseLog, acceptLog func(t *testing.T)) {
	t.Helper()
	f := newFamily("atomic", "c1", "u1")
	createFamily(t, s, f)
	rev := store.Revocation{Time: at(time.Minute), Reason: store.ReasonAdmin, Actor: "admin"}

	refuseLog(t)
	if _, err := s.RevokeGrant(t.Context(), "atomic", rev); err == nil {
		t.Fatal("RevokeGrant succeeded although its event could not be written")
	}
	wantNotRevoked(t, s, f.access.Hash, f.refresh.Hash)
	if evs := events(t, s); len(evs) != 0 {
		t.Fatalf("events after the failed revocation: %+v; want none", evs)
	}

	acceptLog(t)
	if _, err := s.RevokeGrant(t.Context(), "atomic", rev); err != nil {
		t.Fatalf("RevokeGrant: %v", err)
	}
	wantRevoked(t, s, rev.Time, f.access.Hash, f.refresh.Hash)
	if evs := events(t, s); len(evs) != 1 || evs[0].GrantID != "atomic" {
		t.Fatalf("events after the revocation: %+v; want one, of the grant", evs)
	}
}
