package postgres

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Group commit. Each write is one pgx batch, one implicit transaction: one
// round trip and one commit, a WAL flush the backend waits for. Under load
// the issuances and the revocations of single grants arrive by the dozen
// at once, and each paid its own transaction. The writer sends the
// batches of the calls waiting at a time as one batch instead: one round
// trip, one transaction, one commit for all of them, and every call is
// answered only once that commit is acknowledged, as before.
//
// The ops run in the transaction one after the other, each seeing what the
// ones before it wrote, so each gets the result it would get alone in
// that order. Only issuances are grouped. A revocation's events statement
// picks the grants its transaction marked (g.xmin), and its cascade
// reaches the grants exchanged from them (RFC 8693), which no caller knows
// beforehand: a revocation of a grant and one of a grant exchanged from it
// in one transaction would log the second twice. Grouping revocations
// gained little besides (the statements, not the commit, are their cost:
// BenchmarkRevokeGrant), so each runs in a transaction of its own. If the
// server refuses the group's transaction (a duplicate grant ID, an
// exchange from a grant revoked meanwhile), nothing of it was committed,
// and each op runs again alone, so that a failing op fails alone. If the
// answer does not come (the connection broke), the outcome is unknown and
// every op is answered the error, as a lone op would be.

// maxGroup bounds the ops sent in one transaction.
const maxGroup = 64

// groupWriters is how many groups may be in flight at once, each on its
// own connection. One would leave PostgreSQL one backend, one core, for
// every grouped write: a revocation's statements cost the server more
// than its commit, and with a single writer grouped revocations were
// twice as slow as one transaction each on the pool (BenchmarkRevokeGrant).
const groupWriters = 4

// groupOp is a write the writer may run with others: queue queues its
// statements and the callbacks that take its results on a batch (and may
// be called again, for a rerun).
type groupOp struct {
	ctx   context.Context
	queue func(b *pgx.Batch)
	done  chan error
}

// writeGrouped runs the op that queue queues, with others when they wait
// at the same time, and returns once its transaction has committed.
func (s *Store) writeGrouped(ctx context.Context, queue func(b *pgx.Batch)) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	s.groupOnce.Do(func() {
		s.groupOps = make(chan *groupOp, maxGroup)
		n := s.groupWriters
		if n == 0 {
			n = groupWriters
		}
		for range n {
			go s.runGroups()
		}
	})
	o := &groupOp{ctx: ctx, queue: queue, done: make(chan error, 1)}
	select {
	case s.groupOps <- o:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.stop:
		return errClosed
	}
	select {
	case err := <-o.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-s.stop:
		// The op's connection is being closed under it: whatever it
		// became, it is not acknowledged.
		return errClosed
	}
}

// runGroups is a writer: it takes the ops waiting, sends them as one
// transaction, answers them, and takes the next, until the store closes.
// A group may wait for a revocation's row locks (an exchanged grant's
// insert takes a share lock on its chain, grants_parent_live); a deadlock
// the server breaks by refusing the group makes its ops run again alone.
func (s *Store) runGroups() {
	group := make([]*groupOp, 0, maxGroup)
	for {
		var first *groupOp
		select {
		case first = <-s.groupOps:
		case <-s.stop:
			return
		}
		if s.groupHold != nil {
			s.groupHold() // tests: let the group fill
		}
		group = append(group[:0], first)
	drain:
		for len(group) < maxGroup {
			select {
			case o := <-s.groupOps:
				group = append(group, o)
			default:
				break drain
			}
		}
		s.commitGroup(group)
		clear(group)
	}
}

// commitGroup runs group, answering each op.
func (s *Store) commitGroup(group []*groupOp) {
	live := group[:0:0]
	for _, o := range group {
		if o.ctx.Err() != nil { // its caller left: nothing is written
			o.done <- o.ctx.Err()
			continue
		}
		live = append(live, o)
	}
	switch {
	case len(live) == 1:
		s.runAlone(live[0])
	case len(live) > 1:
		s.runTogether(live)
	}
}

// runAlone runs o in a transaction of its own, as a write did before
// grouping.
func (s *Store) runAlone(o *groupOp) {
	b := &pgx.Batch{}
	o.queue(b)
	o.done <- s.batch(o.ctx, b)
}

// runTogether runs ops in one transaction. Refused by the server, the
// ops run again, each alone and at once, so that the writer goes on.
func (s *Store) runTogether(ops []*groupOp) {
	ctx, stop := whileAnyWaits(ops)
	defer stop()
	b := &pgx.Batch{}
	for _, o := range ops {
		o.queue(b)
	}
	err := s.pool.SendBatch(ctx, b).Close()
	var pe *pgconn.PgError
	if errors.As(err, &pe) && !s.closed.Load() {
		for _, o := range ops {
			go s.runAlone(o)
		}
		return
	}
	for _, o := range ops {
		o.done <- s.mapErr(o.ctx, err)
	}
}

// whileAnyWaits returns a context, with the values of the first op's,
// that ends when every op's context has ended: the group's transaction is
// abandoned only when nobody waits for it.
func whileAnyWaits(ops []*groupOp) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ops[0].ctx))
	var waiting atomic.Int64
	waiting.Store(int64(len(ops)))
	stops := make([]func() bool, len(ops))
	for i, o := range ops {
		stops[i] = context.AfterFunc(o.ctx, func() {
			if waiting.Add(-1) == 0 {
				cancel()
			}
		})
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel()
	}
}
