package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tokend/tokend/internal/store"
)

// Options tunes a Store. The zero value is usable.
type Options struct {
	// Logger receives the store's own messages (migrations applied, a
	// server whose synchronous_commit was off); never a token or a secret.
	// Nil discards them.
	Logger *slog.Logger
	// MaxConns caps the connections of the pool. Zero means the DSN's
	// pool_max_conns, or else 16.
	MaxConns int32
	// Schema, if set, is the schema that holds tokend's tables: Open creates
	// it if missing and sets it as the connections' search_path. Tests use
	// a fresh one each so they do not collide. Empty means the DSN's or the
	// server's search_path (normally public).
	Schema string
}

// defaultMaxConns is the pool size when neither Options nor the DSN set
// one: enough connections in flight for PostgreSQL's group commit to make
// many revocations durable with one WAL flush.
const defaultMaxConns = 16

// defaultConnectTimeout bounds a connection attempt when the DSN sets no
// connect_timeout, so that an unreachable server gives ErrUnavailable
// rather than a request that hangs until its deadline.
const defaultConnectTimeout = 10 * time.Second

// Store is a store.Store on a PostgreSQL database, shared by any number of
// tokend processes. It is safe for concurrent use.
type Store struct {
	log    *slog.Logger
	pool   *pgxpool.Pool
	closed atomic.Bool
	// eventsLock is the key of the advisory lock that appends to the
	// revocation log take, shared, and a reader exclusively when the
	// safe-read horizon is held back (horizon.go) or when it is of an
	// older tokend version sharing the database.
	eventsLock lockKey

	// Notifications to other instances (notify.go).
	notifyOnce sync.Once
	notifyCh   chan struct{}
	stop       chan struct{} // closed by Close

	// The group-commit writer (group.go), started by the first grouped
	// write; groupWriters and groupHold are set by tests only: the number
	// of writers, if not groupWriters, and a call a writer makes when it
	// has taken the first op of a group, before it takes the others.
	groupOnce    sync.Once
	groupOps     chan *groupOp
	groupWriters int
	groupHold    func()
}

var (
	_ store.Store       = (*Store)(nil)
	_ store.Issuers     = (*Store)(nil)
	_ store.Maintenance = (*Store)(nil)
)

// lockKey is the two-int key of a PostgreSQL advisory lock. Advisory locks
// belong to the database, not to a schema, so the second half is a hash
// of the schema's name: stores in different schemas of one database do not
// wait for each other.
type lockKey struct{ class, schema int32 }

// The classes of tokend's advisory locks.
const (
	lockMigrate int32 = 0x746b6401 // "tkd" 1: applying migrations
	lockEvents  int32 = 0x746b6402 // "tkd" 2: appending to the revocation log (readers wait for it when the horizon is held back)
)

func newLockKey(class int32, schema string) lockKey {
	h := fnv.New32a()
	h.Write([]byte(schema))
	return lockKey{class: class, schema: int32(h.Sum32())}
}

// Open connects to the database at dsn (a postgres:// URL or a key=value
// string, as libpq takes), applies the pending migrations and returns the
// store. If the server cannot be reached the error wraps
// store.ErrUnavailable.
//
// Several processes may Open one database at once: migrations run under an
// advisory lock, each in one transaction, and exactly one process applies
// each.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The error text masks the DSN's password.
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	} else if !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = defaultMaxConns
	}
	cc := cfg.ConnConfig
	if cc.ConnectTimeout == 0 {
		cc.ConnectTimeout = defaultConnectTimeout
	}
	if _, ok := cc.RuntimeParams["application_name"]; !ok {
		cc.RuntimeParams["application_name"] = "tokend"
	}
	// No JIT compilation: tokend's statements are short, and PostgreSQL
	// compiles a statement with LLVM at each execution once its estimated
	// cost passes jit_above_cost. A revocation's cascade (a recursive walk
	// of the exchanged grants, estimated high whatever it finds) passes it
	// once grants has a few hundred thousand rows, and each revocation then
	// spent seconds compiling: 2 revocations a second where there were a
	// thousand. A DSN that sets jit keeps its own.
	if _, ok := cc.RuntimeParams["jit"]; !ok {
		cc.RuntimeParams["jit"] = "off"
	}
	if opts.Schema != "" {
		// The schema need not exist yet: PostgreSQL skips a missing schema
		// in the search_path, and migrate creates it.
		cc.RuntimeParams["search_path"] = pgx.Identifier{opts.Schema}.Sanitize()
	}
	// A nil error from a write promises that the write is durable. A server
	// configured with synchronous_commit=off would break that promise
	// silently, so tokend's sessions turn it back on; stronger settings
	// (remote_write, remote_apply for synchronous replicas) are kept.
	var warned atomic.Bool
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		var was string
		err := c.QueryRow(ctx, `SELECT current_setting('synchronous_commit'),
			CASE WHEN current_setting('synchronous_commit') = 'off'
			THEN set_config('synchronous_commit', 'on', false) END`).Scan(&was, nil)
		if err == nil && was == "off" && warned.CompareAndSwap(false, true) {
			opts.Logger.Warn("postgres: the server has synchronous_commit=off; tokend's sessions turn it on")
		}
		return err
	}

	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s := &Store{log: opts.Logger, pool: pool, stop: make(chan struct{})}
	schema, err := s.migrate(ctx, opts.Schema)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: opening the database: %w", s.mapErr(ctx, err))
	}
	s.eventsLock = newLockKey(lockEvents, schema)
	return s, nil
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return errClosed
	}
	return s.mapErr(ctx, s.pool.Ping(ctx))
}

// Close closes the pool's connections, waiting for the calls in progress
// to return theirs. It may be called more than once.
func (s *Store) Close() error {
	if s.closed.CompareAndSwap(false, true) {
		close(s.stop)
		s.pool.Close()
	}
	return nil
}

var errClosed = fmt.Errorf("%w: postgres store closed", store.ErrUnavailable)

// mapErr translates an error of pgx into the store's:
//
//   - a unique violation is store.ErrAlreadyExists;
//   - the caller's own cancellation or deadline passes as it is (callers
//     compare with errors.Is);
//   - an error that says the server is out of reach or out of service
//     (connection refused, reset or timed out; shutdown; too many
//     connections; out of disk; a deadlock or serialization failure that
//     aborted the transaction) is store.ErrUnavailable. So is a commit whose
//     answer never came: its outcome is unknown, and the caller must not
//     report success.
//
// Other errors (a check constraint, a bug in a query) pass as they are.
func (s *Store) mapErr(ctx context.Context, err error) error {
	if err == nil || errors.Is(err, store.ErrUnavailable) {
		return err
	}
	if s.closed.Load() {
		return fmt.Errorf("%w: %w", errClosed, err)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "23505": // unique_violation
			return fmt.Errorf("%w: %w", store.ErrAlreadyExists, err)
		case pe.Code == "57014" && ctx.Err() != nil: // query_canceled, by our context
			return ctx.Err()
		case unavailableCode(pe.Code):
			return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
		}
		return err
	}
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return err
	}
	var ne net.Error
	var ce *pgconn.ConnectError
	if errors.As(err, &ne) || errors.As(err, &ce) || pgconn.Timeout(err) || pgconn.SafeToRetry(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}

// unavailableCode reports whether a server error with SQLSTATE code means
// that the server could not do the work now, though it might later.
func unavailableCode(code string) bool {
	switch code {
	case "40001", // serialization_failure
		"40P01", // deadlock_detected
		"55P03", // lock_not_available (lock_timeout)
		"57014", // query_canceled (statement_timeout)
		"25006", // read_only_sql_transaction (a standby, or a primary demoted)
		"XX000": // internal_error
		return true
	}
	switch code[:2] {
	case "08", // connection exception
		"53", // insufficient resources: disk full, out of memory, too many connections
		"57", // operator intervention: admin shutdown, crash shutdown, cannot connect now
		"58": // system error: I/O
		return true
	}
	return false
}

// notFound is mapErr that also turns pgx.ErrNoRows into store.ErrNotFound,
// saying what was missing.
func (s *Store) notFound(ctx context.Context, err error, what string) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return s.mapErr(ctx, err)
}
