package sqlite

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/store/migration"
	"github.com/tokend/tokend/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openMigrated(t, Options{}) })
}

// template is a database file with every migration applied, made once per
// test process by Open: the conformance suite and most tests here want a
// new, migrated store, and applying the migrations was most of what each
// cost under the race detector. The migrations themselves are tested from
// scratch by TestMigrations, TestReopen, TestFileMode and the migration tests.
var template struct {
	once sync.Once
	db   []byte
	err  error
}

// openMigrated opens a new store on a copy of template; it is a real
// SQLite file, and Open's migration check finds nothing to apply.
func openMigrated(t testing.TB, opts Options) *Store {
	t.Helper()
	template.once.Do(func() {
		dir, err := os.MkdirTemp("", "tokend-sqlite-template-")
		if err != nil {
			template.err = err
			return
		}
		defer os.RemoveAll(dir)
		p := filepath.Join(dir, "tokend.db")
		s, err := Open(p, Options{})
		if err != nil {
			template.err = err
			return
		}
		// Closing checkpoints the WAL into the file, and removes it.
		if template.err = s.Close(); template.err == nil {
			template.db, template.err = os.ReadFile(p)
		}
	})
	if template.err != nil {
		t.Fatalf("the migrated template database: %v", template.err)
	}
	path := filepath.Join(t.TempDir(), "tokend.db")
	if err := os.WriteFile(path, template.db, 0o600); err != nil {
		t.Fatal(err)
	}
	return openTest(t, path, opts)
}

// openTest opens path and closes the store when t ends.
func openTest(t testing.TB, path string, opts Options) *Store {
	t.Helper()
	s, err := Open(path, opts)
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

func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokend.db")
	s, err := Open(path, Options{})
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
	first, err := s.ReserveStatusIndexes(t.Context(), 100)
	if err != nil {
		t.Fatalf("ReserveStatusIndexes: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.CreateClient(t.Context(), store.Client{ID: "c2"}); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("CreateClient after Close = %v; want ErrUnavailable", err)
	}
	if err := s.Ping(t.Context()); err == nil {
		t.Error("Ping after Close = nil; want an error")
	}

	s = openTest(t, path, Options{})
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
	// Status list indexes reserved before are not handed out again.
	if next, err := s.ReserveStatusIndexes(t.Context(), 1); err != nil || next < first+100 {
		t.Errorf("ReserveStatusIndexes after reopen = %d, %v; want %d or more", next, err, first+100)
	}
	// Seq numbers are never reused, even once the log is emptied.
	g2, toks2 := grant("g2")
	if err := s.CreateGrant(t.Context(), g2, toks2); err != nil {
		t.Fatalf("CreateGrant: %v", err)
	}
	if _, err := s.wdb.Exec(`DELETE FROM revocation_events`); err != nil {
		t.Fatal(err)
	}
	if res2, err := s.RevokeGrant(t.Context(), "g2", rev); err != nil || res2.Seq <= res.Seq {
		t.Errorf("RevokeGrant after emptying the log = %+v, %v; want Seq > %d", res2, err, res.Seq)
	}
}

func TestFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokend.db")
	openTest(t, path, Options{})
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("database file mode = %v; want 0600", mode)
	}
}

func TestMigrations(t *testing.T) {
	ms, err := migration.Load(migrationFiles, "migrations")
	if err != nil {
		t.Fatalf("migrations: %v", err)
	}
	path := filepath.Join(t.TempDir(), "tokend.db")
	for i := range 3 {
		s, err := Open(path, Options{})
		if err != nil {
			t.Fatalf("Open #%d: %v", i, err)
		}
		var n, latest int
		if err := s.rdb.QueryRow(`SELECT count(*), max(version) FROM schema_migrations`).Scan(&n, &latest); err != nil {
			t.Fatal(err)
		}
		if n != len(ms) || latest != len(ms) {
			t.Errorf("after Open #%d: %d migrations recorded, latest %d; want %d, %d", i, n, latest, len(ms), len(ms))
		}
		if err := s.CreateClient(t.Context(), store.Client{ID: fmt.Sprint(i)}); err != nil {
			t.Errorf("CreateClient after Open #%d: %v", i, err)
		}
		s.Close()
	}

	// A file from a newer tokend is refused, not half-understood.
	s := openTest(t, path, Options{})
	if _, err := s.wdb.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)`, len(ms)+1); err != nil {
		t.Fatal(err)
	}
	if s2, err := Open(path, Options{}); err == nil {
		s2.Close()
		t.Error("Open of a database with a newer schema succeeded")
	}
}

// TestTwoProcesses has two processes write to one file at once, as the
// tokend CLI does beside a running server: the test binary runs itself as
// the second process. Neither may see "database is locked".
func TestTwoProcesses(t *testing.T) {
	const n = 300
	if path := os.Getenv("TOKEND_SQLITE_CHILD"); path != "" {
		s := openTest(t, path, Options{})
		fmt.Println("ready")
		bufio.NewReader(os.Stdin).ReadString('\n') // wait for the parent's go
		for _, first := range writeGrants(t, s, "child", n) {
			fmt.Println("reserved", first)
		}
		return
	}
	path := filepath.Join(t.TempDir(), "tokend.db")
	s := openTest(t, path, Options{})
	cmd := exec.Command(os.Args[0], "-test.run=^TestTwoProcesses$", "-test.count=1")
	cmd.Env = append(os.Environ(), "TOKEND_SQLITE_CHILD="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := bufio.NewReader(stdout)
	if line, err := out.ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("child said %q, %v; want ready", line, err)
	}
	fmt.Fprintln(stdin, "go")
	firsts := writeGrants(t, s, "parent", n)
	rest, _ := io.ReadAll(out)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child process: %v\n%s%s", err, rest, stderr.String())
	}
	evs, err := s.Events(t.Context(), 0, 0)
	if err != nil || len(evs) != 2*n {
		t.Errorf("Events = %d events, %v; want %d", len(evs), err, 2*n)
	}
	// The two processes' status list reservations never overlap.
	for line := range strings.Lines(string(rest)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "reserved "); ok {
			first, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("child said %q", line)
			}
			firsts = append(firsts, first)
		}
	}
	if len(firsts) != 2*n {
		t.Fatalf("got %d reservations; want %d", len(firsts), 2*n)
	}
	slices.Sort(firsts)
	for i := 1; i < len(firsts); i++ {
		if firsts[i] < firsts[i-1]+reserveN {
			t.Errorf("reservations starting at %d and %d overlap", firsts[i-1], firsts[i])
		}
	}
}

// reserveN is the size of writeGrants' status list reservations.
const reserveN = 7

// writeGrants creates, rotates and revokes n grants from 8 goroutines,
// each time reserving reserveN status list indexes; it returns the first
// index of each reservation.
func writeGrants(t *testing.T, s *Store, prefix string, n int) []int64 {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firsts []int64
	ids := make(chan string)
	for range 8 {
		wg.Go(func() {
			for id := range ids {
				first, err := s.ReserveStatusIndexes(t.Context(), reserveN)
				if err != nil {
					t.Errorf("ReserveStatusIndexes: %v", err)
				}
				mu.Lock()
				firsts = append(firsts, first)
				mu.Unlock()
				g, toks := grant(id)
				if err := s.CreateGrant(t.Context(), g, toks); err != nil {
					t.Errorf("CreateGrant(%s): %v", id, err)
					continue
				}
				// RotateRefresh reads before it writes: with a deferred BEGIN
				// it could fail with SQLITE_BUSY_SNAPSHOT.
				next := store.Token{Hash: store.HashToken(id + "/r2"), Kind: store.RefreshToken, IssuedAt: epoch, ExpiresAt: epoch.Add(48 * time.Hour)}
				if _, err := s.RotateRefresh(t.Context(), toks[1].Hash, epoch.Add(time.Minute), []store.Token{next}, rev); err != nil {
					t.Errorf("RotateRefresh(%s): %v", id, err)
				}
				if res, err := s.RevokeGrant(t.Context(), id, rev); err != nil || res.Grants != 1 {
					t.Errorf("RevokeGrant(%s) = %+v, %v", id, res, err)
				}
			}
		})
	}
	for i := range n {
		ids <- fmt.Sprintf("%s-%d", prefix, i)
	}
	close(ids)
	wg.Wait()
	return firsts
}

// block occupies the writer until the returned release is called, and
// waits until the writer runs it.
func block(t *testing.T, s *Store) (release func()) {
	t.Helper()
	running, unblock := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.write(context.Background(), func(*tx) error {
			close(running)
			<-unblock
			return nil
		})
	}()
	<-running
	return func() {
		close(unblock)
		if err := <-done; err != nil {
			t.Errorf("blocking op: %v", err)
		}
	}
}

// waitQueued waits until n ops wait for the writer.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); len(s.ops) < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d ops queued; want %d", len(s.ops), n)
		}
	}
}

// TestBatch queues several writes behind a blocked writer so that they
// share one transaction: a failing one is undone alone, even what it wrote
// before it failed; the ctx-cancelled one is skipped; the others commit.
func TestBatch(t *testing.T) {
	var mu sync.Mutex
	var batches []int
	s := openMigrated(t, Options{OnCommit: func(n int) {
		mu.Lock()
		defer mu.Unlock()
		batches = append(batches, n)
	}})
	if err := s.CreateClient(t.Context(), store.Client{ID: "taken"}); err != nil {
		t.Fatal(err)
	}
	release := block(t, s)

	// half writes its grant and first token, then fails on its second.
	half, halfToks := grant("half")
	halfToks[1].Hash = store.HashToken("g1/a")
	ctx, cancel := context.WithCancel(t.Context())
	ops := []struct {
		name string
		fn   func() error
		want error
	}{
		{"a", func() error { return s.CreateClient(t.Context(), store.Client{ID: "a", Name: "new"}) }, nil},
		{"taken", func() error { return s.CreateClient(t.Context(), store.Client{ID: "taken", Name: "new"}) }, store.ErrAlreadyExists},
		{"g1", func() error { g, toks := grant("g1"); return s.CreateGrant(t.Context(), g, toks) }, nil},
		{"half", func() error { return s.CreateGrant(t.Context(), half, halfToks) }, store.ErrAlreadyExists},
		{"unknown refresh", func() error { // fails unwritten: no second run needed
			_, err := s.RotateRefresh(t.Context(), store.HashToken("nope"), epoch, nil, rev)
			return err
		}, store.ErrNotFound},
		{"cancelled", func() error { return s.CreateClient(ctx, store.Client{ID: "cancelled", Name: "new"}) }, context.Canceled},
		{"c", func() error { return s.CreateClient(t.Context(), store.Client{ID: "c", Name: "new"}) }, nil},
	}
	errs := make([]error, len(ops))
	var wg sync.WaitGroup
	for i, o := range ops {
		waitQueued(t, s, i) // keep the queue in order
		wg.Go(func() { errs[i] = o.fn() })
	}
	waitQueued(t, s, len(ops))
	cancel()
	release()
	wg.Wait()

	for i, o := range ops {
		if !errors.Is(errs[i], o.want) || (o.want == nil && errs[i] != nil) {
			t.Errorf("%s = %v; want %v", o.name, errs[i], o.want)
		}
	}
	for id, want := range map[string]string{"a": "new", "c": "new", "taken": ""} {
		if c, err := s.GetClient(t.Context(), id); err != nil || c.Name != want {
			t.Errorf("GetClient(%s) = %+v, %v; want name %q", id, c, err, want)
		}
	}
	if _, err := s.GetClient(t.Context(), "cancelled"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetClient(cancelled) = %v; want ErrNotFound", err)
	}
	if rec, err := s.LookupToken(t.Context(), store.HashToken("g1/a")); err != nil || rec.GrantID != "g1" {
		t.Errorf("LookupToken(g1/a) = %+v, %v; want grant g1", rec, err)
	}
	if rec, err := s.LookupToken(t.Context(), halfToks[0].Hash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("LookupToken of the failed op's first token = %+v, %v; want ErrNotFound", rec, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []int{1, 1, 3}; fmt.Sprint(batches) != fmt.Sprint(want) {
		t.Errorf("batch sizes = %v; want %v (setup, blocker, a+g1+c)", batches, want)
	}
}

// TestSolo queues ops behind a blocked writer with a solo op among them:
// the solo op is committed alone, between the batches of the ops queued
// before and after it.
func TestSolo(t *testing.T) {
	var mu sync.Mutex
	var batches []int
	s := openMigrated(t, Options{OnCommit: func(n int) {
		mu.Lock()
		defer mu.Unlock()
		batches = append(batches, n)
	}})
	release := block(t, s)
	var wg sync.WaitGroup
	errs := make([]error, 5)
	for i := range 5 {
		waitQueued(t, s, i) // keep the queue in order
		wg.Go(func() {
			if i == 2 {
				errs[i] = s.writeSolo(t.Context(), insert(s, "solo", nil))
				return
			}
			errs[i] = s.CreateClient(t.Context(), store.Client{ID: fmt.Sprint(i)})
		})
	}
	waitQueued(t, s, 5)
	release()
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("op %d: %v", i, err)
		}
	}
	if cs, err := s.ListClients(t.Context()); err != nil || len(cs) != 5 {
		t.Errorf("ListClients = %d clients, %v; want 5", len(cs), err)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []int{1, 2, 1, 2}; fmt.Sprint(batches) != fmt.Sprint(want) {
		t.Errorf("batch sizes = %v; want %v (blocker, 0+1, solo, 3+4)", batches, want)
	}
}

// TestCloseDrains closes the store while writes wait for the writer: they
// all commit, and later writes are refused.
func TestCloseDrains(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokend.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	release := block(t, s)
	const n = 10
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = s.CreateClient(t.Context(), store.Client{ID: fmt.Sprint(i)}) })
	}
	waitQueued(t, s, n)
	closed := make(chan error)
	go func() { closed <- s.Close() }()
	for s.mu.RLock(); !s.closed; s.mu.RLock() { // wait for Close to stop accepting
		s.mu.RUnlock()
		time.Sleep(time.Millisecond)
	}
	s.mu.RUnlock()
	if err := s.CreateClient(t.Context(), store.Client{ID: "late"}); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("CreateClient during Close = %v; want ErrUnavailable", err)
	}
	release()
	if err := <-closed; err != nil {
		t.Errorf("Close: %v", err)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("queued CreateClient %d: %v", i, err)
		}
	}
	s = openTest(t, path, Options{})
	if cs, err := s.ListClients(t.Context()); err != nil || len(cs) != n {
		t.Errorf("ListClients after reopen = %d clients, %v; want %d", len(cs), err, n)
	}
}

// TestLocked holds the write lock from another connection longer than
// busy_timeout: the writes fail with ErrUnavailable and write nothing, and
// the store recovers once the lock is gone.
func TestLocked(t *testing.T) {
	defer func(d time.Duration) { busyTimeout = d }(busyTimeout)
	busyTimeout = 100 * time.Millisecond
	path := filepath.Join(t.TempDir(), "tokend.db")
	s := openTest(t, path, Options{})

	other, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	lock, err := other.BeginTx(t.Context(), nil) // BEGIN IMMEDIATE: takes the write lock
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() { errs[i] = s.CreateClient(t.Context(), store.Client{ID: fmt.Sprint(i)}) })
	}
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("CreateClient %d while locked = %v; want ErrUnavailable", i, err)
		}
	}
	lock.Rollback()
	if cs, err := s.ListClients(t.Context()); err != nil || len(cs) != 0 {
		t.Errorf("ListClients = %v, %v; want none", cs, err)
	}
	if err := s.CreateClient(t.Context(), store.Client{ID: "after"}); err != nil {
		t.Errorf("CreateClient after the lock is gone: %v", err)
	}
}

// TestOpPanic: a panic in UpdateClient's fn surfaces in the caller, and the
// writer keeps going.
func TestOpPanic(t *testing.T) {
	s := openMigrated(t, Options{})
	if err := s.CreateClient(t.Context(), store.Client{ID: "c1"}); err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("UpdateClient with a panicking fn did not panic")
			}
		}()
		s.UpdateClient(t.Context(), "c1", func(store.Client) (store.Client, error) { panic("boom") }, nil)
	}()
	if err := s.CreateClient(t.Context(), store.Client{ID: "c2"}); err != nil {
		t.Errorf("CreateClient after a panic: %v", err)
	}
}

// commits counts commits and committed writes, for the benchmarks'
// writes/commit metric.
type commits struct{ n, writes atomic.Int64 }

func (c *commits) observe(n int) { c.n.Add(1); c.writes.Add(int64(n)) }

func (c *commits) report(b *testing.B) {
	if n := c.n.Load(); n > 0 {
		b.ReportMetric(float64(c.writes.Load())/float64(n), "writes/commit")
	}
}

// benchmark runs fn(i) b.N times, serially or from many goroutines.
func benchmark(b *testing.B, parallel bool, fn func(i int)) {
	b.ResetTimer()
	if !parallel {
		for i := range b.N {
			fn(i)
		}
		return
	}
	b.SetParallelism(32) // 32 × GOMAXPROCS callers: a busy server's requests
	var next atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			fn(int(next.Add(1) - 1))
		}
	})
}

func modes(b *testing.B, run func(b *testing.B, parallel bool)) {
	b.Run("serial", func(b *testing.B) { run(b, false) })
	b.Run("parallel", func(b *testing.B) { run(b, true) })
}

// createGrants stores grants g0 ... g(n-1) with few commits.
func createGrants(b *testing.B, s *Store, n int) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 256)
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			g, toks := grant(fmt.Sprint("g", i))
			if err := s.CreateGrant(context.Background(), g, toks); err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
}

func BenchmarkCreateGrant(b *testing.B) {
	modes(b, func(b *testing.B, parallel bool) {
		var c commits
		s := openTest(b, filepath.Join(b.TempDir(), "tokend.db"), Options{OnCommit: c.observe})
		benchmark(b, parallel, func(i int) {
			g, toks := grant(fmt.Sprint("g", i))
			if err := s.CreateGrant(context.Background(), g, toks); err != nil {
				b.Error(err)
			}
		})
		c.report(b)
	})
}

func BenchmarkLookupToken(b *testing.B) {
	s := openTest(b, filepath.Join(b.TempDir(), "tokend.db"), Options{})
	const n = 10_000
	createGrants(b, s, n)
	modes(b, func(b *testing.B, parallel bool) {
		benchmark(b, parallel, func(i int) {
			h := store.HashToken(fmt.Sprintf("g%d/a", i%n))
			if _, err := s.LookupToken(context.Background(), h); err != nil {
				b.Error(err)
			}
		})
	})
}

func BenchmarkRevokeGrant(b *testing.B) {
	modes(b, func(b *testing.B, parallel bool) {
		var c commits
		s := openTest(b, filepath.Join(b.TempDir(), "tokend.db"), Options{OnCommit: c.observe})
		createGrants(b, s, b.N)
		c = commits{}
		benchmark(b, parallel, func(i int) {
			if res, err := s.RevokeGrant(context.Background(), fmt.Sprint("g", i), rev); err != nil || res.Grants != 1 {
				b.Errorf("RevokeGrant = %+v, %v", res, err)
			}
		})
		c.report(b)
	})
}

// bulkGrants stores n grants prefix0 ... prefix(n-1) of client c1 and
// subject sub, created at epoch, each with a JWT access token (jti and
// status index) and a refresh token, expiring in the order they were
// created: grant i and its tokens at exp + i/100 ms. Three INSERT ...
// SELECT statements over a recursive CTE in one transaction, bypassing the
// writer, which must be idle, so that a million tokens are quick to set up.
// Benchmark setup only.
func bulkGrants(tb testing.TB, s *Store, prefix, sub string, n int, exp time.Time) {
	tb.Helper()
	const series = `WITH RECURSIVE c(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM c WHERE n + 1 < :n) `
	tx, err := s.wdb.Begin()
	if err != nil {
		tb.Fatal(err)
	}
	defer tx.Rollback()
	for _, q := range []string{
		series + `INSERT INTO grants (id, client_id, subject, username, scope, created_at, expires_at)
			SELECT :prefix || n, 'c1', :sub, 'alice', 'openid', :created, :exp + n / 100 FROM c`,
		// Sorted by hash, the tokens append to the primary key's b-tree
		// instead of landing all over it.
		series + `INSERT INTO tokens (hash, kind, grant_id, jti, status_index, issued_at, expires_at)
			SELECT * FROM (SELECT randomblob(32), 'access_token', :prefix || n, :prefix || n || '-jti', n + 1, :created, :exp + n / 100 FROM c) ORDER BY 1`,
		series + `INSERT INTO tokens (hash, kind, grant_id, jti, status_index, issued_at, expires_at)
			SELECT * FROM (SELECT randomblob(32), 'refresh_token', :prefix || n, NULL, NULL, :created, :exp + n / 100 FROM c) ORDER BY 1`,
	} {
		if _, err := tx.Exec(q, sql.Named("n", n), sql.Named("prefix", prefix), sql.Named("sub", sub),
			sql.Named("created", ms(epoch)), sql.Named("exp", ms(exp))); err != nil {
			tb.Fatalf("bulk insert: %v", err)
		}
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkDeleteExpired drains a million expired tokens (500,000 grants)
// in batches of limit grants, beside 10,000 live grants that must stay.
// Each DeleteExpired call is one solo write op: the writer is held for the
// op and its commit, and a revocation that arrives meanwhile waits for
// both, so the benchmark reports the mean and the longest call as well as
// the throughput. The "revoking" cases also revoke a live grant every
// millisecond during the drain and report the revocations' latency.
func BenchmarkDeleteExpired(b *testing.B) {
	const expired, live = 500_000, 10_000
	now := epoch.Add(2 * time.Hour)
	for _, c := range []struct {
		limit    int
		revoking bool
	}{{1000, false}, {DefaultSweepLimit, false}, {100, false}, {1000, true}, {DefaultSweepLimit, true}} {
		name := fmt.Sprintf("batch=%d", c.limit)
		if c.revoking {
			name += "/revoking"
		}
		b.Run(name, func(b *testing.B) {
			var tokens, batches int
			var held, maxHeld time.Duration
			var revokes []time.Duration
			for range b.N {
				b.StopTimer()
				s := openTest(b, filepath.Join(b.TempDir(), "tokend.db"), Options{})
				bulkGrants(b, s, "x", "u1", expired, epoch.Add(time.Hour))
				bulkGrants(b, s, "live", "u2", live, epoch.Add(24*time.Hour))
				stop, done := make(chan struct{}), make(chan []time.Duration)
				if c.revoking {
					go func() { done <- revokeEveryMillisecond(b, s, "live", stop) }()
				}
				b.StartTimer()
				for {
					start := time.Now()
					res, err := s.DeleteExpired(context.Background(), now, c.limit)
					d := time.Since(start)
					if err != nil {
						b.Fatalf("DeleteExpired: %v", err)
					}
					if res.Grants == 0 {
						break
					}
					tokens += res.Tokens
					batches++
					held += d
					maxHeld = max(maxHeld, d)
				}
				b.StopTimer()
				var n int
				if c.revoking {
					close(stop)
					lat := <-done
					n = len(lat)
					revokes = append(revokes, lat...)
				}
				st, err := s.Stats(context.Background(), now)
				if err != nil || st.LiveGrants != int64(live-n) {
					b.Fatalf("Stats after the drain = %+v, %v; want %d live grants", st, err, live-n)
				}
				s.Close()
			}
			if tokens != b.N*2*expired {
				b.Fatalf("deleted %d tokens; want %d", tokens, b.N*2*expired)
			}
			b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tokens/s")
			b.ReportMetric(float64(held.Microseconds())/1000/float64(batches), "ms/batch")
			b.ReportMetric(float64(maxHeld.Microseconds())/1000, "max-ms/batch")
			if len(revokes) > 0 {
				slices.Sort(revokes)
				b.ReportMetric(float64(revokes[len(revokes)/2].Microseconds())/1000, "p50-ms/revoke")
				b.ReportMetric(float64(revokes[len(revokes)*99/100].Microseconds())/1000, "p99-ms/revoke")
				b.ReportMetric(float64(revokes[len(revokes)-1].Microseconds())/1000, "max-ms/revoke")
			}
		})
	}
}

// revokeEveryMillisecond revokes grant prefix0, prefix1, ... one a
// millisecond until stop is closed, and returns each revocation's latency.
func revokeEveryMillisecond(b *testing.B, s *Store, prefix string, stop <-chan struct{}) []time.Duration {
	var lat []time.Duration
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return lat
		case <-tick.C:
		}
		start := time.Now()
		if res, err := s.RevokeGrant(context.Background(), fmt.Sprint(prefix, i), rev); err != nil || res.Grants != 1 {
			b.Errorf("RevokeGrant = %+v, %v", res, err)
			return lat
		}
		lat = append(lat, time.Since(start))
	}
}

// BenchmarkRevokeMatchingSubject10k revokes the 10,000 live grants (a JWT
// access token and a refresh token each) of one subject in one
// RevokeMatching call, among 100,000 grants of other subjects: 10,000
// events, each with its coverage, and 10,000 grants marked, in one write.
func BenchmarkRevokeMatchingSubject10k(b *testing.B) {
	const n = 10_000
	s := openTest(b, filepath.Join(b.TempDir(), "tokend.db"), Options{})
	for i := range 10 {
		bulkGrants(b, s, fmt.Sprintf("other%d-", i), fmt.Sprint("other", i), n, epoch.Add(24*time.Hour))
	}
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		sub := fmt.Sprint("u", i)
		bulkGrants(b, s, sub+"-", sub, n, epoch.Add(24*time.Hour))
		b.StartTimer()
		res, err := s.RevokeMatching(context.Background(), store.Filter{Subject: sub}, rev)
		if err != nil || res.Grants != n || res.Tokens != 2*n {
			b.Fatalf("RevokeMatching = %+v, %v; want %d grants, %d tokens", res, err, n, 2*n)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "grants/s")
}

// BenchmarkEvents reads the log in pages of 1000 events, each covering a
// JWT access token (jti and status index) and a refresh token: what the
// feed and the status lists do.
func BenchmarkEvents(b *testing.B) {
	const n = 10_000
	s := openTest(b, filepath.Join(b.TempDir(), "tokend.db"), Options{})
	bulkGrants(b, s, "g", "u1", n, epoch.Add(24*time.Hour))
	if res, err := s.RevokeMatching(context.Background(), store.Filter{Subject: "u1"}, rev); err != nil || res.Grants != n {
		b.Fatalf("RevokeMatching = %+v, %v", res, err)
	}
	b.ResetTimer()
	for i := range b.N {
		since := int64(i%(n/1000)) * 1000
		evs, err := s.Events(context.Background(), since, 1000)
		if err != nil || len(evs) != 1000 || len(evs[0].TokenHashes) != 2 || len(evs[0].JTIs) != 1 || len(evs[0].StatusIndexes) != 1 {
			b.Fatalf("Events = %d events, %v", len(evs), err)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "events/s")
}

// TestRevocationAndEventAreOneTransaction: a trigger makes the insert into
// the log fail, as a crash or a full disk between the two writes would.
func TestRevocationAndEventAreOneTransaction(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokend.db")
	s := openTest(t, path, Options{})
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	exec := func(q string) func(t *testing.T) {
		return func(t *testing.T) {
			if _, err := raw.ExecContext(t.Context(), q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	storetest.RevocationIsAtomic(t, s,
		exec(`CREATE TRIGGER refuse_events BEFORE INSERT ON revocation_events BEGIN SELECT RAISE(ABORT, 'the log refuses'); END`),
		exec(`DROP TRIGGER refuse_events`))
}

// BenchmarkStats counts 400,000 tokens of 200,000 grants, half of them
// revoked: the live-token gauges' query.
func BenchmarkStats(b *testing.B) {
	s := openTest(b, filepath.Join(b.TempDir(), "tokend.db"), Options{})
	bulkGrants(b, s, "x", "u1", 100_000, epoch.Add(24*time.Hour))
	if _, err := s.RevokeMatching(context.Background(), store.Filter{Subject: "u1"}, rev); err != nil {
		b.Fatal(err)
	}
	bulkGrants(b, s, "y", "u2", 100_000, epoch.Add(24*time.Hour))
	for b.Loop() {
		st, err := s.Stats(context.Background(), epoch)
		if err != nil || st.LiveTokens != 200_000 {
			b.Fatalf("Stats = %+v, %v; want 200,000 live tokens", st, err)
		}
	}
}

// TestWriterCheckpointInterval: the writer's connection checkpoints the
// WAL every walCheckpointPages pages, not SQLite's default 1000 (see
// walCheckpointPages).
func TestWriterCheckpointInterval(t *testing.T) {
	s := openMigrated(t, Options{})
	var pages int
	if err := s.wdb.QueryRowContext(t.Context(), `PRAGMA wal_autocheckpoint`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if pages != walCheckpointPages {
		t.Errorf("wal_autocheckpoint = %d; want %d", pages, walCheckpointPages)
	}
}
