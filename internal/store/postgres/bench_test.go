package postgres

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/store"
)

// The benchmarks run against the test server with the pool size tokend
// uses by default. Serial: one caller, so ns/op is the latency of one call
// (round trips plus, for writes, one WAL flush). Parallel: 32 ×
// GOMAXPROCS callers, a busy server's requests; PostgreSQL flushes their
// commits together.

func BenchmarkCreateGrant(b *testing.B) {
	modes(b, func(b *testing.B, parallel bool) {
		s := openTest(b, "", Options{MaxConns: defaultMaxConns})
		benchmark(b, parallel, func(i int) {
			g, toks := grant(fmt.Sprint("g", i))
			if err := s.CreateGrant(context.Background(), g, toks); err != nil {
				b.Error(err)
			}
		})
	})
}

func BenchmarkLookupToken(b *testing.B) {
	s := openTest(b, "", Options{MaxConns: defaultMaxConns})
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
		s := openTest(b, "", Options{MaxConns: defaultMaxConns})
		createGrants(b, s, b.N)
		benchmark(b, parallel, func(i int) {
			if res, err := s.RevokeGrant(context.Background(), fmt.Sprint("g", i), rev); err != nil || res.Grants != 1 {
				b.Errorf("RevokeGrant = %+v, %v", res, err)
			}
		})
	})
}

// BenchmarkRevokeGrantFollowed is BenchmarkRevokeGrant/parallel with a
// reader following the log as the feed's hub does under load: Events from
// the last Seq it read, again as soon as it returns. reads/op is how many
// reads it made per revocation.
func BenchmarkRevokeGrantFollowed(b *testing.B) {
	s := openTest(b, "", Options{MaxConns: defaultMaxConns})
	createGrants(b, s, b.N)
	ctx, stop := context.WithCancel(context.Background())
	var reads atomic.Int64
	var follower sync.WaitGroup
	follower.Go(func() {
		var last int64
		for ctx.Err() == nil {
			evs, err := s.Events(ctx, last, 1000)
			if err != nil {
				return
			}
			reads.Add(1)
			if len(evs) > 0 {
				last = evs[len(evs)-1].Seq
			}
		}
	})
	benchmark(b, true, func(i int) {
		if res, err := s.RevokeGrant(context.Background(), fmt.Sprint("g", i), rev); err != nil || res.Grants != 1 {
			b.Errorf("RevokeGrant = %+v, %v", res, err)
		}
	})
	b.StopTimer()
	stop()
	follower.Wait()
	b.ReportMetric(float64(reads.Load())/float64(b.N), "reads/op")
}

func BenchmarkRotateRefresh(b *testing.B) {
	modes(b, func(b *testing.B, parallel bool) {
		s := openTest(b, "", Options{MaxConns: defaultMaxConns})
		createGrants(b, s, b.N)
		now := epoch.Add(time.Minute)
		benchmark(b, parallel, func(i int) {
			id := fmt.Sprint("g", i)
			toks := []store.Token{
				{Hash: store.HashToken(id + "/a2"), Kind: store.AccessToken, IssuedAt: now, ExpiresAt: now.Add(time.Hour)},
				{Hash: store.HashToken(id + "/r2"), Kind: store.RefreshToken, IssuedAt: now, ExpiresAt: now.Add(24 * time.Hour)},
			}
			if _, err := s.RotateRefresh(context.Background(), store.HashToken(id+"/r"), now, toks, rev); err != nil {
				b.Errorf("RotateRefresh: %v", err)
			}
		})
	})
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
	b.SetParallelism(32)
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

// createGrants stores grants g0 ... g(n-1), many at once.
func createGrants(b *testing.B, s *Store, n int) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
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
