package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"

	"github.com/tokend/tokend/internal/store"
)

// An op is one write: fn runs on the writer goroutine inside the batch's
// transaction, under a savepoint of its own. Whatever fn computes for its
// caller (a RevokeResult, a TokenRecord) the caller reads only after a nil
// reply, which comes after the COMMIT.
type op struct {
	ctx  context.Context
	fn   func(*tx) error
	done chan error // buffered: the writer never waits for a caller that left
	// solo: the op runs in a transaction of its own (see writeSolo).
	solo bool
	// group, if set, lets the writer run the op with the batch's other
	// ops of its kind on shared statements (see group.go) instead of fn.
	group grouped
}

// commitAnyway is what an op returns when its writes must be committed
// although the call fails: the writer releases its savepoint like a
// success's and, once the batch is durable, answers err. If the COMMIT
// fails, the caller gets the commit's error instead. RotateRefresh uses it
// for refresh-token reuse, whose revocation must persist (RFC 9700 §4.14.2).
type commitAnyway struct{ err error }

func (e *commitAnyway) Error() string { return e.err.Error() }
func (e *commitAnyway) Unwrap() error { return e.err }

// opPanic carries a panic of an op's fn (e.g. UpdateClient's callback)
// back to its caller, which panics again on its own goroutine.
type opPanic struct {
	value any
	stack []byte
}

func (p *opPanic) Error() string { return fmt.Sprintf("panic in store op: %v", p.value) }

// write hands fn to the writer and waits for the batch holding it to
// commit. It fails at once, writing nothing, if ctx is done already. If ctx
// ends while the op waits in the queue the writer skips it; if it ends
// later the write may still commit, but write returns ctx.Err().
func (s *Store) write(ctx context.Context, fn func(*tx) error) error {
	return s.send(ctx, &op{ctx: ctx, fn: fn, done: make(chan error, 1)})
}

// writeSolo is write for a large op, one that changes thousands of pages
// (a sweep batch): the writer commits it in a transaction of its own,
// never batched with other ops, so that it runs without a savepoint. It
// still waits its turn in the queue, and the ops queued behind it wait for
// its commit.
func (s *Store) writeSolo(ctx context.Context, fn func(*tx) error) error {
	return s.send(ctx, &op{ctx: ctx, fn: fn, done: make(chan error, 1), solo: true})
}

// writeGrouped is write for an op that the writer may run in a group with
// the batch's other ops of a's kind; fn runs it alone, within the batch's
// transaction, when it is not grouped.
func (s *Store) writeGrouped(ctx context.Context, a grouped, fn func(*tx) error) error {
	return s.send(ctx, &op{ctx: ctx, fn: fn, done: make(chan error, 1), group: a})
}

func (s *Store) send(ctx context.Context, o *op) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return errClosed
	}
	s.senders.Add(1)
	s.mu.RUnlock()
	select {
	case s.ops <- o:
		s.senders.Done()
	case <-ctx.Done():
		s.senders.Done()
		return ctx.Err()
	}
	select {
	case err := <-o.done:
		if p, ok := err.(*opPanic); ok {
			panic(fmt.Sprintf("%v\n\nop goroutine stack:\n%s", p.value, p.stack))
		}
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run is the writer goroutine: it commits batches until s.ops is closed and
// drained. A solo op is a batch of its own: it ends the batch being drained
// and waits to be the next one.
func (s *Store) run() {
	defer close(s.done)
	batch := make([]*op, 0, s.maxBatch)
	var next *op // a solo op that ended the last batch
	for {
		first := next
		next = nil
		if first == nil {
			var ok bool
			if first, ok = <-s.ops; !ok {
				return
			}
		}
		batch = append(batch[:0], first)
	drain:
		for !first.solo && len(batch) < s.maxBatch {
			select {
			case o, ok := <-s.ops:
				if !ok {
					break drain
				}
				if o.solo {
					next = o
					break drain
				}
				batch = append(batch, o)
			default:
				break drain
			}
		}
		s.commit(batch)
		clear(batch) // let the ops and their results be collected
		if len(s.unprepared) > 0 {
			s.prepareUnprepared()
		}
	}
}

// unwritten is what an op returns when it fails before writing anything
// (the token it would rotate is unknown, say): the writer has nothing to
// undo, and answers err.
type unwritten struct{ err error }

func (e *unwritten) Error() string { return e.err.Error() }
func (e *unwritten) Unwrap() error { return e.err }

// commit runs batch in one transaction and answers every op.
//
// It first runs the ops one after the other with no savepoints. A savepoint
// costs two statements per op, and SQLite copies every page an op changes
// into the statement journal; what it buys is undoing one failed op, and
// ops succeed, commit anyway or fail unwritten nearly always. When an op
// fails otherwise, after it may have written, and other ops share the
// transaction, the transaction is rolled back and the batch runs again with
// a savepoint per op, so that only the failed op's writes are undone.
// In the first run, the grouped ops (group.go) run first, each kind on
// shared statements; in the rerun, every op runs alone.
func (s *Store) commit(batch []*op) {
	results := make([]error, len(batch))
	defer func() {
		for i, o := range batch {
			o.done <- results[i]
		}
	}()
	if !s.commitBatch(batch, results, false) {
		s.commitBatch(batch, results, true)
	}
}

// commitBatch runs the live ops of batch in one transaction, with a
// savepoint each if savepoints, and sets their results. Without
// savepoints, it returns false, having rolled back and answered nothing,
// when an op failed after it may have written and another op would have
// committed with it.
func (s *Store) commitBatch(batch []*op, results []error, savepoints bool) bool {
	b := batchRun{s: s, batch: batch, results: results, pending: make([]bool, len(batch)), savepoints: savepoints}
	t := b.begin()
	if t == nil {
		return true
	}
	if !savepoints && !s.perOp && b.runGroups(t) == opRerun {
		return false
	}
	for i, o := range batch {
		switch b.runOne(t, i, o) {
		case opAborted:
			return true
		case opRerun:
			return false
		}
	}
	b.finish(t)
	return true
}

// A batchRun is one run of a batch in one transaction: what the steps of
// commitBatch (begin, runOne for each op, then finish, or abort when the
// transaction is lost) know of the ops. The transaction is passed to each
// step, not held: an op's fn may keep its *tx, and a batchRun holding it
// would have its slices, results and pending, allocated on the heap.
type batchRun struct {
	s          *Store
	batch      []*op
	results    []error
	pending    []bool // the op's writes are in the transaction, awaiting COMMIT
	savepoints bool
	live       int // ops whose context had not ended when the run began
	n          int // ops pending
	grouped    int // ops pending that ran in a group
}

// An opStep is how a batch run goes on after one of its ops.
type opStep uint8

const (
	opNext    opStep = iota // on to the next op
	opAborted               // the transaction is lost; every op has its result
	opRerun                 // rolled back: run the batch again with savepoints
)

// begin sets the results of the ops whose context has ended and opens the
// transaction. It returns nil when there is nothing to run: no op is live,
// or the transaction cannot begin, and then every live op has the error.
func (b *batchRun) begin() *tx {
	for i, o := range b.batch {
		if b.results[i] = o.ctx.Err(); b.results[i] == nil {
			b.live++
		}
	}
	if b.live == 0 {
		return nil
	}
	ctx := context.Background() // never an op's: interrupting a statement could roll the whole batch back
	sqlTx, err := b.s.wdb.BeginTx(ctx, nil)
	if err != nil {
		err = unavailable("begin", mapErr(err))
		b.s.log.Error("sqlite: cannot begin a write transaction", "err", err, "batch", len(b.batch))
		for i := range b.batch {
			if b.results[i] == nil {
				b.results[i] = err
			}
		}
		return nil
	}
	return &tx{ctx: ctx, tx: sqlTx, stmts: make(map[*stmt]*sql.Stmt), unprepared: &b.s.unprepared}
}

// runOne runs op i, batch[i], unless its context has ended (before the run
// began or while earlier ops ran), under a savepoint if b.savepoints.
func (b *batchRun) runOne(t *tx, i int, o *op) opStep {
	if b.results[i] != nil || b.pending[i] { // refused, or run in a group
		return opNext
	}
	if b.results[i] = o.ctx.Err(); b.results[i] != nil { // ended while earlier ops ran
		return opNext
	}
	if b.savepoints {
		if _, err := t.exec(b.s.w.savepoint); err != nil {
			b.abort(t, i, err)
			return opAborted
		}
	}
	logged := len(t.events) // what undo's rollback to the savepoint unlogs
	err := runOp(o.fn, t)
	var keep *commitAnyway
	var clean *unwritten
	switch {
	case err == nil || errors.As(err, &keep):
		if keep != nil {
			err = keep.err
		}
		return b.keep(t, i, err)
	case errors.As(err, &clean) && !b.savepoints:
		b.results[i] = mapErr(clean.err) // nothing to undo
		return opNext
	}
	t.events = t.events[:logged]
	return b.undo(t, i, err)
}

// runGroups runs each kind of grouped op that two or more live ops of the
// batch share, on the kind's shared statements, before the batch's other
// ops. It returns opRerun, having rolled back, when a group's run failed:
// the batch must run again, each op alone under a savepoint. (A group
// always has another live op beside the one that failed, as undo needs.)
func (b *batchRun) runGroups(t *tx) opStep {
	var kinds [numGroupKinds][]int
	for i, o := range b.batch {
		if o.group != nil && b.results[i] == nil {
			k := o.group.groupKind()
			kinds[k] = append(kinds[k], i)
		}
	}
	for k, idx := range kinds {
		if len(idx) < 2 {
			continue // as cheap alone
		}
		errs := make([]error, len(idx))
		err := b.s.runGroup(t, groupKind(k), b.batch, idx, errs)
		for _, e := range errs {
			var clean *unwritten
			var keep *commitAnyway
			if err == nil && e != nil && !errors.As(e, &clean) && !errors.As(e, &keep) {
				err = e // an op's failure after it wrote: only savepoints can undo it alone
			}
		}
		if err != nil {
			b.s.log.Debug("sqlite: a group of writes failed; running them one by one", "err", err, "ops", len(idx))
			t.tx.Rollback() //nolint:errcheck // run again with savepoints
			return opRerun
		}
		for j, i := range idx {
			var clean *unwritten
			if errors.As(errs[j], &clean) {
				b.results[i] = mapErr(clean.err)
				continue
			}
			var keep *commitAnyway
			if errors.As(errs[j], &keep) {
				b.results[i] = keep.err // its answer once the batch commits
			}
			b.pending[i] = true
			b.n++
			b.grouped++
		}
	}
	return opNext
}

// keep releases the savepoint of op i, if any, and marks its writes
// pending: err, nil or a commitAnyway's error, is its result if the batch
// commits.
func (b *batchRun) keep(t *tx, i int, err error) opStep {
	if b.savepoints {
		if _, rerr := t.exec(b.s.w.release); rerr != nil {
			b.abort(t, i, rerr)
			return opAborted
		}
	}
	b.results[i], b.pending[i] = err, true
	b.n++
	return opNext
}

// undo sets the result of op i, which failed with err after it may have
// written, and undoes its writes: with savepoints, by rolling back to its
// own; without, by rolling the transaction back for a rerun, unless the op
// is the run's only live one, whose writes finish rolls back.
func (b *batchRun) undo(t *tx, i int, err error) opStep {
	if p, ok := err.(*opPanic); ok {
		b.s.log.Error("sqlite: store op panicked; rolled back", "panic", p.value)
	}
	var clean *unwritten
	if errors.As(err, &clean) {
		err = clean.err
	}
	b.results[i] = mapErr(err)
	if !b.savepoints {
		if b.live > 1 {
			t.tx.Rollback() //nolint:errcheck // run again with savepoints
			return opRerun
		}
		return opNext // the only op: rolled back by finish, as n == 0
	}
	if _, rerr := t.exec(b.s.w.rollbackTo); rerr != nil {
		b.abort(t, i+1, rerr)
		return opAborted
	}
	if _, rerr := t.exec(b.s.w.release); rerr != nil {
		b.abort(t, i+1, rerr)
		return opAborted
	}
	return opNext
}

// abort gives up the transaction after a savepoint failed, which means
// SQLite rolled the transaction back already (I/O error, disk full):
// nothing of this batch can commit. The pending ops, and every op from
// batch[from] on, get err, marked unavailable.
func (b *batchRun) abort(t *tx, from int, err error) {
	t.tx.Rollback() //nolint:errcheck // the transaction may be gone already
	err = unavailable("batch aborted", mapErr(err))
	b.s.log.Error("sqlite: write batch aborted", "err", err, "batch", len(b.batch))
	for i := range b.batch {
		if b.pending[i] || i >= from {
			b.results[i] = err
		}
	}
}

// finish commits the pending writes, or rolls back if there are none, and
// tells onCommit how many writes it made durable. If the COMMIT fails,
// every pending op gets its error, marked unavailable.
func (b *batchRun) finish(t *tx) {
	if b.n == 0 {
		t.tx.Rollback() //nolint:errcheck // nothing to keep
		return
	}
	if err := t.tx.Commit(); err != nil {
		err = unavailable("commit", mapErr(err))
		b.s.log.Error("sqlite: commit failed", "err", err, "batch", b.n)
		for i := range b.batch {
			if b.pending[i] {
				b.results[i] = err
			}
		}
		return
	}
	if b.grouped > 0 {
		b.s.groupedOps.Add(int64(b.grouped))
	}
	if b.s.onCommit != nil {
		b.s.onCommit(b.n)
	}
	if fn := b.s.onEvents.Load(); fn != nil && len(t.events) > 0 {
		// In the order of the log: a group's statement returns its rows
		// in no set order.
		slices.SortFunc(t.events, func(a, b store.Event) int { return cmp.Compare(a.Seq, b.Seq) })
		(*fn)(t.events)
	}
}

// runOp calls fn, turning a panic into an *opPanic.
func runOp(fn func(*tx) error, t *tx) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &opPanic{value: v, stack: debug.Stack()}
		}
	}()
	return fn(t)
}

// tx is the batch's transaction as an op sees it: it runs the store's
// statements, each bound to the transaction once per batch. A statement
// not yet prepared runs unprepared and, if unprepared is set, is queued
// there for the writer to prepare after the batch (see stmt).
type tx struct {
	ctx        context.Context
	tx         *sql.Tx
	stmts      map[*stmt]*sql.Stmt
	unprepared *[]*stmt
	// events are the revocation log's entries the transaction appended,
	// as the statements that appended them returned them: once the batch
	// commits, the writer hands them to the store's follower (OnEvents)
	// instead of the follower reading them back.
	events []store.Event
}

// logged records e, an entry of the revocation log the transaction
// appended. Every statement that appends to the log calls it for each row
// it returns.
func (t *tx) logged(e store.Event) { t.events = append(t.events, e) }

// stmt returns st bound to the transaction, or nil if st is not prepared.
func (t *tx) stmt(st *stmt) *sql.Stmt {
	if ts, ok := t.stmts[st]; ok {
		return ts
	}
	p := st.ready.Load()
	if p == nil {
		if t.unprepared != nil && !st.wanted {
			st.wanted = true
			*t.unprepared = append(*t.unprepared, st)
		}
		return nil
	}
	ts := t.tx.StmtContext(t.ctx, p)
	t.stmts[st] = ts
	return ts
}

func (t *tx) exec(st *stmt, args ...any) (sql.Result, error) {
	if ts := t.stmt(st); ts != nil {
		return ts.ExecContext(t.ctx, args...)
	}
	return t.tx.ExecContext(t.ctx, st.query, args...)
}

func (t *tx) query(st *stmt, args ...any) (*sql.Rows, error) {
	if ts := t.stmt(st); ts != nil {
		return ts.QueryContext(t.ctx, args...)
	}
	return t.tx.QueryContext(t.ctx, st.query, args...)
}

func (t *tx) queryRow(st *stmt, args ...any) *sql.Row {
	if ts := t.stmt(st); ts != nil {
		return ts.QueryRowContext(t.ctx, args...)
	}
	return t.tx.QueryRowContext(t.ctx, st.query, args...)
}
