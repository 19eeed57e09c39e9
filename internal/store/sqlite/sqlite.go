package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/tokend/tokend/internal/store"
)

// Options tunes a Store. The zero value is usable.
type Options struct {
	// Logger receives the store's own messages (migrations applied, failed
	// commits); never a token or a secret. Nil discards them.
	Logger *slog.Logger
	// MaxBatch caps the number of writes committed in one transaction.
	// Zero means 256.
	MaxBatch int
	// OnCommit, if set, is called by the writer after each successful
	// commit with the number of writes it made durable, e.g. to feed a
	// histogram. It runs on the writer goroutine and must be quick.
	OnCommit func(batchSize int)
	// perOp turns off the writer's grouping of a batch's ops of one kind
	// onto shared statements (see runGroups): every op runs its own
	// statements, as before grouping. For the benchmarks' comparison.
	perOp bool
}

// writerCacheKiB bounds the page cache of the writer's connection (64 MiB),
// which SQLite's default of 2 MiB would leave too small for the indexes a
// revocation seeks in (see dsn).
const writerCacheKiB = 64 << 10

// walCheckpointPages is how many pages the WAL holds before a commit of the
// writer copies them into the database file (SQLite's automatic
// checkpoint, PASSIVE, run by the committing connection): 8000, about
// 32 MiB, where SQLite's default of 1000 had the writer checkpoint tens of
// times a second under load, copying again each time the pages that
// every commit changes (the tails of the tables and indexes, the grants
// being refreshed), with an fsync of the file each time: 8-9 % of the
// server's CPU under tokend-bench --ops refresh, 2 % at 8000.
const walCheckpointPages = 8000

// busyTimeout is how long a transaction waits for another process's
// writer (or a checkpoint) before giving up with store.ErrUnavailable. A
// variable for tests.
var busyTimeout = 5 * time.Second

// Store is a store.Store on one SQLite file. It is safe for concurrent use.
type Store struct {
	log      *slog.Logger
	maxBatch int
	onCommit func(int)
	perOp    bool
	// groupedOps counts the ops committed as part of a group.
	groupedOps atomic.Int64
	// onEvents is OnEvents's fn, nil until set.
	onEvents atomic.Pointer[func([]store.Event)]

	wdb *sql.DB // one connection, used by the writer goroutine only
	rdb *sql.DB // query_only connections for reads
	r   readStmts
	w   writeStmts
	g   groupStmts
	dev deviceStmts
	xch exchangeStmts
	all []*stmt // every statement, to close
	// unprepared: write statements the batch being committed ran
	// unprepared; the writer goroutine's only.
	unprepared []*stmt

	ops     chan *op
	mu      sync.RWMutex // guards closed against senders
	closed  bool
	senders sync.WaitGroup // callers between the closed check and the hand-off
	done    chan struct{}  // closed when the writer has returned

	closeOnce sync.Once
	closeErr  error
}

var (
	_ store.Store       = (*Store)(nil)
	_ store.Issuers     = (*Store)(nil)
	_ store.Maintenance = (*Store)(nil)
)

// Open opens the database file at path, creating it (readable by its owner
// only) if missing, applies pending migrations and starts the writer.
func Open(path string, opts Options) (*Store, error) {
	if path == "" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") || path == ":memory:" {
		return nil, fmt.Errorf("sqlite: unusable database path %q", path)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 256
	}
	// The file holds password and secret hashes: create it 0600 ourselves;
	// SQLite gives the -wal and -shm files the same mode.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	f.Close()

	ctx := context.Background()
	wdb, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)
	fail := func(err error, dbs ...*sql.DB) (*Store, error) {
		for _, db := range dbs {
			db.Close()
		}
		return nil, fmt.Errorf("sqlite: opening %s: %w", path, err)
	}
	var mode string
	if err := wdb.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fail(mapErr(err), wdb)
	}
	if !strings.EqualFold(mode, "wal") {
		opts.Logger.Warn("sqlite: WAL mode unavailable; readers and the writer will block each other", "path", path, "journal_mode", mode)
	}
	if err := migrate(ctx, wdb, opts.Logger); err != nil {
		return fail(mapErr(err), wdb)
	}

	rdb, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return fail(err, wdb)
	}
	readers := max(4, runtime.GOMAXPROCS(0))
	rdb.SetMaxOpenConns(readers)
	rdb.SetMaxIdleConns(readers)

	s := &Store{
		log:      opts.Logger,
		maxBatch: opts.MaxBatch,
		onCommit: opts.OnCommit,
		perOp:    opts.perOp,
		wdb:      wdb,
		rdb:      rdb,
		ops:      make(chan *op, opts.MaxBatch),
		done:     make(chan struct{}),
	}
	s.prepare()
	go s.run()
	return s, nil
}

// OnEvents has fn called with the entries of the revocation log that
// this store's writes append, once each batch of them has committed and
// before the writes are answered: every entry this process appends, in
// the log's order, exactly once. fn runs on the writer goroutine, which
// every write waits for, so it must be quick; it may keep the slice, which
// the writer does not reuse. A follower of the log (the feed's hub, Offer)
// learns of this process's revocations from fn without reading them back;
// the log's other writers (the CLI, another process on the same file) it
// still has to read. fn replaces any fn set before; nil stops the calls.
func (s *Store) OnEvents(fn func([]store.Event)) {
	if fn == nil {
		s.onEvents.Store(nil)
		return
	}
	s.onEvents.Store(&fn)
}

// dsn is the driver's name for path: pragmas every connection runs when it
// opens, and for the writer BEGIN IMMEDIATE, so that a transaction takes the
// write lock (waiting up to busy_timeout) before it reads, instead of
// failing with SQLITE_BUSY when it first writes.
func dsn(path string, writer bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	if writer {
		q.Add("_pragma", "journal_mode(wal)")
		// FULL: in WAL mode, NORMAL would let a power loss undo the last
		// commits; a nil error from a write means the commit is on disk.
		q.Add("_pragma", "synchronous(full)")
		// Each op's SAVEPOINT keeps a statement journal of the pages it
		// changes; in memory, not in a temporary file.
		q.Add("_pragma", "temp_store(memory)")
		// The writer is the one thread every write waits for: with
		// SQLite's default 2 MiB of page cache, a revocation's index seeks
		// read pages back from the file at every commit, a large part of
		// its CPU. The cache grows only as pages are used.
		q.Add("_pragma", fmt.Sprintf("cache_size(%d)", -writerCacheKiB))
		q.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", walCheckpointPages))
		q.Set("_txlock", "immediate")
	} else {
		q.Add("_pragma", "query_only(1)")
	}
	return path + "?" + q.Encode()
}

// preparer makes the statements of one pool, each prepared when first
// needed (see stmt).
type preparer struct {
	s  *Store
	db *sql.DB
}

func (p *preparer) prep(query string) *stmt {
	return p.s.newStmt(p.db, query)
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return errClosed
	}
	var one int
	return mapErr(s.rdb.QueryRowContext(ctx, "SELECT 1").Scan(&one))
}

// Close stops accepting writes, lets the writer commit the writes already
// handed to it, then closes both pools. It may be called more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.senders.Wait() // no send on s.ops after this
		close(s.ops)
		<-s.done
		var errs []error
		for _, st := range s.all {
			errs = append(errs, st.close())
		}
		errs = append(errs, s.rdb.Close(), s.wdb.Close())
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

var errClosed = fmt.Errorf("%w: sqlite store closed", store.ErrUnavailable)

// mapErr translates driver errors into the store's: unique and primary key
// violations into store.ErrAlreadyExists, and errors that say the database
// cannot do its job (locked, I/O, full, corrupt, ...) into
// store.ErrUnavailable. Other errors, context errors among them, pass as
// they are.
func mapErr(err error) error {
	var se *sqlite.Error
	if err == nil || !errors.As(err, &se) {
		return err
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
		return fmt.Errorf("%w: %w", store.ErrAlreadyExists, err)
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL,
		sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PROTOCOL,
		sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_NOLFS, sqlite3.SQLITE_AUTH:
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}

// unavailable marks err, which kept a batch from committing, as
// store.ErrUnavailable.
func unavailable(what string, err error) error {
	if errors.Is(err, store.ErrUnavailable) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%w: %s: %w", store.ErrUnavailable, what, err)
}
