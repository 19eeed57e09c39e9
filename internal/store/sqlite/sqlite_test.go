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
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTest(t, filepath.Join(t.TempDir(), "tokend.db"), Options{}) })
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
	ms, err := migrations()
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
		writeGrants(t, s, "child", n)
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
	writeGrants(t, s, "parent", n)
	rest, _ := io.ReadAll(out)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child process: %v\n%s%s", err, rest, stderr.String())
	}
	evs, err := s.Events(t.Context(), 0, 0)
	if err != nil || len(evs) != 2*n {
		t.Errorf("Events = %d events, %v; want %d", len(evs), err, 2*n)
	}
}

// writeGrants creates, rotates and revokes n grants from 8 goroutines.
func writeGrants(t *testing.T, s *Store, prefix string, n int) {
	var wg sync.WaitGroup
	ids := make(chan string)
	for range 8 {
		wg.Go(func() {
			for id := range ids {
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
	s := openTest(t, filepath.Join(t.TempDir(), "tokend.db"), Options{OnCommit: func(n int) {
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
	s := openTest(t, filepath.Join(t.TempDir(), "tokend.db"), Options{})
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
