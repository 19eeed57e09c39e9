package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tokend/tokend/internal/store"
)

const (
	qCursor       = `SELECT seq FROM log_cursors WHERE name = $1`
	qMoveCursor   = `UPDATE log_cursors SET seq = $3 WHERE name = $1 AND seq = $2`
	qInsertCursor = `INSERT INTO log_cursors (name, seq) VALUES ($1, $2) ON CONFLICT DO NOTHING`
	logoutColumns = `id, client_id, session_id, subject, event_seq, revoked_at, reason, state, attempts,
		next_attempt, claim, claimed_until, created_at, finished_at`
	// qQueueLogouts inserts the deliveries, one array per column, in one
	// statement; claimed_until is the epoch for "no claim".
	qQueueLogouts = `INSERT INTO logout_deliveries (client_id, session_id, subject, event_seq, revoked_at, reason,
			state, attempts, next_attempt, claim, claimed_until, created_at)
		SELECT u.client_id, u.session_id, u.subject, u.event_seq, u.revoked_at, u.reason,
			'pending', 0, u.next_attempt, '', 'epoch', u.created_at
		FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::timestamptz[], $6::text[],
			$7::timestamptz[], $8::timestamptz[])
			AS u (client_id, session_id, subject, event_seq, revoked_at, reason, next_attempt, created_at)
		ON CONFLICT DO NOTHING`
	// qClaimLogouts claims the due deliveries no claim holds: $1 the
	// claim, $2 now, $3 until, $4 the limit. SKIP LOCKED: a delivery that
	// another instance's claim is taking is left to it; once that commits,
	// the row's new claimed_until keeps it out of this one.
	qClaimLogouts = `UPDATE logout_deliveries SET claim = $1, claimed_until = $3, attempts = attempts + 1
		WHERE id IN (SELECT id FROM logout_deliveries
			WHERE state = 'pending' AND next_attempt <= $2 AND claimed_until <= $2
			ORDER BY next_attempt, id LIMIT $4 FOR UPDATE SKIP LOCKED)
		RETURNING ` + logoutColumns
	qFinishLogout = `UPDATE logout_deliveries SET state = $3, next_attempt = $5, claim = '', claimed_until = 'epoch',
			finished_at = CASE WHEN $3 = 'pending' THEN NULL ELSE $4::timestamptz END
		WHERE id = $1 AND claim = $2 AND state = 'pending'`
	qGetLogout     = `SELECT ` + logoutColumns + ` FROM logout_deliveries WHERE id = $1`
	qCountLogouts  = `SELECT count(*) FROM logout_deliveries WHERE state = $1`
	qDeleteLogouts = `WITH d AS (
			DELETE FROM logout_deliveries WHERE id IN (
				SELECT id FROM logout_deliveries WHERE finished_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)
			RETURNING 1)
		SELECT count(*) FROM d`
)

func scanLogout(row pgx.Row) (store.LogoutDelivery, error) {
	var d store.LogoutDelivery
	var finished *time.Time
	err := row.Scan(&d.ID, &d.ClientID, &d.SessionID, &d.Subject, &d.EventSeq, &d.RevokedAt, &d.Reason, &d.State,
		&d.Attempts, &d.NextAttempt, &d.Claim, &d.ClaimedUntil, &d.CreatedAt, &finished)
	if err != nil {
		return store.LogoutDelivery{}, err
	}
	d.RevokedAt, d.NextAttempt, d.CreatedAt = d.RevokedAt.UTC(), d.NextAttempt.UTC(), d.CreatedAt.UTC()
	if d.ClaimedUntil.Unix() == 0 {
		d.ClaimedUntil = time.Time{}
	} else {
		d.ClaimedUntil = d.ClaimedUntil.UTC()
	}
	if finished != nil {
		d.FinishedAt = finished.UTC()
	}
	return d, nil
}

// Cursor returns the position of the follower name, 0 when it has none.
func (s *Store) Cursor(ctx context.Context, name string) (int64, error) {
	if err := s.usable(ctx); err != nil {
		return 0, err
	}
	var seq int64
	err := s.pool.QueryRow(ctx, qCursor, name).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return seq, s.mapErr(ctx, err)
}

// QueueLogouts moves the cursor and queues ds in one transaction; see
// store.Logouts. The move comes first and takes the cursor's row lock: of
// two instances moving it from the same place, the second waits for the
// first to commit, then finds the cursor moved and writes nothing.
func (s *Store) QueueLogouts(ctx context.Context, name string, from, to int64, ds []store.LogoutDelivery) error {
	if to < from {
		return fmt.Errorf("postgres: QueueLogouts would move cursor %q back from %d to %d", name, from, to)
	}
	return s.inTx(ctx, func(t *tx) error {
		var moved int64
		b := &pgx.Batch{}
		b.Queue(qMoveCursor, name, from, to).Exec(func(ct pgconn.CommandTag) error { moved = ct.RowsAffected(); return nil })
		if err := t.send(b, false); err != nil {
			return err
		}
		if moved == 0 && from == 0 { // a cursor never moved has no row yet
			b := &pgx.Batch{}
			b.Queue(qInsertCursor, name, to).Exec(func(ct pgconn.CommandTag) error { moved = ct.RowsAffected(); return nil })
			if err := t.send(b, false); err != nil {
				return err
			}
		}
		if moved == 0 {
			return store.ErrCursorMoved
		}
		b = &pgx.Batch{}
		queueDeliveries(b, ds)
		return t.send(b, true)
	})
}

// queueDeliveries queues on b the statement that inserts ds.
func queueDeliveries(b *pgx.Batch, ds []store.LogoutDelivery) {
	if len(ds) == 0 {
		return
	}
	n := len(ds)
	clients, sessions, subjects, reasons := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	seqs, revoked, next, created := make([]int64, n), make([]time.Time, n), make([]time.Time, n), make([]time.Time, n)
	for i, d := range ds {
		clients[i], sessions[i], subjects[i], reasons[i] = d.ClientID, d.SessionID, d.Subject, d.Reason
		seqs[i], revoked[i], next[i], created[i] = d.EventSeq, d.RevokedAt, d.NextAttempt, d.CreatedAt
	}
	b.Queue(qQueueLogouts, clients, sessions, subjects, seqs, revoked, reasons, next, created)
}

// ClaimLogouts claims up to limit due deliveries, in one statement; see
// store.Logouts.
func (s *Store) ClaimLogouts(ctx context.Context, claim string, now, until time.Time, limit int) ([]store.LogoutDelivery, error) {
	if claim == "" {
		return nil, errors.New("postgres: ClaimLogouts needs a claim")
	}
	var ds []store.LogoutDelivery
	b := &pgx.Batch{}
	b.Queue(qClaimLogouts, claim, now, until, limit).Query(func(rows pgx.Rows) error {
		var err error
		ds, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.LogoutDelivery, error) { return scanLogout(row) })
		return err
	})
	if err := s.batch(ctx, b); err != nil {
		return nil, err
	}
	// RETURNING comes in no set order.
	slices.SortFunc(ds, func(a, b store.LogoutDelivery) int {
		if c := a.NextAttempt.Compare(b.NextAttempt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return ds, nil
}

// FinishLogout records the outcome of an attempt; see store.Logouts. It
// is FinishLogouts of one outcome.
func (s *Store) FinishLogout(ctx context.Context, id int64, claim, state string, at, next time.Time) error {
	return s.FinishLogouts(ctx, claim, at, []store.LogoutOutcome{{ID: id, State: state, Next: next}})
}

// FinishLogouts records the outcomes of attempts in one round trip, one
// implicit transaction; see store.Logouts.
func (s *Store) FinishLogouts(ctx context.Context, claim string, at time.Time, outcomes []store.LogoutOutcome) error {
	if len(outcomes) == 0 {
		return nil
	}
	var done int64
	b := &pgx.Batch{}
	for _, o := range outcomes {
		switch o.State {
		case store.LogoutPending, store.LogoutDelivered, store.LogoutAbandoned:
		default:
			return fmt.Errorf("postgres: unknown delivery state %q", o.State)
		}
		b.Queue(qFinishLogout, o.ID, claim, o.State, at, o.Next).Exec(func(ct pgconn.CommandTag) error {
			done += ct.RowsAffected()
			return nil
		})
	}
	if err := s.batch(ctx, b); err != nil {
		return err
	}
	if lost := int64(len(outcomes)) - done; lost > 0 {
		return fmt.Errorf("%d of %d logout deliveries not held by claim %q: %w", lost, len(outcomes), claim, store.ErrNotFound)
	}
	return nil
}

// GetLogout returns delivery id, or store.ErrNotFound.
func (s *Store) GetLogout(ctx context.Context, id int64) (store.LogoutDelivery, error) {
	if err := s.usable(ctx); err != nil {
		return store.LogoutDelivery{}, err
	}
	d, err := scanLogout(s.pool.QueryRow(ctx, qGetLogout, id))
	if err != nil {
		return store.LogoutDelivery{}, s.notFound(ctx, err, fmt.Sprintf("logout delivery %d", id))
	}
	return d, nil
}

// CountLogouts counts the deliveries in state.
func (s *Store) CountLogouts(ctx context.Context, state string) (int64, error) {
	if err := s.usable(ctx); err != nil {
		return 0, err
	}
	var n int64
	return n, s.mapErr(ctx, s.pool.QueryRow(ctx, qCountLogouts, state).Scan(&n))
}

// DeleteFinishedLogouts deletes up to limit deliveries finished before
// before, in one statement. SKIP LOCKED: another instance's sweep may be
// deleting the same rows.
func (s *Store) DeleteFinishedLogouts(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, fmt.Errorf("postgres: DeleteFinishedLogouts: limit %d", limit)
	}
	var n int
	b := &pgx.Batch{}
	queueRow(b, qDeleteLogouts, func(row pgx.Row) error { return row.Scan(&n) }, before, limit)
	if err := s.batch(ctx, b); err != nil {
		return 0, err
	}
	return n, nil
}
