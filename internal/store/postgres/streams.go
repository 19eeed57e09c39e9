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
	streamColumns  = `id, owner, method, status, reason, config, created_at, updated_at`
	qGetStream     = `SELECT ` + streamColumns + ` FROM ssf_streams WHERE id = $1`
	qListStreams   = `SELECT ` + streamColumns + ` FROM ssf_streams ORDER BY id`
	qInsertStream  = `INSERT INTO ssf_streams (` + streamColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
	qReplaceStream = `UPDATE ssf_streams SET owner = $2, method = $3, status = $4, reason = $5, config = $6,
		created_at = $7, updated_at = $8 WHERE id = $1`
	setColumns = `id, stream_id, jti, event_seq, claims, state, attempts, next_attempt, claim, claimed_until,
		error, created_at, finished_at`
	// qQueueSETs inserts the SETs of streams that exist, one array per
	// column; claimed_until is the epoch for "no claim".
	qQueueSETs = `INSERT INTO ssf_sets (stream_id, jti, event_seq, claims, state, attempts, next_attempt, claim,
			claimed_until, error, created_at)
		SELECT u.stream_id, u.jti, u.event_seq, u.claims, 'pending', 0, u.next_attempt, '', 'epoch', '', u.created_at
		FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::timestamptz[], $6::timestamptz[]) WITH ORDINALITY
			AS u (stream_id, jti, event_seq, claims, next_attempt, created_at, n)
		WHERE EXISTS (SELECT 1 FROM ssf_streams WHERE id = u.stream_id)
		ORDER BY u.n
		ON CONFLICT DO NOTHING`
	qPendingSETs = `SELECT ` + setColumns + ` FROM ssf_sets WHERE stream_id = $1 AND state = 'pending' ORDER BY id LIMIT $2`
	qFinishByJTI = `UPDATE ssf_sets SET state = $3, error = $4, finished_at = $5, claim = '', claimed_until = 'epoch'
		WHERE stream_id = $1 AND jti = $2 AND state = 'pending'`
	// qClaimSETs claims a run of each of up to $4 enabled push streams
	// whose head (oldest pending SET) is due and unclaimed: the head and
	// the pending SETs after it, up to $5 in all. $1 the claim, $2 now, $3
	// until. SKIP LOCKED: a head that another instance's claim is taking
	// is left to it, with its stream, and this one takes others; the
	// outer conditions are checked again on the rows it updates.
	qClaimSETs = `WITH heads AS (
			SELECT d.id, d.stream_id FROM ssf_sets d
			WHERE d.id IN (SELECT min(s.id) FROM ssf_sets s JOIN ssf_streams t ON t.id = s.stream_id
				WHERE s.state = 'pending' AND t.method = 'urn:ietf:rfc:8935' AND t.status = 'enabled'
				GROUP BY s.stream_id)
			AND d.next_attempt <= $2 AND d.claimed_until <= $2
			ORDER BY d.next_attempt, d.id LIMIT $4 FOR UPDATE OF d SKIP LOCKED),
		runs AS (
			SELECT r.id FROM (
				SELECT s.id, row_number() OVER (PARTITION BY s.stream_id ORDER BY s.id) AS n
				FROM ssf_sets s JOIN heads h ON h.stream_id = s.stream_id AND s.id >= h.id
				WHERE s.state = 'pending') r
			WHERE r.n <= $5)
		UPDATE ssf_sets SET claim = $1, claimed_until = $3, attempts = attempts + 1
		WHERE id IN (SELECT id FROM runs) AND state = 'pending' AND claimed_until <= $2
		RETURNING ` + setColumns
	qFinishSET = `UPDATE ssf_sets SET state = $3, next_attempt = $5, error = $6, claim = '', claimed_until = 'epoch',
			finished_at = CASE WHEN $3 = 'pending' THEN NULL ELSE $4::timestamptz END
		WHERE id = $1 AND claim = $2 AND state = 'pending'`
	// qReleaseSET lets go of a SET claimed but not attempted.
	qReleaseSET = `UPDATE ssf_sets SET claim = '', claimed_until = 'epoch', attempts = attempts - 1
		WHERE id = $1 AND claim = $2 AND state = 'pending'`
	qCountSETs  = `SELECT count(*) FROM ssf_sets WHERE stream_id = $1 AND state = $2`
	qDeleteSETs = `WITH d AS (
			DELETE FROM ssf_sets WHERE id IN (
				SELECT id FROM ssf_sets WHERE finished_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)
			RETURNING 1)
		SELECT count(*) FROM d`
)

func scanStream(row pgx.Row) (store.Stream, error) {
	var st store.Stream
	var config string
	err := row.Scan(&st.ID, &st.Owner, &st.Method, &st.Status, &st.Reason, &config, &st.CreatedAt, &st.UpdatedAt)
	st.Config, st.CreatedAt, st.UpdatedAt = []byte(config), st.CreatedAt.UTC(), st.UpdatedAt.UTC()
	return st, err
}

func streamArgs(st store.Stream) []any {
	return []any{st.ID, st.Owner, st.Method, st.Status, st.Reason, string(st.Config), st.CreatedAt, st.UpdatedAt}
}

func scanSET(row pgx.Row) (store.StreamSET, error) {
	var e store.StreamSET
	var claims string
	var finished *time.Time
	err := row.Scan(&e.ID, &e.StreamID, &e.JTI, &e.EventSeq, &claims, &e.State, &e.Attempts, &e.NextAttempt, &e.Claim,
		&e.ClaimedUntil, &e.Error, &e.CreatedAt, &finished)
	if err != nil {
		return store.StreamSET{}, err
	}
	e.Claims, e.NextAttempt, e.CreatedAt = []byte(claims), e.NextAttempt.UTC(), e.CreatedAt.UTC()
	if e.ClaimedUntil.Unix() == 0 {
		e.ClaimedUntil = time.Time{}
	} else {
		e.ClaimedUntil = e.ClaimedUntil.UTC()
	}
	if finished != nil {
		e.FinishedAt = finished.UTC()
	}
	return e, nil
}

// CreateStream stores a new stream; store.ErrAlreadyExists when its ID is
// taken.
func (s *Store) CreateStream(ctx context.Context, st store.Stream) error {
	b := &pgx.Batch{}
	b.Queue(qInsertStream, streamArgs(st)...)
	return s.batch(ctx, b)
}

// GetStream returns the stream id, or store.ErrNotFound.
func (s *Store) GetStream(ctx context.Context, id string) (store.Stream, error) {
	if err := s.usable(ctx); err != nil {
		return store.Stream{}, err
	}
	st, err := scanStream(s.pool.QueryRow(ctx, qGetStream, id))
	if err != nil {
		return store.Stream{}, s.notFound(ctx, err, fmt.Sprintf("stream %q", id))
	}
	return st, nil
}

// ListStreams returns every stream, by ID.
func (s *Store) ListStreams(ctx context.Context) ([]store.Stream, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, qListStreams)
	if err != nil {
		return nil, s.mapErr(ctx, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Stream, error) { return scanStream(row) })
	return out, s.mapErr(ctx, err)
}

// UpdateStream applies fn to the stream, read under its row lock, in one
// transaction.
func (s *Store) UpdateStream(ctx context.Context, id string, fn func(store.Stream) (store.Stream, error)) (store.Stream, error) {
	if err := s.usable(ctx); err != nil {
		return store.Stream{}, err
	}
	var out store.Stream
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		st, err := scanStream(tx.QueryRow(ctx, qGetStream+` FOR UPDATE`, id))
		if err != nil {
			return s.notFound(ctx, err, fmt.Sprintf("stream %q", id))
		}
		if st, err = fn(st); err != nil {
			return err
		}
		st.ID = id
		if _, err := tx.Exec(ctx, qReplaceStream, streamArgs(st)...); err != nil {
			return s.mapErr(ctx, err)
		}
		out = st
		return nil
	})
	return out, s.mapErr(ctx, err)
}

// DeleteStream deletes the stream and its SETs in one transaction.
func (s *Store) DeleteStream(ctx context.Context, id string) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		ct, err := tx.Exec(ctx, `DELETE FROM ssf_streams WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if ct.RowsAffected() == 0 {
			return fmt.Errorf("stream %q: %w", id, store.ErrNotFound)
		}
		_, err = tx.Exec(ctx, `DELETE FROM ssf_sets WHERE stream_id = $1`, id)
		return err
	})
	return s.mapErr(ctx, err)
}

// QueueSETs moves the cursor and queues sets in one transaction; see
// store.Streams. The move comes first and takes the cursor's row lock, as
// QueueLogouts's does.
func (s *Store) QueueSETs(ctx context.Context, name string, from, to int64, sets []store.StreamSET) error {
	if to < from {
		return fmt.Errorf("postgres: QueueSETs would move cursor %q back from %d to %d", name, from, to)
	}
	if err := s.usable(ctx); err != nil {
		return err
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if name != "" {
			if err := moveCursor(ctx, tx, name, from, to); err != nil {
				return err
			}
		}
		if len(sets) == 0 {
			return nil
		}
		n := len(sets)
		streams, jtis, claims := make([]string, n), make([]string, n), make([]string, n)
		seqs, next, created := make([]int64, n), make([]time.Time, n), make([]time.Time, n)
		for i, e := range sets {
			streams[i], jtis[i], claims[i], seqs[i], next[i], created[i] = e.StreamID, e.JTI, string(e.Claims), e.EventSeq, e.NextAttempt, e.CreatedAt
		}
		_, err := tx.Exec(ctx, qQueueSETs, streams, jtis, seqs, claims, next, created)
		return err
	})
	return s.mapErr(ctx, err)
}

// moveCursor moves cursor name from from to to in tx, creating it when it
// was never moved; store.ErrCursorMoved when it is not at from.
func moveCursor(ctx context.Context, tx pgx.Tx, name string, from, to int64) error {
	ct, err := tx.Exec(ctx, qMoveCursor, name, from, to)
	if err != nil {
		return err
	}
	moved := ct.RowsAffected()
	if moved == 0 && from == 0 {
		if ct, err = tx.Exec(ctx, qInsertCursor, name, to); err != nil {
			return err
		}
		moved = ct.RowsAffected()
	}
	if moved == 0 {
		return store.ErrCursorMoved
	}
	return nil
}

// PendingSETs returns up to limit pending SETs of the stream, oldest first.
func (s *Store) PendingSETs(ctx context.Context, streamID string, limit int) ([]store.StreamSET, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, qPendingSETs, streamID, limit)
	if err != nil {
		return nil, s.mapErr(ctx, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.StreamSET, error) { return scanSET(row) })
	return out, s.mapErr(ctx, err)
}

// AckSETs finishes the SETs a poll acknowledged or reported errors for,
// in one batch.
func (s *Store) AckSETs(ctx context.Context, streamID string, acks []string, errs map[string]string, at time.Time) error {
	if len(acks) == 0 && len(errs) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, jti := range acks {
		b.Queue(qFinishByJTI, streamID, jti, store.SETDelivered, "", at)
	}
	for jti, text := range errs {
		b.Queue(qFinishByJTI, streamID, jti, store.SETFailed, text, at)
	}
	return s.batch(ctx, b)
}

// ClaimSETs claims runs of the enabled push streams whose heads are due;
// see store.Streams.
func (s *Store) ClaimSETs(ctx context.Context, claim string, now, until time.Time, limit, perStream int) ([]store.StreamSET, error) {
	if claim == "" {
		return nil, errors.New("postgres: ClaimSETs needs a claim")
	}
	var out []store.StreamSET
	b := &pgx.Batch{}
	b.Queue(qClaimSETs, claim, now, until, limit, max(perStream, 1)).Query(func(rows pgx.Rows) error {
		var err error
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.StreamSET, error) { return scanSET(row) })
		return err
	})
	if err := s.batch(ctx, b); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b store.StreamSET) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// FinishSETs records how push attempts ended, in one transaction; see
// store.Streams.
func (s *Store) FinishSETs(ctx context.Context, claim string, at time.Time, outcomes []store.SETOutcome) error {
	var lost []int64
	b := &pgx.Batch{}
	for _, o := range outcomes {
		count := func(ct pgconn.CommandTag) error {
			if ct.RowsAffected() == 0 {
				lost = append(lost, o.ID)
			}
			return nil
		}
		switch o.State {
		case "":
			b.Queue(qReleaseSET, o.ID, claim).Exec(count)
		case store.SETPending, store.SETDelivered, store.SETFailed:
			b.Queue(qFinishSET, o.ID, claim, o.State, at, o.Next, o.Error).Exec(count)
		default:
			return fmt.Errorf("postgres: unknown SET state %q", o.State)
		}
	}
	if err := s.batch(ctx, b); err != nil {
		return err
	}
	if len(lost) > 0 {
		return fmt.Errorf("SETs %v under claim %q: %w", lost, claim, store.ErrNotFound)
	}
	return nil
}

// CountSETs counts the stream's SETs in state.
func (s *Store) CountSETs(ctx context.Context, streamID, state string) (int64, error) {
	if err := s.usable(ctx); err != nil {
		return 0, err
	}
	var n int64
	return n, s.mapErr(ctx, s.pool.QueryRow(ctx, qCountSETs, streamID, state).Scan(&n))
}

// DeleteFinishedSETs deletes up to limit SETs finished before before, in
// one statement.
func (s *Store) DeleteFinishedSETs(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, fmt.Errorf("postgres: DeleteFinishedSETs: limit %d", limit)
	}
	if err := s.usable(ctx); err != nil {
		return 0, err
	}
	var n int64
	err := s.pool.QueryRow(ctx, qDeleteSETs, before, limit).Scan(&n)
	return int(n), s.mapErr(ctx, err)
}
