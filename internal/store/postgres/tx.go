package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Round trips. Every write sends its statements as pgx batches: one
// pipeline, one round trip, whatever the number of statements.
//
// A batch without BEGIN runs as one implicit transaction that PostgreSQL
// commits when it reaches the batch's end: every statement or none. When
// a write must look at a result before it decides what to write next
// (RotateRefresh, UpdateClient), it runs an explicit transaction (tx),
// whose first batch carries the BEGIN and whose last the COMMIT.
//
// Either way the commit's answer is read before the call returns: a nil
// error means the server said COMMIT, and a commit that got no answer
// (the connection broke) is an error wrapping store.ErrUnavailable.

// batch sends b as one implicit transaction and runs the callbacks queued
// on it. It fails at once, sending nothing, if ctx is done already.
func (s *Store) batch(ctx context.Context, b *pgx.Batch) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	return s.mapErr(ctx, s.pool.SendBatch(ctx, b).Close())
}

// usable fails if the store is closed or ctx is done.
func (s *Store) usable(ctx context.Context) error {
	if s.closed.Load() {
		return errClosed
	}
	return ctx.Err()
}

// tx is one explicit transaction on one pooled connection.
type tx struct {
	s         *Store
	ctx       context.Context
	conn      *pgxpool.Conn
	began     bool
	committed bool
}

// inTx runs fn in a transaction. fn sends batches with send; the last of
// them commits (send with commit true). If fn returns before committing,
// for an error or not, the transaction is rolled back and fn's error
// returned. fn may also commit and then return an error that the caller
// must see although the writes are durable (refresh-token reuse).
func (s *Store) inTx(ctx context.Context, fn func(t *tx) error) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return s.mapErr(ctx, err)
	}
	t := &tx{s: s, ctx: ctx, conn: conn}
	defer t.release()
	err = fn(t)
	if err == nil && !t.committed {
		err = errors.New("postgres: transaction not committed")
	}
	return err
}

var errRolledBack = errors.New("postgres: COMMIT rolled the transaction back")

// send sends b, preceded by BEGIN if it is the transaction's first batch
// and followed by COMMIT if commit, as one round trip, and runs the
// callbacks queued on b.
func (t *tx) send(b *pgx.Batch, commit bool) error {
	if t.committed {
		return errors.New("postgres: transaction committed already")
	}
	all := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, len(b.QueuedQueries)+2)}
	if !t.began {
		all.Queue("BEGIN")
		t.began = true
	}
	all.QueuedQueries = append(all.QueuedQueries, b.QueuedQueries...)
	committed := false
	if commit {
		all.Queue("COMMIT").Exec(func(ct pgconn.CommandTag) error {
			if ct.String() != "COMMIT" {
				return errRolledBack
			}
			committed = true
			return nil
		})
	}
	err := t.conn.SendBatch(t.ctx, all).Close()
	t.committed = committed
	return t.s.mapErr(t.ctx, err)
}

// release rolls back what was not committed and hands the connection back
// to the pool. The pool closes a connection still inside a transaction,
// so if the ROLLBACK fails the transaction ends all the same.
func (t *tx) release() {
	defer t.conn.Release()
	if !t.began || t.committed || t.conn.Conn().PgConn().TxStatus() == 'I' {
		return
	}
	// The caller's context may be the reason we are here: roll back with
	// its values but not its cancellation, and not forever.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.ctx), 5*time.Second)
	defer cancel()
	if _, err := t.conn.Exec(ctx, "ROLLBACK"); err != nil {
		t.s.log.DebugContext(ctx, "postgres: rollback failed; the connection is dropped", "err", err)
	}
}

// queueRow queues sql on b with scan as the callback for its one row.
func queueRow(b *pgx.Batch, sql string, scan func(pgx.Row) error, args ...any) {
	b.Queue(sql, args...).QueryRow(scan)
}

// exactlyOne is an Exec callback that fails unless the statement touched
// exactly one row, naming what with what.
func exactlyOne(what string) func(pgconn.CommandTag) error {
	return func(ct pgconn.CommandTag) error {
		if ct.RowsAffected() != 1 {
			return fmt.Errorf("postgres: %s touched %d rows; want 1", what, ct.RowsAffected())
		}
		return nil
	}
}
