package sqlite

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
)

// A stmt is one of the store's statements, prepared on its pool when it is
// first needed rather than at Open. Preparing all of them (the shared
// statements alone are 35, some of 64 rows) was most of what opening a
// store cost, and a store runs few of them in its first minutes, some
// (a 64-row group, a rare revocation) never. Once prepared, a statement
// runs as a *sql.Stmt did before: the hot paths parse no SQL.
//
// A read statement is prepared by its first caller, under mu, so that
// concurrent first reads prepare it once. A write statement runs inside
// the writer's transaction, which holds the writer's only connection, so
// it cannot be prepared there: its first run parses it in the
// transaction, and the writer prepares it after that batch (see
// Store.prepareUnprepared). Only the writer goroutine prepares write
// statements.
type stmt struct {
	db    *sql.DB
	query string
	ready atomic.Pointer[sql.Stmt] // nil until prepared

	mu     sync.Mutex // serialises preparing a read statement, and Close
	closed bool       // under mu: the store is closed, prepare no more
	// wanted: queued for the writer to prepare after its batch. The
	// writer goroutine's only.
	wanted bool
}

// newStmt registers a statement of db, not yet prepared.
func (s *Store) newStmt(db *sql.DB, query string) *stmt {
	st := &stmt{db: db, query: query}
	s.all = append(s.all, st)
	return st
}

// prepared returns the statement prepared on its pool, preparing it if
// needed, or nil if it cannot be prepared: the caller runs the query
// unprepared instead, which reports the same error (a context ended, the
// store closed) or, if the failure was passing, answers.
func (st *stmt) prepared(ctx context.Context) *sql.Stmt {
	if p := st.ready.Load(); p != nil {
		return p
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if p := st.ready.Load(); p != nil || st.closed {
		return p
	}
	p, err := st.db.PrepareContext(ctx, st.query)
	if err != nil {
		return nil
	}
	st.ready.Store(p)
	return p
}

// QueryRowContext runs a read statement on the read pool.
func (st *stmt) QueryRowContext(ctx context.Context, args ...any) *sql.Row {
	if p := st.prepared(ctx); p != nil {
		return p.QueryRowContext(ctx, args...)
	}
	return st.db.QueryRowContext(ctx, st.query, args...)
}

// QueryContext runs a read statement on the read pool.
func (st *stmt) QueryContext(ctx context.Context, args ...any) (*sql.Rows, error) {
	if p := st.prepared(ctx); p != nil {
		return p.QueryContext(ctx, args...)
	}
	return st.db.QueryContext(ctx, st.query, args...)
}

// close closes the statement if it was prepared, and keeps it from being
// prepared again.
func (st *stmt) close() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.closed = true
	if p := st.ready.Swap(nil); p != nil {
		return p.Close()
	}
	return nil
}

// prepareUnprepared prepares the write statements that the last batch ran
// unprepared, now that the writer's connection is free. One that fails to
// prepare runs unprepared again the next time, and is tried again after.
func (s *Store) prepareUnprepared() {
	for _, st := range s.unprepared {
		st.wanted = false
		st.prepared(context.Background())
	}
	clear(s.unprepared)
	s.unprepared = s.unprepared[:0]
}
