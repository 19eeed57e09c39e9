package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tokend/tokend/internal/store"
)

// DefaultSweepLimit is the batch DeleteExpired and DeleteEventsBefore use
// when given a limit of zero or less. Deleting a grant changes a page or so
// in each of the tables and indexes it and its tokens are in (the tokens
// are spread over the primary key by their hash), so a batch's cost grows
// with its grants: 250 holds the writer briefly enough that revocations
// queued behind it are not held up for long, and drains expired tokens as
// fast as larger batches do. BenchmarkDeleteExpired measures both.
const DefaultSweepLimit = 250

const (
	// qAnyExpired tells, on the read pool, whether a sweep would delete
	// anything: an idle sweep costs one read, not a write.
	qAnyExpired = `SELECT EXISTS (SELECT 1 FROM grants WHERE expires_at < ?1)
		OR EXISTS (SELECT 1 FROM tokens WHERE expires_at < ?1)
		OR EXISTS (SELECT 1 FROM used_jtis WHERE expires_at <= ?1)
		OR EXISTS (SELECT 1 FROM auth_codes WHERE expires_at <= ?1)
		OR EXISTS (SELECT 1 FROM device_codes WHERE expires_at <= ?1)
		OR EXISTS (SELECT 1 FROM sessions WHERE ended_at < ?2)
		OR EXISTS (SELECT 1 FROM sessions WHERE expires_at < ?2)`
	qExpiredGrants = `SELECT id FROM grants WHERE expires_at < ? LIMIT ?`
	// The batch's grant IDs come as one JSON array, so a batch is three
	// statements whatever its size. The tokens are deleted by name rather
	// than by the foreign key's cascade, to count them; the cascade then
	// finds none.
	qDeleteGrantTokens = `DELETE FROM tokens WHERE grant_id IN (SELECT value FROM json_each(?))`
	qDeleteGrants      = `DELETE FROM grants WHERE id IN (SELECT value FROM json_each(?))`
	// qDeleteExpiredTokens deletes expired tokens of grants still live:
	// the access tokens and rotated refresh tokens each refresh leaves.
	qDeleteExpiredTokens = `DELETE FROM tokens WHERE hash IN
		(SELECT t.hash FROM tokens t JOIN grants g ON g.id = t.grant_id
			WHERE t.expires_at < ?1 AND g.expires_at >= ?1 LIMIT ?2)`
	qDeleteUsedJTIs = `DELETE FROM used_jtis WHERE (issuer, jti) IN
		(SELECT issuer, jti FROM used_jtis WHERE expires_at <= ?1 LIMIT ?2)`
	qDeleteExpiredCodes = `DELETE FROM auth_codes WHERE hash IN
		(SELECT hash FROM auth_codes WHERE expires_at <= ?1 LIMIT ?2)`
	// qDeleteOldSessions deletes sessions that ended or expired before ?1,
	// store.SessionRetention before the sweep's time; each half of the
	// UNION reads one index.
	qDeleteOldSessions = `DELETE FROM sessions WHERE id IN
		(SELECT id FROM sessions WHERE ended_at < ?1 UNION SELECT id FROM sessions WHERE expires_at < ?1 LIMIT ?2)`
	// An event goes once it is older than before and so are the expiries
	// of the tokens it covers: while one of them lives, the event is what
	// tells a restarted instance's status lists and a resuming feed
	// reader that it is revoked.
	qAnyEventsBefore = `SELECT EXISTS (SELECT 1 FROM revocation_events
		WHERE time < ?1 AND (expires_at IS NULL OR expires_at < ?1))`
	qDeleteEvents = `DELETE FROM revocation_events WHERE seq IN
		(SELECT seq FROM revocation_events WHERE time < ?1 AND (expires_at IS NULL OR expires_at < ?1) LIMIT ?2)`
	// qStats is one statement so that every count comes from one snapshot.
	// The live tokens are the unexpired, unrotated ones, counted from the
	// tokens_grant_id index alone (INDEXED BY: tokens_expires_at, which
	// the planner would take for the expiry, lacks rotated_at, and every
	// token's row would be read), less those of revoked grants, found from
	// the revoked grants (CROSS JOIN keeps that order): each costs one
	// seek in tokens_grant_id, which holds the columns the count needs,
	// where a join that started from the tokens would read the grant of
	// every one of them. A token of an expired grant has expired too (a
	// grant lives as long as its longest-lived token).
	qStats = `SELECT
		(SELECT count(*) FROM grants WHERE revoked_at IS NULL AND expires_at > ?1),
		(SELECT count(*) FROM tokens INDEXED BY tokens_grant_id WHERE expires_at > ?1 AND rotated_at IS NULL) -
		(SELECT count(*) FROM grants g CROSS JOIN tokens t ON t.grant_id = g.id
			WHERE g.revoked_at IS NOT NULL AND g.expires_at > ?1 AND t.expires_at > ?1 AND t.rotated_at IS NULL),
		(SELECT count(*) FROM sessions WHERE ended_at IS NULL AND expires_at > ?1)`
	qReserve = `UPDATE counters SET value = value + ?2 WHERE name = ?1 RETURNING value - ?2`
	// A counter's value is the next index to hand out.
	qLastReserved = `SELECT value - 1 FROM counters WHERE name = ?1`
)

// DeleteExpired deletes up to limit grants that expired before now, with
// their tokens, up to limit expired tokens of live grants, up to limit
// used assertion jtis and authorization codes expired at now (expiresAt
// not after now), and up to limit sessions that ended or expired
// store.SessionRetention before now, in one
// write op: while it runs, revocations wait behind it, so limit keeps it
// short (DefaultSweepLimit when limit is zero or less). Call it until it
// returns a zero SweepResult. A revoked
// grant stays until it expires, so that lookups keep answering "revoked";
// events are not touched (see DeleteEventsBefore). When nothing has
// expired it costs one read and takes no write lock.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time, limit int) (store.SweepResult, error) {
	if limit <= 0 {
		limit = DefaultSweepLimit
	}
	var found bool
	if err := s.r.anyExpired.QueryRowContext(ctx, ms(now), ms(now.Add(-store.SessionRetention))).Scan(&found); err != nil {
		return store.SweepResult{}, mapErr(err)
	}
	if !found {
		return store.SweepResult{}, nil
	}
	var res store.SweepResult
	err := s.writeSolo(ctx, func(t *tx) error {
		var err error
		res, err = s.sweep(t, ms(now), limit)
		return err
	})
	if err != nil {
		return store.SweepResult{}, err
	}
	return res, nil
}

// sweep is DeleteExpired's op.
func (s *Store) sweep(t *tx, now int64, limit int) (store.SweepResult, error) {
	var res store.SweepResult
	rows, err := t.query(s.w.expiredGrants, now, limit)
	if err != nil {
		return res, err
	}
	ids := make([]string, 0, limit)
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return res, err
		}
		ids = append(ids, id)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return res, err
	}
	if len(ids) > 0 {
		batch, err := json.Marshal(ids)
		if err != nil {
			return res, err
		}
		if res.Tokens, err = affected(t.exec(s.w.deleteGrantTokens, batch)); err != nil {
			return res, err
		}
		if res.Grants, err = affected(t.exec(s.w.deleteGrants, batch)); err != nil {
			return res, err
		}
	}
	n, err := affected(t.exec(s.w.deleteExpiredTokens, now, limit))
	if err != nil {
		return res, err
	}
	res.Tokens += n
	if res.JTIs, err = affected(t.exec(s.w.deleteUsedJTIs, now, limit)); err != nil {
		return res, err
	}
	if res.Codes, err = affected(t.exec(s.w.deleteExpiredCodes, now, limit)); err != nil {
		return res, err
	}
	if n, err = s.deleteExpiredDevice(t, now, limit); err != nil {
		return res, err
	}
	res.Codes += n
	old := now - store.SessionRetention.Milliseconds()
	res.Sessions, err = affected(t.exec(s.w.deleteOldSessions, old, limit))
	return res, err
}

// affected returns the number of rows an exec changed.
func affected(r sql.Result, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	n, err := r.RowsAffected()
	return int(n), err
}

// DeleteEventsBefore deletes up to limit events whose Time, and the expiry
// of every token they cover, are before before (DefaultSweepLimit when
// limit is zero or less), in one write op, and returns how many it
// deleted. Sequence numbers are never reused.
func (s *Store) DeleteEventsBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		limit = DefaultSweepLimit
	}
	var found bool
	if err := s.r.anyEventsBefore.QueryRowContext(ctx, ms(before)).Scan(&found); err != nil {
		return 0, mapErr(err)
	}
	if !found {
		return 0, nil
	}
	var n int
	err := s.write(ctx, func(t *tx) error {
		var err error
		n, err = affected(t.exec(s.w.deleteEvents, ms(before), limit))
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// Stats counts, at now, the live grants (not revoked, ExpiresAt after now)
// and their live tokens (also unexpired and not rotated). It reads every
// live grant and token: a metric to sample now and then, not per request.
func (s *Store) Stats(ctx context.Context, now time.Time) (store.Stats, error) {
	var st store.Stats
	if err := s.r.stats.QueryRowContext(ctx, ms(now)).Scan(&st.LiveGrants, &st.LiveTokens, &st.LiveSessions); err != nil {
		return store.Stats{}, mapErr(err)
	}
	return st, nil
}

// counterStatusIndex names the counters row of the status list indexes.
const counterStatusIndex = "status_index"

// ReserveStatusIndexes reserves n consecutive Token Status List indexes
// and returns the first. The counter is a row that the reservation
// advances in a committed write, under the database's write lock: no index
// is handed out twice, by this process or another on the same file, before
// or after a restart. Indexes start at 1.
func (s *Store) ReserveStatusIndexes(ctx context.Context, n int) (int64, error) {
	if n < 1 {
		return 0, fmt.Errorf("sqlite: ReserveStatusIndexes(%d): want n >= 1", n)
	}
	var first int64
	err := s.write(ctx, func(t *tx) error {
		return notFound(t.queryRow(s.w.reserve, counterStatusIndex, n).Scan(&first), "counter "+counterStatusIndex)
	})
	if err != nil {
		return 0, err
	}
	return first, nil
}

// LastStatusIndex returns the highest status list index reserved so far,
// 0 when none; it reads the counter ReserveStatusIndexes advances.
func (s *Store) LastStatusIndex(ctx context.Context) (int64, error) {
	var last int64
	if err := s.r.lastReserved.QueryRowContext(ctx, counterStatusIndex).Scan(&last); err != nil {
		return 0, notFound(err, "counter "+counterStatusIndex)
	}
	return last, nil
}
