package postgres

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokend/tokend/internal/store"
)

// These tests hold revocations' transactions open on connections of their
// own, to make sequence numbers commit out of order at will; the
// conformance suite's FollowWhileRevoking does it by load.

// heldWait is how long a test lets Events try while a transaction it must
// wait for is held open. Whatever the machine's speed, Events must not
// return in that time; the test fails if it does, never because it is
// slow.
const heldWait = 300 * time.Millisecond

// createNamed creates grants with these IDs.
func createNamed(t *testing.T, s *Store, ids ...string) {
	t.Helper()
	for _, id := range ids {
		g, toks := grant(id)
		if err := s.CreateGrant(t.Context(), g, toks); err != nil {
			t.Fatal(err)
		}
	}
}

// begin begins a transaction on a connection of its own, rolled back when
// t ends if it is still open.
func begin(t *testing.T, s *Store) pgx.Tx {
	t.Helper()
	tx, err := s.pool.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback(context.Background()) })
	return tx
}

// revokeIn runs RevokeGrant's statements for grantID in tx, leaving tx
// open, and returns the Seq of its event.
func revokeIn(t *testing.T, s *Store, tx pgx.Tx, grantID string) int64 {
	t.Helper()
	var res store.RevokeResult
	b := &pgx.Batch{}
	s.queueRevoke(b, byGrant, rev, &res, grantID)
	if err := tx.SendBatch(t.Context(), b).Close(); err != nil {
		t.Fatal(err)
	}
	if res.Grants != 1 {
		t.Fatalf("revoking %s: %+v", grantID, res)
	}
	return res.Seq
}

// wantNoEventsYet checks that Events(since) returns nothing within
// heldWait: not even the events that committed, while a transaction that
// may hold a lower number is in flight.
func wantNoEventsYet(t *testing.T, s *Store, since int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), heldWait)
	defer cancel()
	if evs, err := s.Events(ctx, since, 0); err == nil {
		t.Fatalf("Events(%d) returned %v while a transaction it must wait for is in flight", since, seqs(evs))
	}
}

// eventsAfter commits (or rolls back) tx while Events(since) waits, and
// returns what Events returned.
func eventsAfter(t *testing.T, s *Store, since int64, end func(context.Context) error) []int64 {
	t.Helper()
	type result struct {
		evs []store.Event
		err error
	}
	got := make(chan result, 1)
	go func() {
		evs, err := s.Events(t.Context(), since, 0)
		got <- result{evs, err}
	}()
	if err := end(t.Context()); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if r.err != nil {
		t.Fatalf("Events(%d): %v", since, r.err)
	}
	return seqs(r.evs)
}

func seqs(evs []store.Event) []int64 {
	var ns []int64
	for _, e := range evs {
		ns = append(ns, e.Seq)
	}
	return ns
}

// A transaction that took a lower number commits after one that took a
// higher number: a reader must not return the higher before the lower has
// committed.
func TestEventsHorizonLowerSeqCommitsLater(t *testing.T) {
	s := openTest(t, "", Options{})
	createNamed(t, s, "g1", "g2")
	a := begin(t, s)
	seqA := revokeIn(t, s, a, "g1")
	resB, err := s.RevokeGrant(t.Context(), "g2", rev)
	if err != nil || resB.Seq <= seqA {
		t.Fatalf("RevokeGrant(g2) = %+v, %v; want a Seq above %d", resB, err, seqA)
	}
	wantNoEventsYet(t, s, 0)
	if got, want := eventsAfter(t, s, 0, a.Commit), []int64{seqA, resB.Seq}; !slices.Equal(got, want) {
		t.Fatalf("Events(0) = %v; want %v", got, want)
	}
}

// The case a horizon on the writer's transaction ID alone gets wrong: A
// takes its ID, B takes its ID and the lower number, A takes the higher
// number and commits. A's row is below pg_snapshot_xmin (A is older than
// B, the oldest in flight) and has the higher number.
func TestEventsHorizonOlderTransactionHigherSeq(t *testing.T) {
	s := openTest(t, "", Options{})
	createNamed(t, s, "g1", "g2")
	a := begin(t, s)
	if _, err := a.Exec(t.Context(), `SELECT pg_current_xact_id()`); err != nil {
		t.Fatal(err)
	}
	b := begin(t, s)
	seqB := revokeIn(t, s, b, "g2")
	seqA := revokeIn(t, s, a, "g1")
	if seqA <= seqB {
		t.Fatalf("Seq of A %d, of B %d; want A's above", seqA, seqB)
	}
	if err := a.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The scenario is real: filtered on the writer's ID, the log would
	// offer A's event while B's, numbered lower, is in flight. (xmin is
	// the row's 32-bit transaction ID; the test server's epoch is 0.)
	rows, err := s.pool.Query(t.Context(), `SELECT seq FROM revocation_events
		WHERE xmin::text::bigint < pg_snapshot_xmin(pg_current_snapshot())::text::bigint % 4294967296 ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	naive, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(naive, []int64{seqA}) {
		t.Fatalf("below the writers' horizon: %v; want [%d] (the scenario did not arise)", naive, seqA)
	}
	wantNoEventsYet(t, s, 0)
	if got, want := eventsAfter(t, s, 0, b.Commit), []int64{seqB, seqA}; !slices.Equal(got, want) {
		t.Fatalf("Events(0) = %v; want %v", got, want)
	}
}

// A number taken by a transaction that rolls back leaves a gap: readers
// wait for the transaction, then go past the gap.
func TestEventsHorizonRolledBackGap(t *testing.T) {
	s := openTest(t, "", Options{})
	createNamed(t, s, "g1", "g2")
	a := begin(t, s)
	revokeIn(t, s, a, "g1")
	resB, err := s.RevokeGrant(t.Context(), "g2", rev)
	if err != nil {
		t.Fatal(err)
	}
	wantNoEventsYet(t, s, 0)
	if got, want := eventsAfter(t, s, 0, a.Rollback), []int64{resB.Seq}; !slices.Equal(got, want) {
		t.Fatalf("Events(0) = %v; want %v", got, want)
	}
}

// A writing transaction in flight that is not tokend's (no advisory
// lock) holds the horizon back, but not for good: past horizonPatience the
// reader takes the log's lock, which waits for appends alone, and returns
// the events while that transaction is still open. A revocation in flight
// still holds readers back, under the lock too.
func TestEventsHorizonOutwaitsOtherWriters(t *testing.T) {
	s := openTest(t, "", Options{})
	createNamed(t, s, "g1", "g2")
	other := begin(t, s)
	if _, err := other.Exec(t.Context(), `SELECT pg_current_xact_id()`); err != nil {
		t.Fatal(err)
	}
	res, err := s.RevokeGrant(t.Context(), "g1", rev)
	if err != nil {
		t.Fatal(err)
	}
	// Returned while other is open: the context outlives any patience.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	evs, err := s.Events(ctx, 0, 0)
	if err != nil || !slices.Equal(seqs(evs), []int64{res.Seq}) {
		t.Fatalf("Events(0) with another writer open = %v, %v; want [%d]", seqs(evs), err, res.Seq)
	}
	held := begin(t, s)
	seq := revokeIn(t, s, held, "g2")
	wantNoEventsYet(t, s, res.Seq)
	if got, want := eventsAfter(t, s, res.Seq, held.Commit), []int64{seq}; !slices.Equal(got, want) {
		t.Fatalf("Events(%d) = %v; want %v", res.Seq, got, want)
	}
}
