package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/store/migration"
	"github.com/tokend/tokend/internal/store/storetest"
)

// The tests run against the PostgreSQL at TOKEND_TEST_POSTGRES_DSN, each
// in a fresh schema dropped when it ends (the conformance suite's in a
// migrated one from a schemaPool, reset when it ends). Without a reachable server they
// skip, unless TOKEND_REQUIRE_POSTGRES=1 (as in CI), where they fail.
const defaultTestDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

func testDSN() string {
	if dsn := os.Getenv("TOKEND_TEST_POSTGRES_DSN"); dsn != "" {
		return dsn
	}
	return defaultTestDSN
}

var (
	reachOnce sync.Once
	reachErr  error
)

// needPostgres skips t, or fails it if TOKEND_REQUIRE_POSTGRES=1, when the
// test server cannot be reached.
func needPostgres(t testing.TB) {
	t.Helper()
	reachOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, testDSN())
		if err != nil {
			reachErr = err
			return
		}
		reachErr = conn.Ping(ctx)
		conn.Close(ctx)
	})
	if reachErr == nil {
		return
	}
	if os.Getenv("TOKEND_REQUIRE_POSTGRES") == "1" {
		t.Fatalf("PostgreSQL at TOKEND_TEST_POSTGRES_DSN (or %s) is required but unreachable: %v", defaultTestDSN, reachErr)
	}
	t.Skipf("PostgreSQL unreachable (set TOKEND_TEST_POSTGRES_DSN; TOKEND_REQUIRE_POSTGRES=1 fails instead): %v", reachErr)
}

// freshSchema returns the name of a schema that does not exist yet, and
// drops it, whatever it holds, when t ends.
func freshSchema(t testing.TB) string {
	t.Helper()
	needPostgres(t)
	name := "tokend_test_" + strings.ToLower(rand.Text()[:12])
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, testDSN())
		if err != nil {
			t.Errorf("dropping schema %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{name}.Sanitize()+` CASCADE`); err != nil {
			t.Errorf("dropping schema %s: %v", name, err)
		}
	})
	return name
}

// openTest opens the store in schema (a fresh one if "") and closes it
// when t ends.
func openTest(t testing.TB, schema string, opts Options) *Store {
	t.Helper()
	if schema == "" {
		schema = freshSchema(t)
	}
	opts.Schema = schema
	if opts.MaxConns == 0 {
		opts.MaxConns = 8 // many tests run at once against max_connections=100
	}
	s, err := Open(context.Background(), testDSN(), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	needPostgres(t)
	pool := newSchemaPool(t)
	storetest.Run(t, func(st *testing.T) store.Store { return openTest(st, pool.take(st, t), Options{}) })
}

var (
	epoch = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	rev   = store.Revocation{Time: epoch.Add(time.Minute), Reason: store.ReasonAdmin, Actor: "admin"}
)

func grant(id string) (store.Grant, []store.Token) {
	g := store.Grant{ID: id, ClientID: "c1", Subject: "u1", Username: "alice", Scope: "openid",
		CreatedAt: epoch, ExpiresAt: epoch.Add(24 * time.Hour)}
	return g, []store.Token{
		{Hash: store.HashToken(id + "/a"), Kind: store.AccessToken, GrantID: id, IssuedAt: epoch, ExpiresAt: epoch.Add(time.Hour)},
		{Hash: store.HashToken(id + "/r"), Kind: store.RefreshToken, GrantID: id, IssuedAt: epoch, ExpiresAt: epoch.Add(24 * time.Hour)},
	}
}

// logCounter is a slog.Handler that counts the records with a message.
type logCounter struct {
	msg string
	n   *atomic.Int64
}

func (h logCounter) Enabled(context.Context, slog.Level) bool { return true }
func (h logCounter) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.n.Add(1)
	}
	return nil
}
func (h logCounter) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h logCounter) WithGroup(string) slog.Handler      { return h }

// Several tokend processes start at once against one new database: every
// Open succeeds, and each migration is applied exactly once.
func TestConcurrentOpen(t *testing.T) {
	schema := freshSchema(t)
	ms, err := migration.Load(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	var applied atomic.Int64
	log := slog.New(logCounter{msg: "applied schema migration", n: &applied})
	const n = 5
	stores := make([]*Store, n)
	errs := make([]error, n)
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(n)
	for i := range n {
		done.Go(func() {
			ready.Done()
			<-start
			stores[i], errs[i] = Open(t.Context(), testDSN(), Options{Schema: schema, Logger: log, MaxConns: 2})
		})
	}
	ready.Wait()
	close(start)
	done.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
			continue
		}
		t.Cleanup(func() { stores[i].Close() })
	}
	if t.Failed() {
		return
	}
	if got := applied.Load(); got != int64(len(ms)) {
		t.Errorf("%d migrations applied; want %d", got, len(ms))
	}
	var versions []int
	rows, err := stores[0].pool.Query(t.Context(), `SELECT version FROM schema_migrations ORDER BY version`)
	if err == nil {
		versions, err = pgx.CollectRows(rows, pgx.RowTo[int])
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(versions) != len(ms) || versions[len(versions)-1] != len(ms) {
		t.Errorf("schema_migrations holds versions %v; want 1 to %d", versions, len(ms))
	}
	// Every store works on the one schema.
	for i, s := range stores {
		g, toks := grant(fmt.Sprint("g", i))
		if err := s.CreateGrant(t.Context(), g, toks); err != nil {
			t.Errorf("CreateGrant on store %d: %v", i, err)
		}
	}
	if st, err := stores[0].Stats(t.Context(), epoch); err != nil || st.LiveGrants != n {
		t.Errorf("Stats = %+v, %v; want %d live grants", st, err, n)
	}
}

func TestReopen(t *testing.T) {
	schema := freshSchema(t)
	s, err := Open(t.Context(), testDSN(), Options{Schema: schema})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	g, toks := grant("g1")
	if err := s.CreateGrant(t.Context(), g, toks); err != nil {
		t.Fatalf("CreateGrant: %v", err)
	}
	if err := s.CreateClient(t.Context(), store.Client{ID: "c1", Name: "one"}); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	res, err := s.RevokeGrant(t.Context(), "g1", rev)
	if err != nil {
		t.Fatalf("RevokeGrant: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.CreateClient(t.Context(), store.Client{ID: "c2"}); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("CreateClient after Close = %v; want ErrUnavailable", err)
	}
	if _, err := s.LookupToken(t.Context(), toks[0].Hash); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("LookupToken after Close = %v; want ErrUnavailable", err)
	}
	if err := s.Ping(t.Context()); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Ping after Close = %v; want ErrUnavailable", err)
	}

	s = openTest(t, schema, Options{})
	if c, err := s.GetClient(t.Context(), "c1"); err != nil || c.Name != "one" {
		t.Errorf("GetClient after reopen = %+v, %v", c, err)
	}
	rec, err := s.LookupToken(t.Context(), toks[1].Hash)
	if err != nil || !rec.Revoked || !rec.RevokedAt.Equal(rev.Time) {
		t.Errorf("LookupToken after reopen = %+v, %v; want revoked at %v", rec, err, rev.Time)
	}
	evs, err := s.Events(t.Context(), 0, 10)
	if err != nil || len(evs) != 1 || evs[0].Seq != res.Seq {
		t.Errorf("Events after reopen = %+v, %v; want one event, Seq %d", evs, err, res.Seq)
	}
	// Seq numbers are never reused, even once the log is emptied.
	g2, toks2 := grant("g2")
	if err := s.CreateGrant(t.Context(), g2, toks2); err != nil {
		t.Fatalf("CreateGrant: %v", err)
	}
	if n, err := s.DeleteEventsBefore(t.Context(), epoch.Add(25*time.Hour), 100); err != nil || n != 1 { // after its tokens expired
		t.Fatalf("DeleteEventsBefore = %d, %v; want 1", n, err)
	}
	if res2, err := s.RevokeGrant(t.Context(), "g2", rev); err != nil || res2.Seq <= res.Seq {
		t.Errorf("RevokeGrant after emptying the log = %+v, %v; want Seq > %d", res2, err, res.Seq)
	}
}

// A schema migrated by a newer tokend is refused, not downgraded.
func TestNewerSchema(t *testing.T) {
	schema := freshSchema(t)
	s := openTest(t, schema, Options{})
	if _, err := s.pool.Exec(t.Context(), `INSERT INTO schema_migrations (version, name) VALUES (1000, '1000_future.sql')`); err != nil {
		t.Fatal(err)
	}
	if s2, err := Open(t.Context(), testDSN(), Options{Schema: schema}); err == nil || !strings.Contains(err.Error(), "newer") {
		if s2 != nil {
			s2.Close()
		}
		t.Errorf("Open of a newer schema = %v; want an error saying it is newer", err)
	}
}

// A server that cannot be reached gives ErrUnavailable, quickly.
func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: connections are refused
	dsn := fmt.Sprintf("postgres://postgres@%s/test?sslmode=disable&connect_timeout=2", addr)
	start := time.Now()
	s, err := Open(t.Context(), dsn, Options{})
	if err == nil {
		s.Close()
		t.Fatal("Open of a closed port succeeded")
	}
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Open of a closed port = %v; want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Open took %v to fail", d)
	}
	if strings.Contains(err.Error(), "password") {
		t.Errorf("error mentions a password: %v", err)
	}
}

// A connection that the server ends (administrator shutdown, failover,
// idle timeout) fails the call it was serving with ErrUnavailable, never a
// false success, and the store recovers on a new connection.
func TestTerminatedConnection(t *testing.T) {
	schema := freshSchema(t)
	// The DSN's application_name is kept: it names this store's one
	// connection, so that only it is terminated.
	app := "tokend-test-" + strings.ToLower(rand.Text()[:8])
	sep := "?"
	if strings.Contains(testDSN(), "?") {
		sep = "&"
	}
	s, err := Open(t.Context(), testDSN()+sep+"application_name="+app, Options{Schema: schema, MaxConns: 1})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	for i := range 3 {
		g, toks := grant(fmt.Sprint("g", i))
		if err := s.CreateGrant(t.Context(), g, toks); err != nil {
			t.Fatalf("CreateGrant: %v", err)
		}
	}

	admin, err := pgx.Connect(t.Context(), testDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	terminate := func() {
		t.Helper()
		var n int
		err := admin.QueryRow(t.Context(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&n)
		if err != nil || n != 1 {
			t.Fatalf("terminating the store's connection: %d, %v", n, err)
		}
		time.Sleep(50 * time.Millisecond) // let the FATAL reach the client socket
	}

	for _, c := range []struct {
		name string
		call func() error
	}{
		{"RevokeGrant", func() error { _, err := s.RevokeGrant(t.Context(), "g0", rev); return err }},
		{"RotateRefresh", func() error {
			_, err := s.RotateRefresh(t.Context(), store.HashToken("g1/r"), epoch.Add(time.Minute), nil, rev)
			return err
		}},
		{"LookupToken", func() error { _, err := s.LookupToken(t.Context(), store.HashToken("g2/a")); return err }},
	} {
		terminate()
		if err := c.call(); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s on a terminated connection = %v; want ErrUnavailable", c.name, err)
		}
		if err := s.Ping(t.Context()); err != nil {
			t.Errorf("Ping after the %s failure: %v", c.name, err)
		}
		if err := c.call(); err != nil {
			t.Errorf("%s on a new connection: %v", c.name, err)
		}
	}
}

// schema returns the schema that s's tables are in.
func (s *Store) schema(t testing.TB) string {
	t.Helper()
	var name string
	if err := s.pool.QueryRow(context.Background(), `SELECT current_schema()`).Scan(&name); err != nil {
		t.Fatal(err)
	}
	return name
}

// openWithSettings opens a second store on s's schema, through the test
// DSN with param added: settings a server or its DSN would give the
// sessions. It is closed when t ends.
func openWithSettings(t *testing.T, s *Store, param string) *Store {
	t.Helper()
	dsn := testDSN()
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	s2, err := Open(t.Context(), dsn+sep+param, Options{Schema: s.schema(t), MaxConns: 2})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s2.Close() })
	return s2
}

// The store keeps commits durable on a server whose sessions start with
// synchronous_commit=off.
func TestSynchronousCommit(t *testing.T) {
	s := openTest(t, "", Options{})
	s2 := openWithSettings(t, s, "options=-c%20synchronous_commit%3Doff")
	var got string
	if err := s2.pool.QueryRow(t.Context(), `SHOW synchronous_commit`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != "on" {
		t.Errorf("synchronous_commit = %q; want on", got)
	}
}

// The store's statements are never JIT-compiled, even on a server that
// would compile every statement: a revocation's cascade, estimated costly
// on a large grants table, spent seconds compiling at each execution.
func TestNoJITCompilation(t *testing.T) {
	s := openTest(t, "", Options{})
	createNamed(t, s, "g1")
	s2 := openWithSettings(t, s, "options=-c%20jit_above_cost%3D0%20-c%20jit_inline_above_cost%3D0%20-c%20jit_optimize_above_cost%3D0")
	var plan string
	q := `EXPLAIN (ANALYZE, FORMAT TEXT) ` + cascadeSQL("g.id = $4")
	rows, err := s2.pool.Query(t.Context(), q, time.Now(), "r", "a", "g1")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan += line + "\n"
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan, "Recursive Union") || strings.Contains(plan, "JIT") {
		t.Errorf("the cascade's plan, with every statement worth compiling:\n%s", plan)
	}
	if _, err := s2.RevokeGrant(t.Context(), "g1", rev); err != nil {
		t.Fatal(err)
	}
}

// TestRevocationAndEventAreOneTransaction: a trigger makes the insert into
// the log fail, as a crash between the two writes would.
func TestRevocationAndEventAreOneTransaction(t *testing.T) {
	schema := freshSchema(t)
	s := openTest(t, schema, Options{})
	id := pgx.Identifier{schema}.Sanitize()
	exec := func(qs ...string) func(t *testing.T) {
		return func(t *testing.T) {
			for _, q := range qs {
				if _, err := s.pool.Exec(t.Context(), q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
		}
	}
	storetest.RevocationIsAtomic(t, s,
		exec(`CREATE FUNCTION `+id+`.refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the log refuses'; END $$`,
			`CREATE TRIGGER refuse_events BEFORE INSERT ON `+id+`.revocation_events FOR EACH ROW EXECUTE FUNCTION `+id+`.refuse()`),
		exec(`DROP TRIGGER refuse_events ON `+id+`.revocation_events`))
}
