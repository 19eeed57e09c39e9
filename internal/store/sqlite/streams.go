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

// The streams are no hot path: their statements are parsed when run, not
// prepared with the rest.
const (
	streamColumns  = `id, owner, method, status, reason, config, created_at, updated_at`
	qGetStream     = `SELECT ` + streamColumns + ` FROM ssf_streams WHERE id = ?`
	qListStreams   = `SELECT ` + streamColumns + ` FROM ssf_streams ORDER BY id`
	qInsertStream  = `INSERT INTO ssf_streams (` + streamColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	qReplaceStream = `UPDATE ssf_streams SET owner = ?2, method = ?3, status = ?4, reason = ?5, config = ?6,
		created_at = ?7, updated_at = ?8 WHERE id = ?1`
	setColumns = `id, stream_id, jti, event_seq, claims, state, attempts, next_attempt, claim, claimed_until,
		error, created_at, finished_at`
	// qQueueSET inserts a SET of a stream that exists.
	qQueueSET = `INSERT INTO ssf_sets (stream_id, jti, event_seq, claims, state, attempts, next_attempt, claim,
			claimed_until, error, created_at)
		SELECT ?1, ?2, ?3, ?4, 'pending', 0, ?5, '', 0, '', ?6 WHERE EXISTS (SELECT 1 FROM ssf_streams WHERE id = ?1)
		ON CONFLICT DO NOTHING`
	qPendingSETs = `SELECT ` + setColumns + ` FROM ssf_sets WHERE stream_id = ? AND state = 'pending' ORDER BY id LIMIT ?`
	qFinishByJTI = `UPDATE ssf_sets SET state = ?3, error = ?4, finished_at = ?5, claim = '', claimed_until = 0
		WHERE stream_id = ?1 AND jti = ?2 AND state = 'pending'`
	// qClaimSETs claims a run of each of up to ?4 enabled push streams
	// whose head (oldest pending SET) is due and unclaimed: the head and
	// the pending SETs after it, up to ?5 in all. ?1 the claim, ?2 now,
	// ?3 until.
	qClaimSETs = `UPDATE ssf_sets SET claim = ?1, claimed_until = ?3, attempts = attempts + 1
		WHERE id IN (SELECT r.id FROM (
				SELECT s.id, row_number() OVER (PARTITION BY s.stream_id ORDER BY s.id) AS n
				FROM ssf_sets s JOIN (
					SELECT d.id, d.stream_id FROM ssf_sets d JOIN (
						SELECT min(s.id) AS id FROM ssf_sets s JOIN ssf_streams t ON t.id = s.stream_id
						WHERE s.state = 'pending' AND t.method = 'urn:ietf:rfc:8935' AND t.status = 'enabled'
						GROUP BY s.stream_id) h ON h.id = d.id
					WHERE d.next_attempt <= ?2 AND d.claimed_until <= ?2 ORDER BY d.next_attempt, d.id LIMIT ?4
				) heads ON heads.stream_id = s.stream_id AND s.id >= heads.id
				WHERE s.state = 'pending') r
			WHERE r.n <= ?5)
		RETURNING ` + setColumns
	qFinishSET = `UPDATE ssf_sets SET state = ?3, next_attempt = ?5, error = ?6, claim = '', claimed_until = 0,
			finished_at = CASE WHEN ?3 = 'pending' THEN NULL ELSE ?4 END
		WHERE id = ?1 AND claim = ?2 AND state = 'pending'`
	// qReleaseSET lets go of a SET claimed but not attempted.
	qReleaseSET = `UPDATE ssf_sets SET claim = '', claimed_until = 0, attempts = attempts - 1
		WHERE id = ?1 AND claim = ?2 AND state = 'pending'`
	qCountSETs  = `SELECT count(*) FROM ssf_sets WHERE stream_id = ? AND state = ?`
	qDeleteSETs = `DELETE FROM ssf_sets WHERE id IN (SELECT id FROM ssf_sets WHERE finished_at < ?1 LIMIT ?2)`
)

func scanStream(sc scanner) (store.Stream, error) {
	var st store.Stream
	var config string
	var created, updated int64
	err := sc.Scan(&st.ID, &st.Owner, &st.Method, &st.Status, &st.Reason, &config, &created, &updated)
	st.Config, st.CreatedAt, st.UpdatedAt = []byte(config), fromMS(created), fromMS(updated)
	return st, err
}

func streamArgs(st store.Stream) []any {
	return []any{st.ID, st.Owner, st.Method, st.Status, st.Reason, string(st.Config), ms(st.CreatedAt), ms(st.UpdatedAt)}
}

func scanSET(sc scanner) (store.StreamSET, error) {
	var e store.StreamSET
	var claims string
	var next, claimed, created int64
	var finished sql.NullInt64
	err := sc.Scan(&e.ID, &e.StreamID, &e.JTI, &e.EventSeq, &claims, &e.State, &e.Attempts, &next, &e.Claim, &claimed,
		&e.Error, &created, &finished)
	e.Claims, e.NextAttempt, e.CreatedAt, e.FinishedAt = []byte(claims), fromMS(next), fromMS(created), nullMS(finished)
	if claimed != 0 {
		e.ClaimedUntil = fromMS(claimed)
	}
	return e, err
}

// CreateStream stores a new stream; store.ErrAlreadyExists when its ID is
// taken.
func (s *Store) CreateStream(ctx context.Context, st store.Stream) error {
	return s.write(ctx, func(t *tx) error {
		_, err := t.tx.ExecContext(t.ctx, qInsertStream, streamArgs(st)...)
		return err
	})
}

// GetStream returns the stream id, or store.ErrNotFound.
func (s *Store) GetStream(ctx context.Context, id string) (store.Stream, error) {
	st, err := scanStream(s.rdb.QueryRowContext(ctx, qGetStream, id))
	if err != nil {
		return store.Stream{}, notFound(err, fmt.Sprintf("stream %q", id))
	}
	return st, nil
}

// ListStreams returns every stream, by ID.
func (s *Store) ListStreams(ctx context.Context) ([]store.Stream, error) {
	rows, err := s.rdb.QueryContext(ctx, qListStreams)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []store.Stream
	for rows.Next() {
		st, err := scanStream(rows)
		if err != nil {
			return nil, mapErr(err)
		}
		out = append(out, st)
	}
	return out, mapErr(rows.Err())
}

// UpdateStream applies fn to the stream in one op; see store.Streams.
func (s *Store) UpdateStream(ctx context.Context, id string, fn func(store.Stream) (store.Stream, error)) (store.Stream, error) {
	var out store.Stream
	err := s.write(ctx, func(t *tx) error {
		st, err := scanStream(t.tx.QueryRowContext(t.ctx, qGetStream, id))
		if err != nil {
			return &unwritten{notFound(err, fmt.Sprintf("stream %q", id))}
		}
		if st, err = fn(st); err != nil {
			return &unwritten{err}
		}
		st.ID = id
		if _, err := t.tx.ExecContext(t.ctx, qReplaceStream, streamArgs(st)...); err != nil {
			return err
		}
		out = st
		return nil
	})
	return out, err
}

// DeleteStream deletes the stream and its SETs in one op.
func (s *Store) DeleteStream(ctx context.Context, id string) error {
	return s.write(ctx, func(t *tx) error {
		res, err := t.tx.ExecContext(t.ctx, `DELETE FROM ssf_streams WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return &unwritten{cmpErr(err, fmt.Errorf("stream %q: %w", id, store.ErrNotFound))}
		}
		_, err = t.tx.ExecContext(t.ctx, `DELETE FROM ssf_sets WHERE stream_id = ?`, id)
		return err
	})
}

// cmpErr returns err when it is not nil, else otherwise.
func cmpErr(err, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}

// QueueSETs moves the cursor and queues sets in one op; see store.Streams.
func (s *Store) QueueSETs(ctx context.Context, name string, from, to int64, sets []store.StreamSET) error {
	if to < from {
		return fmt.Errorf("sqlite: QueueSETs would move cursor %q back from %d to %d", name, from, to)
	}
	return s.write(ctx, func(t *tx) error {
		if name != "" {
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
		}
		for _, e := range sets {
			if _, err := t.tx.ExecContext(t.ctx, qQueueSET, e.StreamID, e.JTI, e.EventSeq, string(e.Claims),
				ms(e.NextAttempt), ms(e.CreatedAt)); err != nil {
				return err
			}
		}
		return nil
	})
}

// PendingSETs returns up to limit pending SETs of the stream, oldest first.
func (s *Store) PendingSETs(ctx context.Context, streamID string, limit int) ([]store.StreamSET, error) {
	rows, err := s.rdb.QueryContext(ctx, qPendingSETs, streamID, limit)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []store.StreamSET
	for rows.Next() {
		e, err := scanSET(rows)
		if err != nil {
			return nil, mapErr(err)
		}
		out = append(out, e)
	}
	return out, mapErr(rows.Err())
}

// AckSETs finishes the SETs a poll acknowledged or reported errors for.
func (s *Store) AckSETs(ctx context.Context, streamID string, acks []string, errs map[string]string, at time.Time) error {
	if len(acks) == 0 && len(errs) == 0 {
		return nil
	}
	return s.write(ctx, func(t *tx) error {
		for _, jti := range acks {
			if _, err := t.tx.ExecContext(t.ctx, qFinishByJTI, streamID, jti, store.SETDelivered, "", ms(at)); err != nil {
				return err
			}
		}
		for jti, text := range errs {
			if _, err := t.tx.ExecContext(t.ctx, qFinishByJTI, streamID, jti, store.SETFailed, text, ms(at)); err != nil {
				return err
			}
		}
		return nil
	})
}

// ClaimSETs claims runs of the enabled push streams whose heads are due;
// see store.Streams.
func (s *Store) ClaimSETs(ctx context.Context, claim string, now, until time.Time, limit, perStream int) ([]store.StreamSET, error) {
	if claim == "" {
		return nil, errors.New("sqlite: ClaimSETs needs a claim")
	}
	var out []store.StreamSET
	err := s.write(ctx, func(t *tx) error {
		rows, err := t.tx.QueryContext(t.ctx, qClaimSETs, claim, ms(now), ms(until), limit, max(perStream, 1))
		if err != nil {
			return err
		}
		defer rows.Close()
		out = out[:0]
		for rows.Next() {
			e, err := scanSET(rows)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b store.StreamSET) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// FinishSETs records how push attempts ended, in one write; see
// store.Streams.
func (s *Store) FinishSETs(ctx context.Context, claim string, at time.Time, outcomes []store.SETOutcome) error {
	for _, o := range outcomes {
		switch o.State {
		case "", store.SETPending, store.SETDelivered, store.SETFailed:
		default:
			return fmt.Errorf("sqlite: unknown SET state %q", o.State)
		}
	}
	return s.write(ctx, func(t *tx) error {
		var lost []int64
		for _, o := range outcomes {
			var res sql.Result
			var err error
			if o.State == "" {
				res, err = t.tx.ExecContext(t.ctx, qReleaseSET, o.ID, claim)
			} else {
				res, err = t.tx.ExecContext(t.ctx, qFinishSET, o.ID, claim, o.State, ms(at), ms(o.Next), o.Error)
			}
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				lost = append(lost, o.ID)
			}
		}
		if len(lost) > 0 {
			// The others' outcomes are kept.
			return &commitAnyway{fmt.Errorf("SETs %v under claim %q: %w", lost, claim, store.ErrNotFound)}
		}
		return nil
	})
}

// CountSETs counts the stream's SETs in state.
func (s *Store) CountSETs(ctx context.Context, streamID, state string) (int64, error) {
	var n int64
	return n, mapErr(s.rdb.QueryRowContext(ctx, qCountSETs, streamID, state).Scan(&n))
}

// DeleteFinishedSETs deletes up to limit SETs finished before before
// (DefaultSweepLimit when limit is zero or less).
func (s *Store) DeleteFinishedSETs(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		limit = DefaultSweepLimit
	}
	var n int64
	err := s.write(ctx, func(t *tx) error {
		res, err := t.tx.ExecContext(t.ctx, qDeleteSETs, ms(before), limit)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, err
	}
	return int(n), nil
}
