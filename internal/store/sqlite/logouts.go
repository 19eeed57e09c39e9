package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/tokend/tokend/internal/store"
)

const (
	qCursor       = `SELECT seq FROM log_cursors WHERE name = ?`
	qMoveCursor   = `UPDATE log_cursors SET seq = ?3 WHERE name = ?1 AND seq = ?2`
	qInsertCursor = `INSERT INTO log_cursors (name, seq) VALUES (?1, ?2) ON CONFLICT DO NOTHING`
	logoutColumns = `id, client_id, session_id, subject, event_seq, revoked_at, reason, state, attempts,
		next_attempt, claim, claimed_until, created_at, finished_at`
	qQueueLogout = `INSERT INTO logout_deliveries (client_id, session_id, subject, event_seq, revoked_at, reason,
			state, attempts, next_attempt, claim, claimed_until, created_at)
		VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, '', 0, ?) ON CONFLICT DO NOTHING`
	// qClaimLogouts claims the due deliveries no claim holds: ?1 the claim,
	// ?2 now, ?3 until, ?4 the limit.
	qClaimLogouts = `UPDATE logout_deliveries SET claim = ?1, claimed_until = ?3, attempts = attempts + 1
		WHERE id IN (SELECT id FROM logout_deliveries
			WHERE state = 'pending' AND next_attempt <= ?2 AND claimed_until <= ?2
			ORDER BY next_attempt, id LIMIT ?4)
		RETURNING ` + logoutColumns
	qFinishLogout = `UPDATE logout_deliveries SET state = ?3, next_attempt = ?5, claim = '', claimed_until = 0,
			finished_at = CASE WHEN ?3 = 'pending' THEN NULL ELSE ?4 END
		WHERE id = ?1 AND claim = ?2 AND state = 'pending'`
	qGetLogout     = `SELECT ` + logoutColumns + ` FROM logout_deliveries WHERE id = ?`
	qCountLogouts  = `SELECT count(*) FROM logout_deliveries WHERE state = ?`
	qDeleteLogouts = `DELETE FROM logout_deliveries WHERE id IN
		(SELECT id FROM logout_deliveries WHERE finished_at < ?1 LIMIT ?2)`
)

// prepareLogouts prepares the statements of cursors and deliveries, read
// ones with r and write ones with w.
func (s *Store) prepareLogouts(r, w *preparer) {
	s.r.cursor, s.r.getLogout, s.r.countLogouts = r.prep(qCursor), r.prep(qGetLogout), r.prep(qCountLogouts)
	s.w.moveCursor, s.w.insertCursor, s.w.queueLogout = w.prep(qMoveCursor), w.prep(qInsertCursor), w.prep(qQueueLogout)
	s.w.claimLogouts, s.w.finishLogout, s.w.deleteLogouts = w.prep(qClaimLogouts), w.prep(qFinishLogout), w.prep(qDeleteLogouts)
}

func scanLogout(sc scanner) (store.LogoutDelivery, error) {
	var d store.LogoutDelivery
	var revoked, next, claimed, created int64
	var finished sql.NullInt64
	err := sc.Scan(&d.ID, &d.ClientID, &d.SessionID, &d.Subject, &d.EventSeq, &revoked, &d.Reason, &d.State,
		&d.Attempts, &next, &d.Claim, &claimed, &created, &finished)
	d.RevokedAt, d.NextAttempt, d.CreatedAt, d.FinishedAt = fromMS(revoked), fromMS(next), fromMS(created), nullMS(finished)
	if claimed != 0 {
		d.ClaimedUntil = fromMS(claimed)
	}
	return d, err
}

// Cursor returns the position of the follower name, 0 when it has none.
func (s *Store) Cursor(ctx context.Context, name string) (int64, error) {
	var seq int64
	err := s.r.cursor.QueryRowContext(ctx, name).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return seq, mapErr(err)
}

// QueueLogouts moves the cursor and queues ds in one op; see
// store.Logouts. The writer runs one op at a time, so the cursor read by
// the compare is the one the move writes over.
func (s *Store) QueueLogouts(ctx context.Context, name string, from, to int64, ds []store.LogoutDelivery) error {
	if to < from {
		return fmt.Errorf("sqlite: QueueLogouts would move cursor %q back from %d to %d", name, from, to)
	}
	return s.write(ctx, func(t *tx) error {
		res, err := t.exec(s.w.moveCursor, name, from, to)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err == nil && n == 0 {
			err = s.firstMove(t, name, from, to)
		}
		if err != nil {
			return err
		}
		for _, d := range ds {
			if _, err := t.exec(s.w.queueLogout, d.ClientID, d.SessionID, d.Subject, d.EventSeq, ms(d.RevokedAt),
				d.Reason, ms(d.NextAttempt), ms(d.CreatedAt)); err != nil {
				return err
			}
		}
		return nil
	})
}

// firstMove creates cursor name at to when it has no row yet and from is
// 0; else the cursor was moved by another follower.
func (s *Store) firstMove(t *tx, name string, from, to int64) error {
	if from != 0 {
		return &unwritten{store.ErrCursorMoved}
	}
	res, err := t.exec(s.w.insertCursor, name, to)
	if err != nil {
		return err
	}
	switch n, err := res.RowsAffected(); {
	case err != nil:
		return err
	case n == 0:
		return &unwritten{store.ErrCursorMoved}
	}
	return nil
}

// ClaimLogouts claims up to limit due deliveries; see store.Logouts.
func (s *Store) ClaimLogouts(ctx context.Context, claim string, now, until time.Time, limit int) ([]store.LogoutDelivery, error) {
	if claim == "" {
		return nil, errors.New("sqlite: ClaimLogouts needs a claim")
	}
	var ds []store.LogoutDelivery
	err := s.write(ctx, func(t *tx) error {
		rows, err := t.query(s.w.claimLogouts, claim, ms(now), ms(until), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		ds = ds[:0]
		for rows.Next() {
			d, err := scanLogout(rows)
			if err != nil {
				return err
			}
			ds = append(ds, d)
		}
		return rows.Err()
	})
	if err != nil {
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

// FinishLogouts records the outcomes of attempts in one write; see
// store.Logouts.
func (s *Store) FinishLogouts(ctx context.Context, claim string, at time.Time, outcomes []store.LogoutOutcome) error {
	for _, o := range outcomes {
		switch o.State {
		case store.LogoutPending, store.LogoutDelivered, store.LogoutAbandoned:
		default:
			return fmt.Errorf("sqlite: unknown delivery state %q", o.State)
		}
	}
	var lost int
	err := s.write(ctx, func(t *tx) error {
		lost = 0
		for _, o := range outcomes {
			res, err := t.exec(s.w.finishLogout, o.ID, claim, o.State, ms(at), ms(o.Next))
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			if n == 0 {
				lost++
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if lost > 0 {
		return fmt.Errorf("%d of %d logout deliveries not held by claim %q: %w", lost, len(outcomes), claim, store.ErrNotFound)
	}
	return nil
}

// GetLogout returns delivery id, or store.ErrNotFound.
func (s *Store) GetLogout(ctx context.Context, id int64) (store.LogoutDelivery, error) {
	d, err := scanLogout(s.r.getLogout.QueryRowContext(ctx, id))
	if err != nil {
		return store.LogoutDelivery{}, notFound(err, fmt.Sprintf("logout delivery %d", id))
	}
	return d, nil
}

// CountLogouts counts the deliveries in state.
func (s *Store) CountLogouts(ctx context.Context, state string) (int64, error) {
	var n int64
	return n, mapErr(s.r.countLogouts.QueryRowContext(ctx, state).Scan(&n))
}

// DeleteFinishedLogouts deletes up to limit deliveries finished before
// before (DefaultSweepLimit when limit is zero or less).
func (s *Store) DeleteFinishedLogouts(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		limit = DefaultSweepLimit
	}
	var n int64
	err := s.write(ctx, func(t *tx) error {
		res, err := t.exec(s.w.deleteLogouts, ms(before), limit)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		// n is not read then: a write that gave up on its context may
		// still be running its op.
		return 0, err
	}
	return int(n), nil
}
