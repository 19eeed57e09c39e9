package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokend/tokend/internal/store"
)

// The safe-read horizon of the revocation log.
//
// A reader that resumes from the last Seq it saw must never skip an event.
// Sequence numbers are taken in one order and committed in another: the
// event with Seq 11 may be visible while the transaction holding Seq 10 is
// still in flight, invisible to everyone else. A reader that returned 11
// would resume past 10 and never see it.
//
// Events therefore returns only events up to a number L below which every
// number has settled: its transaction has committed (and the event is
// visible) or rolled back (and there is no event). It finds L without a
// lock that appends would wait for:
//
//  1. It reads L, the last number the sequence handed out (cache 1, so
//     every number up to L was taken before this read).
//  2. Then it takes a transaction ID of its own, B, and rolls back (an
//     abort record, no WAL flush to wait for). Transaction IDs are handed
//     out in increasing order, so B is greater than the ID of every
//     transaction that had one before step 1.
//  3. It reads the events with L >= Seq > since in a statement whose
//     snapshot has pg_snapshot_xmin >= B: no transaction with an ID below
//     B is in flight any more. If the snapshot's xmin is still below B, it
//     waits a moment and tries again.
//
// Why that suffices: a transaction that holds a number up to L took it
// before step 1, and had its ID before it took it (every statement that
// appends events appends them only for grants its transaction has already
// written, see the revocation statements, or for a user whose row it has
// already written, see queueSubjectEntry), so its ID is below B. At step
// 3 it has ended, and the snapshot sees its events if it committed.
//
// Why a simpler horizon does not suffice: filtering on the ID of the
// transaction that wrote each row (xid < pg_snapshot_xmin) cannot see the
// rows of transactions in flight, and IDs are not handed out in the order
// of sequence numbers. Transaction A takes its ID, then B takes its ID and
// Seq 10, then A takes Seq 11 and commits while B is in flight: A's row
// is below that horizon (A is older than B, the oldest in flight) and has
// the higher number. Returning it would skip 10.
// TestEventsHorizonOlderTransactionHigherSeq builds exactly that.
//
// What a reader waits for is every transaction with an ID that was in
// flight when it sampled: on the whole server (transaction IDs are the
// cluster's), revocations or not. Appends never wait for readers, and
// readers never wait for transactions that begin after they sampled.
//
// A writing transaction left open on the server, in any database (an
// "idle in transaction" session, a long batch job), would hold the horizon
// back as long as it stays open. So a reader waits for the horizon only
// horizonPatience; past that it waits for the appends alone, the way
// readers did before the horizon: every transaction that appends events
// takes the revocation log's advisory lock, shared, before it takes a
// number and until it ends (queueRevokeSQL), and the reader takes it
// exclusively, which waits for the appends in flight and no other
// transaction, and holds appends back for one short statement.

const (
	qLastSeq    = `SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM revocation_seq`
	qTakeXactID = `SELECT pg_current_xact_id()::text::bigint`
	// qSettled is true once no transaction with an ID below $1 is in
	// flight.
	qSettled = `SELECT pg_snapshot_xmin(pg_current_snapshot()) >= $1::bigint::text::xid8`
	// qEventsUpTo reads the events with $2 >= seq > $1.
	qEventsUpTo = `SELECT ` + eventColumns + ` FROM revocation_events
		WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3`
	// qSettledEvents reads the events with $2 >= seq > $1 when qSettled
	// holds for $3 in its own snapshot, and none otherwise.
	qSettledEvents = `SELECT ` + eventColumns + ` FROM revocation_events
		WHERE seq > $1 AND seq <= $2 AND pg_snapshot_xmin(pg_current_snapshot()) >= $3::bigint::text::xid8
		ORDER BY seq LIMIT $4`
)

// horizonPause bounds the pause between two looks at the horizon: a
// reader waits for revocations and other writes in flight, which take
// milliseconds.
const horizonPause = 20 * time.Millisecond

// horizonPatience is how long a reader waits for the horizon before it
// takes the revocation log's lock instead: writes that take longer are
// not tokend's, or something is wrong with them.
const horizonPatience = 100 * time.Millisecond

// Events returns up to limit events with Seq > since, oldest first; a limit
// of zero or less means no limit. Every event whose revocation committed
// before the call is among them (up to limit), and no event is ever
// returned after one with a higher Seq: see the horizon above. It waits
// for the writes in flight when it was called, never for later ones, and
// appends never wait for it.
func (s *Store) Events(ctx context.Context, since int64, limit int) ([]store.Event, error) {
	last, bound, err := s.sampleHorizon(ctx)
	if err != nil || last <= since {
		return nil, err
	}
	var lim *int
	if limit > 0 {
		lim = &limit
	}
	pause := time.Millisecond / 2
	for start := time.Now(); ; {
		evs, settled, err := s.readSettled(ctx, since, last, bound, lim)
		if err != nil || settled {
			return evs, err
		}
		if time.Since(start) >= horizonPatience {
			return s.eventsLocked(ctx, since, lim)
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-s.stop:
			t.Stop()
			return nil, errClosed
		case <-t.C:
		}
		pause = min(2*pause, horizonPause)
	}
}

// sampleHorizon returns the last sequence number handed out and then a
// fresh transaction ID, in one round trip (steps 1 and 2).
func (s *Store) sampleHorizon(ctx context.Context) (last, bound int64, err error) {
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	queueRow(b, qLastSeq, func(row pgx.Row) error { return row.Scan(&last) })
	queueRow(b, qTakeXactID, func(row pgx.Row) error { return row.Scan(&bound) })
	b.Queue("ROLLBACK")
	if err := s.batch(ctx, b); err != nil {
		return 0, 0, err
	}
	return last, bound, nil
}

// readSettled reads the events with last >= Seq > since if no transaction
// with an ID below bound is in flight (step 3), in one round trip.
// settled false means it must look again.
func (s *Store) readSettled(ctx context.Context, since, last, bound int64, limit *int) (evs []store.Event, settled bool, err error) {
	b := &pgx.Batch{}
	queueRow(b, qSettled, func(row pgx.Row) error { return row.Scan(&settled) }, bound)
	b.Queue(qSettledEvents, since, last, bound, limit).Query(func(rows pgx.Rows) error {
		evs, err = pgx.CollectRows(rows, scanEvent)
		return err
	})
	if err := s.batch(ctx, b); err != nil {
		return nil, false, err
	}
	// The second statement's snapshot is the later one, and xmin only
	// grows: settled for the first means settled for the second, and rows
	// from the second mean it found the horizon settled.
	return evs, settled || len(evs) > 0, nil
}

// eventsLocked reads the events past since under the revocation log's
// lock, taken exclusively: it waits for the transactions appending events
// to end, reads the last number handed out, and lets go at once (the
// batch is one transaction); every event up to that number has committed
// or never will.
func (s *Store) eventsLocked(ctx context.Context, since int64, limit *int) ([]store.Event, error) {
	var last int64
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_advisory_xact_lock($1, $2)`, s.eventsLock.class, s.eventsLock.schema)
	queueRow(b, qLastSeq, func(row pgx.Row) error { return row.Scan(&last) })
	if err := s.batch(ctx, b); err != nil {
		return nil, err
	}
	if last <= since {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, qEventsUpTo, since, last, limit)
	if err != nil {
		return nil, s.mapErr(ctx, err)
	}
	evs, err := pgx.CollectRows(rows, scanEvent)
	if err != nil {
		return nil, s.mapErr(ctx, err)
	}
	return evs, nil
}
