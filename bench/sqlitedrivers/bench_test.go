package sqlitedrivers

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

// BenchmarkDrivers runs the store's hot statements on each driver, the
// drivers one after the other for each op and batch size, so that one run
// interleaves them. An op is one grant issued, one token revoked or one
// token looked up: ns/op and cpu-µs/op (the process's user and system
// CPU) are per op, not per batch.
//
//   - op=issue: batches of grants, each with an access and a refresh
//     token, in one transaction each, as the writer commits a batch of
//     CreateGrant ops: batch=1 on the op's own statements, batch=32 on the
//     grouped multi-row INSERTs. The store starts empty.
//   - op=revoke: batches of RevokeToken ops, each of a distinct grant's
//     token, into a store holding b.N grants: the lookup by hash, the
//     events' INSERT ... SELECT ... RETURNING, the UPDATE.
//   - op=lookup: LookupToken on the read pool, one goroutine, in a store of
//     lookupGrants grants: what introspection runs when its cache misses.
//
// Every commit is durable (WAL, synchronous=FULL), so the wall time per op
// at batch=1 is mostly the disk's fsync; the CPU per op is the drivers'.
func BenchmarkDrivers(b *testing.B) {
	for _, op := range []string{"issue", "revoke", "lookup"} {
		for _, batch := range []int{1, 32} {
			if op == "lookup" && batch > 1 {
				continue // a read is one statement on the pool: no batch
			}
			for _, d := range Drivers {
				b.Run(fmt.Sprintf("driver=%s/op=%s/batch=%d", d.Name, op, batch), func(b *testing.B) {
					switch op {
					case "issue":
						benchIssue(b, d, batch)
					case "revoke":
						benchRevoke(b, d, batch)
					case "lookup":
						benchLookup(b, d)
					}
				})
			}
		}
	}
}

func openBench(b *testing.B, d Driver) *Store {
	b.Helper()
	s, err := Open(d, filepath.Join(b.TempDir(), "tokend.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// measure runs the timed part, fn, and reports the process's CPU per op,
// user and system (cpu-µs/op), and user alone (user-µs/op): system CPU is
// mostly the kernel's reads, writes and fsyncs, the same whatever the
// driver, and user CPU is the driver's, SQLite's and Go's runtime's.
func measure(b *testing.B, fn func()) {
	b.Helper()
	runtime.GC()
	b.ResetTimer()
	user, sys := processCPU()
	fn()
	b.StopTimer()
	user2, sys2 := processCPU()
	perOp := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(b.N) }
	b.ReportMetric(perOp(user2-user+sys2-sys), "cpu-µs/op")
	b.ReportMetric(perOp(user2-user), "user-µs/op")
}

func benchIssue(b *testing.B, d Driver, batch int) {
	s := openBench(b, d)
	gs := make([]Grant, 0, batch)
	measure(b, func() {
		for i := 0; i < b.N; {
			gs = gs[:0]
			for ; i < b.N && len(gs) < batch; i++ {
				gs = append(gs, grant(i))
			}
			if err := s.Issue(context.Background(), gs); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func benchRevoke(b *testing.B, d Driver, batch int) {
	s := openBench(b, d)
	seed(b, s, 0, b.N)
	revs := make([]Revocation, 0, batch)
	measure(b, func() {
		for i := 0; i < b.N; {
			revs = revs[:0]
			for ; i < b.N && len(revs) < batch; i++ {
				revs = append(revs, revocation(i, i%2))
			}
			res, err := s.Revoke(context.Background(), revs)
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range res {
				if r.Grants != 1 || r.Tokens != 2 {
					b.Fatalf("Revoke = %+v", r)
				}
			}
		}
	})
}

// lookupGrants is the size of the store the lookups read: 100,000 grants,
// 200,000 tokens, as BenchmarkTokenLayout's.
const lookupGrants = 100_000

// lookupStores are the lookups' stores, one per driver, seeded once per
// process: the benchmark runs several times to find b.N.
var lookupStores sync.Map // driver name: *Store

func lookupStore(b *testing.B, d Driver) *Store {
	if s, ok := lookupStores.Load(d.Name); ok {
		return s.(*Store)
	}
	dir, err := os.MkdirTemp("", "sqlitedrivers-lookup-")
	if err != nil {
		b.Fatal(err)
	}
	s, err := Open(d, filepath.Join(dir, "tokend.db"))
	if err != nil {
		b.Fatal(err)
	}
	seed(b, s, 0, lookupGrants)
	lookupStores.Store(d.Name, s)
	lookupDirs = append(lookupDirs, dir)
	return s
}

var lookupDirs []string

func TestMain(m *testing.M) {
	code := m.Run()
	lookupStores.Range(func(_, s any) bool { s.(*Store).Close(); return true })
	for _, dir := range lookupDirs {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

func benchLookup(b *testing.B, d Driver) {
	s := lookupStore(b, d)
	measure(b, func() {
		for i := range b.N {
			g := (i * 7919) % lookupGrants // a prime stride: pages not in order
			r, err := s.Lookup(context.Background(), tokenHash(g, 0))
			if err != nil || r.Revoked {
				b.Fatalf("Lookup = %+v, %v", r, err)
			}
		}
	})
}

// BenchmarkOpen opens a store's file with each driver, as the writer and
// as a read connection, each running its pragmas and one query, then
// closes it: what a driver costs per connection. The first connection of
// a process may cost more (cmd/firstopen measures that).
func BenchmarkOpen(b *testing.B) {
	for _, d := range Drivers {
		b.Run("driver="+d.Name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "tokend.db")
			s, err := Open(d, path)
			if err != nil {
				b.Fatal(err)
			}
			s.Close()
			measure(b, func() {
				for range b.N {
					for _, writer := range []bool{true, false} {
						db, err := d.Open(path, writer)
						if err != nil {
							b.Fatal(err)
						}
						var n int
						if err := db.QueryRow(`SELECT count(*) FROM grants`).Scan(&n); err != nil {
							b.Fatal(err)
						}
						db.Close()
					}
				}
			})
		})
	}
}
