package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tokend/tokend/internal/store"
)

const (
	// qDeleteExpiredGrants deletes up to $2 grants expired before $1 with
	// their tokens. SKIP LOCKED: a grant whose family lock is held is being
	// rotated (which may extend it) or revoked; the next sweep sees it.
	qDeleteExpiredGrants = `WITH doomed AS (
			SELECT id FROM grants WHERE expires_at < $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED
		), toks AS (
			DELETE FROM tokens WHERE grant_id IN (SELECT id FROM doomed) RETURNING 1
		), gs AS (
			DELETE FROM grants WHERE id IN (SELECT id FROM doomed) RETURNING 1
		)
		SELECT (SELECT count(*) FROM gs), (SELECT count(*) FROM toks)`
	// qDeleteExpiredTokens deletes up to $2 expired tokens of grants still
	// live: the access tokens and rotated refresh tokens each refresh
	// leaves. SKIP LOCKED, as for grants.
	qDeleteExpiredTokens = `DELETE FROM tokens WHERE hash IN (
			SELECT t.hash FROM tokens t JOIN grants g ON g.id = t.grant_id
			WHERE t.expires_at < $1 AND g.expires_at >= $1 LIMIT $2 FOR UPDATE OF t SKIP LOCKED)`
	// qDeleteUsedJTIs deletes up to $2 used jtis expired at $1: UseJTI
	// accepts them again from then on.
	qDeleteUsedJTIs = `DELETE FROM used_jtis WHERE (issuer, jti) IN (
			SELECT issuer, jti FROM used_jtis WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`
	// qDeleteOldSessions deletes up to $2 sessions that ended or expired
	// before $1, store.SessionRetention before the sweep's time.
	qDeleteOldSessions = `DELETE FROM sessions WHERE id IN (
			SELECT id FROM sessions WHERE ended_at < $1 OR expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`
	qDeleteEvents = `WITH d AS (
			DELETE FROM revocation_events WHERE seq IN (
				SELECT seq FROM revocation_events WHERE time < $1 AND (expires_at IS NULL OR expires_at < $1)
				ORDER BY seq LIMIT $2)
			RETURNING 1)
		SELECT count(*) FROM d`
	qStats = `SELECT
			(SELECT count(*) FROM grants WHERE revoked_at IS NULL AND expires_at > $1),
			(SELECT count(*) FROM tokens t JOIN grants g ON g.id = t.grant_id
				WHERE g.revoked_at IS NULL AND t.expires_at > $1 AND t.rotated_at IS NULL),
			(SELECT count(*) FROM sessions WHERE ended_at IS NULL AND expires_at > $1)`
	// qReserveStatusIndexes moves the counter on by $1 and returns the
	// first index of the block: the row lock orders concurrent callers, and
	// the commit makes the block theirs for good.
	qReserveStatusIndexes = `UPDATE status_list_counter SET last = last + $1 RETURNING last - $1 + 1`
	qLastStatusIndex      = `SELECT last FROM status_list_counter`
)

// DeleteExpired deletes up to limit grants whose ExpiresAt is before now,
// with their tokens, up to limit expired tokens of live grants, up to
// limit used jtis and authorization codes expired at now, and up to limit
// sessions that ended or expired store.SessionRetention before now, in one
// transaction and one round trip.
// Their revocation events stay: the log is swept by DeleteEventsBefore.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time, limit int) (store.SweepResult, error) {
	if limit <= 0 {
		return store.SweepResult{}, fmt.Errorf("postgres: DeleteExpired: limit %d", limit)
	}
	var res store.SweepResult
	b := &pgx.Batch{}
	queueRow(b, qDeleteExpiredGrants, func(row pgx.Row) error { return row.Scan(&res.Grants, &res.Tokens) }, now, limit)
	b.Queue(qDeleteExpiredTokens, now, limit).Exec(func(ct pgconn.CommandTag) error { res.Tokens += int(ct.RowsAffected()); return nil })
	b.Queue(qDeleteUsedJTIs, now, limit).Exec(func(ct pgconn.CommandTag) error { res.JTIs = int(ct.RowsAffected()); return nil })
	b.Queue(qDeleteExpiredCodes, now, limit).Exec(func(ct pgconn.CommandTag) error { res.Codes = int(ct.RowsAffected()); return nil })
	queueDeleteExpiredDevice(b, now, limit, &res)
	b.Queue(qDeleteOldSessions, now.Add(-store.SessionRetention), limit).Exec(func(ct pgconn.CommandTag) error {
		res.Sessions = int(ct.RowsAffected())
		return nil
	})
	if err := s.batch(ctx, b); err != nil {
		return store.SweepResult{}, err
	}
	return res, nil
}

// DeleteEventsBefore deletes up to limit of the oldest events whose Time,
// and the expiry of every token they cover, are before before: while a
// covered token lives, its event is what tells a restarted instance's
// status lists and a resuming feed reader that it is revoked.
func (s *Store) DeleteEventsBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, fmt.Errorf("postgres: DeleteEventsBefore: limit %d", limit)
	}
	var n int
	b := &pgx.Batch{}
	queueRow(b, qDeleteEvents, func(row pgx.Row) error { return row.Scan(&n) }, before, limit)
	if err := s.batch(ctx, b); err != nil {
		return 0, err
	}
	return n, nil
}

// Stats counts the live grants (unrevoked, unexpired at now) and their
// live tokens (unexpired and, for refresh tokens, not rotated).
func (s *Store) Stats(ctx context.Context, now time.Time) (store.Stats, error) {
	if err := s.usable(ctx); err != nil {
		return store.Stats{}, err
	}
	var st store.Stats
	if err := s.pool.QueryRow(ctx, qStats, now).Scan(&st.LiveGrants, &st.LiveTokens, &st.LiveSessions); err != nil {
		return store.Stats{}, s.mapErr(ctx, err)
	}
	return st, nil
}

// ReserveStatusIndexes reserves n consecutive Token Status List indexes
// and returns the first. Indexes start at 1 and are never handed out twice,
// by any process sharing the database: a block is the caller's once the
// UPDATE that moves the counter past it has committed. A call whose
// commit fails may have reserved its block all the same; that block is
// never used, and never handed out again.
func (s *Store) ReserveStatusIndexes(ctx context.Context, n int) (int64, error) {
	if n <= 0 {
		return 0, fmt.Errorf("postgres: ReserveStatusIndexes: n = %d", n)
	}
	var first int64
	b := &pgx.Batch{}
	queueRow(b, qReserveStatusIndexes, func(row pgx.Row) error { return row.Scan(&first) }, int64(n))
	if err := s.batch(ctx, b); err != nil {
		return 0, err
	}
	return first, nil
}

// LastStatusIndex returns the highest status list index reserved so far,
// 0 when none: the counter ReserveStatusIndexes advances, as committed.
func (s *Store) LastStatusIndex(ctx context.Context) (int64, error) {
	if err := s.usable(ctx); err != nil {
		return 0, err
	}
	var last int64
	if err := s.pool.QueryRow(ctx, qLastStatusIndex).Scan(&last); err != nil {
		return 0, s.mapErr(ctx, err)
	}
	return last, nil
}
