package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tokend/tokend/internal/store"
)

// expiring returns a family whose grant and tokens all expire at exp.
func expiring(id, clientID, subject string, exp time.Time) family {
	f := newFamily(id, clientID, subject)
	f.grant.ExpiresAt, f.access.ExpiresAt, f.refresh.ExpiresAt = exp, exp, exp
	return f
}

func sweep(t *testing.T, s store.Store, now time.Time, limit int) store.SweepResult {
	t.Helper()
	res, err := s.DeleteExpired(t.Context(), now, limit)
	if err != nil {
		t.Fatalf("DeleteExpired(%v, %d): %v", now.Sub(epoch), limit, err)
	}
	return res
}

// testDeleteExpired pins down the sweep: DeleteExpired(now, limit) deletes
// the grants whose ExpiresAt is before now (a grant expiring at now stays)
// with all their tokens, and the used jtis expired at now (expiry at or
// before now), at most limit grants and at most limit jtis a call, and
// exactly that many while that many remain, so a zero SweepResult means
// nothing is left. It also deletes up to limit expired tokens of grants
// that have not expired (what each refresh of a long session leaves
// behind), so the tables stay proportional to the live tokens. It deletes
// nothing else: not a live grant or live token, not a revoked grant that
// has not expired (its lookups keep answering "revoked"), and no event.
func testDeleteExpired(t *testing.T, open opener) {
	now := at(2 * time.Hour)
	t.Run("deletes exactly the expired", func(t *testing.T) { testDeleteExactlyTheExpired(t, open, now) })
	t.Run("limit", func(t *testing.T) { testDeleteExpiredLimit(t, open, now) })
	t.Run("cancelled context", func(t *testing.T) { testDeleteExpiredCancelled(t, open, now) })
}

// sweepGrants are the grants of the test of what a sweep at now deletes,
// all of client c1 and user u1: live; expired at 1h; revokedLive and
// revokedExpired, like them but revoked; edge, expiring at now; and
// rotated, which would have expired at 1h, but its rotation at 30m moved
// its ExpiresAt to 24h30: its first tokens and a2 expired, and go, while
// the grant stays.
type sweepGrants struct {
	live, expired, revokedLive, revokedExpired, edge, rotated family

	a2, r2  store.Token      // what rotated's refresh token rotated into
	revoked store.Revocation // of revokedLive and revokedExpired, at 10m
}

// setupSweepGrants returns a new store holding the sweepGrants and the used
// jtis "old" (expired at 1h), "edge" (expiring at now) and "live" (at 3h).
func setupSweepGrants(t *testing.T, open opener, now time.Time) (store.Store, sweepGrants) {
	s := open(t)
	g := sweepGrants{
		live:           newFamily("live", "c1", "u1"),
		expired:        expiring("expired", "c1", "u1", at(time.Hour)),
		revokedLive:    newFamily("revoked-live", "c1", "u1"),
		revokedExpired: expiring("revoked-expired", "c1", "u1", at(time.Hour)),
		edge:           expiring("edge", "c1", "u1", now), // expires at now: not before it
		rotated:        expiring("rotated", "c1", "u1", at(time.Hour)),
		revoked:        store.Revocation{Time: at(10 * time.Minute), Reason: store.ReasonAdmin, Actor: "admin"},
	}
	for _, f := range []family{g.live, g.expired, g.revokedLive, g.revokedExpired, g.edge, g.rotated} {
		createFamily(t, s, f)
	}
	g.a2, g.r2 = g.rotated.next(2, at(30*time.Minute))
	if _, err := s.RotateRefresh(t.Context(), g.rotated.refresh.Hash, at(30*time.Minute), []store.Token{g.a2, g.r2}, store.Revocation{}); err != nil {
		t.Fatalf("RotateRefresh: %v", err)
	}
	for _, id := range []string{"revoked-live", "revoked-expired"} {
		if _, err := s.RevokeGrant(t.Context(), id, g.revoked); err != nil {
			t.Fatalf("RevokeGrant(%s): %v", id, err)
		}
	}
	for _, j := range []struct {
		jti string
		exp time.Time
	}{{"old", at(time.Hour)}, {"edge", now}, {"live", at(3 * time.Hour)}} {
		if err := s.UseJTI(t.Context(), "iss", j.jti, j.exp, epoch); err != nil {
			t.Fatalf("UseJTI(%s): %v", j.jti, err)
		}
	}
	return s, g
}

// testDeleteExactlyTheExpired checks what a sweep at now deletes, that a
// second sweep finds nothing left, and that the revoked grant goes once it
// has expired.
func testDeleteExactlyTheExpired(t *testing.T, open opener, now time.Time) {
	s, g := setupSweepGrants(t, open, now)
	before := events(t, s)

	// Two expired grants with their 4 tokens; 5 expired tokens of
	// grants that live on (the access tokens of live, revoked-live
	// and the rotation, rotated's first pair).
	if got, want := sweep(t, s, now, 100), (store.SweepResult{Grants: 2, Tokens: 9, JTIs: 2}); got != want {
		t.Errorf("DeleteExpired = %+v; want %+v", got, want)
	}
	wantAbsent(t, s, g.expired.access.Hash, g.expired.refresh.Hash, g.revokedExpired.access.Hash, g.revokedExpired.refresh.Hash,
		g.live.access.Hash, g.revokedLive.access.Hash, g.rotated.access.Hash, g.rotated.refresh.Hash, g.a2.Hash)
	wantNotRevoked(t, s, g.live.refresh.Hash, g.edge.access.Hash, g.edge.refresh.Hash, g.r2.Hash)
	wantRevoked(t, s, g.revoked.Time, g.revokedLive.refresh.Hash)
	if diff := cmp.Diff(events(t, s), before, cmpOpts...); diff != "" {
		t.Errorf("events after DeleteExpired (-got +want):\n%s", diff)
	}
	if err := s.UseJTI(t.Context(), "iss", "live", at(4*time.Hour), now); !errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf("UseJTI of the unexpired jti after DeleteExpired = %v; want ErrAlreadyExists", err)
	}
	if got := sweep(t, s, now, 100); got != (store.SweepResult{}) {
		t.Errorf("second DeleteExpired = %+v; want nothing", got)
	}
	// The revoked grant goes once it has expired.
	if got, want := sweep(t, s, at(24*time.Hour+time.Millisecond), 100), (store.SweepResult{Grants: 3, Tokens: 4, JTIs: 1}); got != want {
		t.Errorf("DeleteExpired at 24h = %+v; want %+v (live, revoked-live, edge; jti live)", got, want)
	}
	wantAbsent(t, s, g.live.refresh.Hash, g.revokedLive.refresh.Hash, g.edge.refresh.Hash)
	wantNotRevoked(t, s, g.r2.Hash)
}

// testDeleteExpiredLimit checks that sweeps with a limit delete exactly
// that many grants and jtis while that many remain.
func testDeleteExpiredLimit(t *testing.T, open opener, now time.Time) {
	s := open(t)
	var fams []family
	for i := range 5 {
		f := expiring(fmt.Sprintf("x%d", i), "c1", "u1", at(time.Hour))
		createFamily(t, s, f)
		fams = append(fams, f)
	}
	live := newFamily("live", "c1", "u1")
	createFamily(t, s, live)
	for i := range 3 {
		if err := s.UseJTI(t.Context(), "iss", fmt.Sprint("j", i), at(time.Hour), epoch); err != nil {
			t.Fatalf("UseJTI: %v", err)
		}
	}
	var got []store.SweepResult
	for range 10 {
		res := sweep(t, s, now, 2)
		got = append(got, res)
		if res == (store.SweepResult{}) {
			break
		}
	}
	// live's access token expired at 1h: it goes with the first batch.
	want := []store.SweepResult{{Grants: 2, Tokens: 5, JTIs: 2}, {Grants: 2, Tokens: 4, JTIs: 1}, {Grants: 1, Tokens: 2}, {}}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("DeleteExpired results, limit 2 (-got +want):\n%s", diff)
	}
	for _, f := range fams {
		wantAbsent(t, s, f.access.Hash, f.refresh.Hash)
	}
	wantAbsent(t, s, live.access.Hash)
	wantNotRevoked(t, s, live.refresh.Hash)
}

// testDeleteExpiredCancelled checks that DeleteExpired with a cancelled
// context fails and deletes nothing.
func testDeleteExpiredCancelled(t *testing.T, open opener, now time.Time) {
	s := open(t)
	f := expiring("x", "c1", "u1", at(time.Hour))
	createFamily(t, s, f)
	if res, err := s.DeleteExpired(cancelled(t), now, 100); !errors.Is(err, context.Canceled) {
		t.Errorf("DeleteExpired with a cancelled context = %+v, %v; want context.Canceled", res, err)
	}
	wantNotRevoked(t, s, f.access.Hash, f.refresh.Hash)
}

// testDeleteEventsBefore checks that DeleteEventsBefore(before, limit)
// deletes the events whose Time is before before, whatever their Seq (an
// event at before stays), at most limit a call and exactly that many while
// that many remain; that it revokes and un-revokes nothing; and that a Seq
// is never handed out again once its event is deleted.
func testDeleteEventsBefore(t *testing.T, open opener) {
	s := open(t)
	// Events in Seq order at 10m, 20m, 5m, 30m, each covering tokens
	// that expire a minute after it.
	var fams []family
	for i, m := range []int{10, 20, 5, 30} {
		f := expiring(fmt.Sprint("g", i), "c1", "u1", at(time.Duration(m+1)*time.Minute))
		createFamily(t, s, f)
		fams = append(fams, f)
		rev := store.Revocation{Time: at(time.Duration(m) * time.Minute), Reason: store.ReasonAdmin, Actor: "admin"}
		if _, err := s.RevokeGrant(t.Context(), f.grant.ID, rev); err != nil {
			t.Fatalf("RevokeGrant: %v", err)
		}
	}
	all := events(t, s)
	if len(all) != 4 {
		t.Fatalf("got %d events; want 4", len(all))
	}
	deleteBefore := func(before time.Time, limit, want int) {
		t.Helper()
		n, err := s.DeleteEventsBefore(t.Context(), before, limit)
		if err != nil || n != want {
			t.Errorf("DeleteEventsBefore(%v, %d) = %d, %v; want %d", before.Sub(epoch), limit, n, err, want)
		}
	}
	deleteBefore(at(20*time.Minute), 1, 1)
	deleteBefore(at(20*time.Minute), 5, 1)
	deleteBefore(at(20*time.Minute), 5, 0)
	if diff := cmp.Diff(events(t, s), []store.Event{all[1], all[3]}, cmpOpts...); diff != "" {
		t.Errorf("events left (-got +want):\n%s", diff)
	}
	for i, f := range fams {
		wantRevoked(t, s, all[i].Time, f.access.Hash, f.refresh.Hash)
	}

	if n, err := s.DeleteEventsBefore(cancelled(t), at(time.Hour), 5); !errors.Is(err, context.Canceled) {
		t.Errorf("DeleteEventsBefore with a cancelled context = %d, %v; want context.Canceled", n, err)
	}
	// An old event whose tokens still live stays until they expire.
	long := newFamily("long", "c1", "u1") // its refresh token lives 24h
	createFamily(t, s, long)
	if _, err := s.RevokeGrant(t.Context(), "long", store.Revocation{Time: at(time.Minute), Reason: store.ReasonAdmin, Actor: "admin"}); err != nil {
		t.Fatalf("RevokeGrant: %v", err)
	}
	deleteBefore(at(time.Hour), 5, 2)
	if evs := events(t, s); len(evs) != 1 || evs[0].GrantID != "long" {
		t.Errorf("events = %+v; want the one of the grant whose refresh token still lives", evs)
	}
	deleteBefore(at(25*time.Hour), 5, 1)
	if evs := events(t, s); len(evs) != 0 {
		t.Errorf("events = %+v; want none", evs)
	}
	f := newFamily("after", "c1", "u1")
	createFamily(t, s, f)
	res, err := s.RevokeGrant(t.Context(), "after", store.Revocation{Time: at(time.Hour), Reason: store.ReasonAdmin, Actor: "admin"})
	if err != nil || res.Seq <= all[3].Seq+1 {
		t.Errorf("RevokeGrant after the log was emptied = %+v, %v; want Seq > %d", res, err, all[3].Seq+1)
	}
}

// testStats checks the live counts: a grant is live at now when it is not
// revoked and its ExpiresAt is after now; a token when its grant is live,
// it is not rotated, and its ExpiresAt is after now.
func testStats(t *testing.T, open opener) {
	s := open(t)
	stats := func(now time.Time, want store.Stats) {
		t.Helper()
		got, err := s.Stats(t.Context(), now)
		if err != nil || got != want {
			t.Errorf("Stats(%v) = %+v, %v; want %+v", now.Sub(epoch), got, err, want)
		}
	}
	stats(epoch, store.Stats{})

	a, b := newFamily("a", "c1", "u1"), newFamily("b", "c1", "u2")
	c, d := expiring("c", "c2", "u3", at(time.Hour)), newFamily("d", "c2", "u4")
	for _, f := range []family{a, b, c, d} {
		createFamily(t, s, f)
	}
	// b rotates at 30m: a2 lives till 1h30, r2 till 24h30; b's refresh
	// token is rotated.
	a2, r2 := b.next(2, at(30*time.Minute))
	if _, err := s.RotateRefresh(t.Context(), b.refresh.Hash, at(30*time.Minute), []store.Token{a2, r2}, store.Revocation{}); err != nil {
		t.Fatalf("RotateRefresh: %v", err)
	}
	if _, err := s.RevokeGrant(t.Context(), "d", store.Revocation{Time: at(10 * time.Minute), Reason: store.ReasonAdmin, Actor: "admin"}); err != nil {
		t.Fatalf("RevokeGrant: %v", err)
	}
	stats(at(45*time.Minute), store.Stats{LiveGrants: 3, LiveTokens: 7}) // a: 2; b: access, a2, r2; c: 2
	stats(at(time.Hour), store.Stats{LiveGrants: 2, LiveTokens: 3})      // a: refresh; b: a2, r2; c expired at 1h
	stats(at(90*time.Minute), store.Stats{LiveGrants: 2, LiveTokens: 2}) // a: refresh; b: r2
	stats(at(24*time.Hour), store.Stats{LiveGrants: 1, LiveTokens: 1})   // b: r2
	stats(at(24*time.Hour+30*time.Minute), store.Stats{})                // all expired

	if _, err := s.RevokeMatching(t.Context(), store.Filter{Subject: "u1"}, store.Revocation{Time: at(100 * time.Minute), Reason: store.ReasonAdmin, Actor: "admin"}); err != nil {
		t.Fatalf("RevokeMatching: %v", err)
	}
	stats(at(100*time.Minute), store.Stats{LiveGrants: 1, LiveTokens: 1}) // b: r2
	if res := sweep(t, s, at(100*time.Minute), 100); res.Grants != 1 {
		t.Errorf("DeleteExpired = %+v; want c deleted", res)
	}
	stats(at(100*time.Minute), store.Stats{LiveGrants: 1, LiveTokens: 1})
}

// testStatsSessions checks the count of live sessions: a session is live
// at now when it has not ended and its ExpiresAt is after now.
func testStatsSessions(t *testing.T, open opener) {
	s := open(t)
	stats := func(now time.Time, want int64) {
		t.Helper()
		got, err := s.Stats(t.Context(), now)
		if err != nil || got != (store.Stats{LiveSessions: want}) {
			t.Errorf("Stats(%v) = %+v, %v; want %d live sessions", now.Sub(epoch), got, err, want)
		}
	}
	stats(epoch, 0)
	createSession(t, s, sampleSession("s1", 0))
	createSession(t, s, sampleSession("s2", time.Hour))
	stats(at(2*time.Hour), 2)
	if _, err := s.EndSession(t.Context(), "s1", at(3*time.Hour), store.Revocation{Time: at(3 * time.Hour), Reason: store.ReasonSessionEnded, Actor: "alice"}); err != nil {
		t.Fatalf("EndSession: %v", err)
	}
	stats(at(3*time.Hour), 1)
	stats(at(9*time.Hour), 0) // s2 expired at 9h
}

// testReserveStatusIndexes checks that status list indexes start at 1 and
// are never handed out twice: each reservation of n starts at or after
// the end of every earlier one (gaps are allowed), also when many run at
// once; n < 1 is an error. LastStatusIndex is 0 before any reservation,
// then at least the end of every reservation and below the start of the
// next.
func testReserveStatusIndexes(t *testing.T, open opener) {
	t.Run("LastStatusIndex", func(t *testing.T) { testLastStatusIndex(t, open) })
	t.Run("sequential", func(t *testing.T) { testReserveSequential(t, open) })
	t.Run("parallel", func(t *testing.T) { testReserveParallel(t, open) })
}

// lastStatusIndex returns s.LastStatusIndex, failing the test on an error.
func lastStatusIndex(t *testing.T, s store.Store) int64 {
	t.Helper()
	n, err := s.LastStatusIndex(t.Context())
	if err != nil {
		t.Fatalf("LastStatusIndex: %v", err)
	}
	return n
}

// reserveStatusIndexes returns the first index of a reservation of n,
// failing the test on an error.
func reserveStatusIndexes(t *testing.T, s store.Store, n int) int64 {
	t.Helper()
	first, err := s.ReserveStatusIndexes(t.Context(), n)
	if err != nil {
		t.Fatalf("ReserveStatusIndexes(%d): %v", n, err)
	}
	return first
}

// testLastStatusIndex checks that LastStatusIndex is 0 in a new store,
// then at least the end of each reservation and below the start of the
// next, and that it fails with a cancelled context.
func testLastStatusIndex(t *testing.T, open opener) {
	s := open(t)
	if got := lastStatusIndex(t, s); got != 0 {
		t.Errorf("LastStatusIndex of a new store = %d; want 0", got)
	}
	for _, n := range []int{1, 10, 1000} {
		first := reserveStatusIndexes(t, s, n)
		got := lastStatusIndex(t, s)
		if end := first + int64(n) - 1; got < end {
			t.Errorf("LastStatusIndex after reserving [%d, %d] = %d; want %d or more", first, end, got, end)
		}
		if next := reserveStatusIndexes(t, s, 1); next <= got {
			t.Errorf("ReserveStatusIndexes(1) = %d after LastStatusIndex said %d; want more", next, got)
		}
	}
	if n, err := s.LastStatusIndex(cancelled(t)); !errors.Is(err, context.Canceled) {
		t.Errorf("LastStatusIndex with a cancelled context = %d, %v; want context.Canceled", n, err)
	}
}

// testReserveSequential checks that the first reservation starts at 1 and
// each later one at or after the end of the earlier ones, that n < 1 and
// a cancelled context are errors, and that the reservation after those
// failures still starts past the earlier ones.
func testReserveSequential(t *testing.T, open opener) {
	s := open(t)
	if first := reserveStatusIndexes(t, s, 1); first != 1 {
		t.Errorf("first ReserveStatusIndexes(1) = %d; want 1", first)
	}
	next := int64(2)
	for _, n := range []int{10, 1, 1000, 3} {
		if first := reserveStatusIndexes(t, s, n); first < next {
			t.Errorf("ReserveStatusIndexes(%d) = %d; want %d or more", n, first, next)
		} else {
			next = first + int64(n)
		}
	}
	for _, n := range []int{0, -1} {
		if first, err := s.ReserveStatusIndexes(t.Context(), n); err == nil {
			t.Errorf("ReserveStatusIndexes(%d) = %d, nil; want an error", n, first)
		}
	}
	if first, err := s.ReserveStatusIndexes(cancelled(t), 5); !errors.Is(err, context.Canceled) {
		t.Errorf("ReserveStatusIndexes with a cancelled context = %d, %v; want context.Canceled", first, err)
	}
	if first := reserveStatusIndexes(t, s, 5); first < next {
		t.Errorf("ReserveStatusIndexes(5) = %d; want %d or more", first, next)
	}
}

// testReserveParallel checks that reservations made at once start at 1 or
// more and never overlap.
func testReserveParallel(t *testing.T, open opener) {
	s := open(t)
	const callers, n = 50, 10
	firsts := make([]int64, callers)
	var mu sync.Mutex
	var errs []error
	parallel(callers, func(i int) {
		first, err := s.ReserveStatusIndexes(t.Context(), n)
		if err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
		firsts[i] = first
	})
	if len(errs) > 0 {
		t.Fatalf("ReserveStatusIndexes: %v", errors.Join(errs...))
	}
	slices.Sort(firsts)
	if firsts[0] < 1 {
		t.Errorf("a reservation starts at %d; want 1 or more", firsts[0])
	}
	for i := 1; i < callers; i++ {
		if firsts[i] < firsts[i-1]+n {
			t.Errorf("reservations [%d, %d) and [%d, %d) overlap", firsts[i-1], firsts[i-1]+n, firsts[i], firsts[i]+n)
		}
	}
}

// testCountMatching checks the counts of a bulk revocation before it is
// made: the live grants a filter selects and their live tokens, exactly
// what RevokeMatching then revokes and reports; an empty filter is an
// error.
func testCountMatching(t *testing.T, open opener) {
	s := open(t)
	count := func(f store.Filter, now time.Time, want store.Stats) {
		t.Helper()
		got, err := s.CountMatching(t.Context(), f, now)
		if err != nil || got != want {
			t.Errorf("CountMatching(%+v, %v) = %+v, %v; want %+v", f, now.Sub(epoch), got, err, want)
		}
	}
	a, b := newFamily("a", "c1", "u1"), newFamily("b", "c1", "u2")
	c, d := expiring("c", "c2", "u3", at(time.Hour)), newFamily("d", "c2", "u4")
	for _, f := range []family{a, b, c, d} {
		createFamily(t, s, f)
	}
	a2, r2 := b.next(2, at(30*time.Minute))
	if _, err := s.RotateRefresh(t.Context(), b.refresh.Hash, at(30*time.Minute), []store.Token{a2, r2}, store.Revocation{}); err != nil {
		t.Fatalf("RotateRefresh: %v", err)
	}
	if _, err := s.RevokeGrant(t.Context(), "d", store.Revocation{Time: at(10 * time.Minute), Reason: store.ReasonAdmin, Actor: "admin"}); err != nil {
		t.Fatalf("RevokeGrant: %v", err)
	}
	now := at(45 * time.Minute)
	count(store.Filter{ClientID: "c1"}, now, store.Stats{LiveGrants: 2, LiveTokens: 5}) // a: 2; b: access, a2, r2
	count(store.Filter{ClientID: "c2"}, now, store.Stats{LiveGrants: 1, LiveTokens: 2}) // c; d is revoked
	count(store.Filter{ClientID: "c2"}, at(time.Hour), store.Stats{})                   // c expired
	count(store.Filter{Subject: "u2"}, now, store.Stats{LiveGrants: 1, LiveTokens: 3})
	count(store.Filter{Subject: "u1", ClientID: "c1"}, now, store.Stats{LiveGrants: 1, LiveTokens: 2})
	count(store.Filter{Subject: "u1", ClientID: "c2"}, now, store.Stats{})
	if _, err := s.CountMatching(t.Context(), store.Filter{}, now); err == nil {
		t.Errorf("CountMatching with no filter: no error")
	}
	res, err := s.RevokeMatching(t.Context(), store.Filter{ClientID: "c1"}, store.Revocation{Time: now, Reason: store.ReasonAdmin, Actor: "admin"})
	if err != nil || res.Grants != 2 || res.Tokens != 5 {
		t.Errorf("RevokeMatching(c1) = %+v, %v; want the 2 grants and 5 tokens counted", res, err)
	}
	count(store.Filter{ClientID: "c1"}, now, store.Stats{})
}
