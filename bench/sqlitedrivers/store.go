// Package sqlitedrivers runs tokend's hot SQLite statements on three
// drivers, to compare their CPU per op: see README.md. A Store here is the
// part of tokend's store (internal/store/sqlite) those statements need:
// the writer's one connection, a read pool, and the writer's batches as
// its goroutine runs them, without the goroutine.
package sqlitedrivers

import (
	"context"
	"database/sql"
	"fmt"
	"math/bits"
	"runtime"

	"github.com/tokend/tokend/bench/sqlitedrivers/driver/mattn"
	"github.com/tokend/tokend/bench/sqlitedrivers/driver/modernc"
	"github.com/tokend/tokend/bench/sqlitedrivers/driver/ncruces"
	"github.com/tokend/tokend/bench/sqlitedrivers/tokendsql"
)

// A Driver opens a database file as the store's writer (one connection)
// or as its read pool.
type Driver struct {
	Name string
	Open func(path string, writer bool) (*sql.DB, error)
}

// Drivers are the drivers compared, tokend's first.
var Drivers = []Driver{
	{"modernc", modernc.Open},
	{"mattn", mattn.Open},
	{"ncruces", ncruces.Open},
}

// Store is a database file opened with one driver as tokend opens it.
type Store struct {
	w, r *sql.DB
	st   stmts
}

// stmts are the prepared statements: the writer's one by one, its grouped
// ones in each chunk size (multi[k] takes 1<<k rows), the read pool's
// lookup.
type stmts struct {
	insertGrant, insertToken, lookupToken *sql.Stmt
	revokeEvents, revokeGrant             *sql.Stmt
	insertGrants, insertTokens            multi
	lookupTokens                          multi
	revokeEventsN, revokeGrants           multi
	readLookup                            *sql.Stmt
}

type multi [tokendsql.MaxChunkLog + 1]*sql.Stmt

// Open opens (creating it) the database at path with d, creates the
// schema and prepares the statements.
func Open(d Driver, path string) (*Store, error) {
	w, err := d.Open(path, true)
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	s := &Store{w: w}
	if _, err := w.Exec(tokendsql.Schema); err != nil {
		w.Close()
		return nil, fmt.Errorf("%s: schema: %w", d.Name, err)
	}
	if s.r, err = d.Open(path, false); err != nil {
		w.Close()
		return nil, err
	}
	readers := max(4, runtime.GOMAXPROCS(0))
	s.r.SetMaxOpenConns(readers)
	s.r.SetMaxIdleConns(readers)
	if err := s.prepare(); err != nil {
		s.Close()
		return nil, fmt.Errorf("%s: %w", d.Name, err)
	}
	return s, nil
}

func (s *Store) prepare() error {
	var errs []error
	prep := func(db *sql.DB, q string) *sql.Stmt {
		st, err := db.Prepare(q)
		errs = append(errs, err)
		return st
	}
	prepMulti := func(q func(int) string) (m multi) {
		for k := range m {
			m[k] = prep(s.w, q(1<<k))
		}
		return m
	}
	s.st = stmts{
		insertGrant:   prep(s.w, tokendsql.QInsertGrant),
		insertToken:   prep(s.w, tokendsql.QInsertToken),
		lookupToken:   prep(s.w, tokendsql.QLookupToken),
		revokeEvents:  prep(s.w, tokendsql.QRevokeEvents),
		revokeGrant:   prep(s.w, tokendsql.QRevokeGrant),
		insertGrants:  prepMulti(tokendsql.QInsertGrants),
		insertTokens:  prepMulti(tokendsql.QInsertTokens),
		lookupTokens:  prepMulti(tokendsql.QLookupTokens),
		revokeEventsN: prepMulti(tokendsql.QRevokeEventsN),
		revokeGrants:  prepMulti(tokendsql.QRevokeGrants),
		readLookup:    prep(s.r, tokendsql.QLookupToken),
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Close closes both pools (and so their statements).
func (s *Store) Close() error {
	err := s.r.Close()
	if werr := s.w.Close(); err == nil {
		err = werr
	}
	return err
}

// Version returns the SQLite version the driver links.
func (s *Store) Version() (string, error) {
	var v string
	err := s.w.QueryRow(`SELECT sqlite_version()`).Scan(&v)
	return v, err
}

// Count returns the rows of table.
func (s *Store) Count(table string) (int, error) {
	var n int
	err := s.r.QueryRow(`SELECT count(*) FROM ` + table).Scan(&n)
	return n, err
}

// chunks is group.go's: fn runs consecutive chunks covering rows [0, n),
// rows [off, off+1<<k) on statement k.
func chunks(n int, fn func(k, off int) error) error {
	for off := 0; off < n; {
		k := min(bits.Len(uint(n-off))-1, tokendsql.MaxChunkLog)
		if err := fn(k, off); err != nil {
			return err
		}
		off += 1 << k
	}
	return nil
}

// tx is one of the writer's transactions: BEGIN IMMEDIATE (the DSN's
// _txlock), and each prepared statement bound to it once, as writer.go's
// tx does.
type tx struct {
	ctx   context.Context
	tx    *sql.Tx
	stmts map[*sql.Stmt]*sql.Stmt
}

func (s *Store) begin(ctx context.Context) (*tx, error) {
	t, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &tx{ctx: ctx, tx: t, stmts: make(map[*sql.Stmt]*sql.Stmt)}, nil
}

func (t *tx) stmt(st *sql.Stmt) *sql.Stmt {
	ts, ok := t.stmts[st]
	if !ok {
		ts = t.tx.StmtContext(t.ctx, st)
		t.stmts[st] = ts
	}
	return ts
}

func (t *tx) exec(st *sql.Stmt, args ...any) (sql.Result, error) {
	return t.stmt(st).ExecContext(t.ctx, args...)
}

func (t *tx) query(st *sql.Stmt, args ...any) (*sql.Rows, error) {
	return t.stmt(st).QueryContext(t.ctx, args...)
}

// commit commits t, or rolls it back when err is set.
func (t *tx) commit(err error) error {
	if err != nil {
		t.tx.Rollback() //nolint:errcheck // err says why
		return err
	}
	return t.tx.Commit()
}
