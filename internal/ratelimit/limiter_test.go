package ratelimit

import (
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a time source the test moves by hand.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := new(fakeClock)
	c.ns.Store(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func wantBlocked(t *testing.T, l *Limiter, wantWait time.Duration, keys ...string) {
	t.Helper()
	wait, blocked := l.Blocked(keys...)
	if !blocked || wait != wantWait {
		t.Fatalf("Blocked(%q) = %v, %v; want %v, true", keys, wait, blocked, wantWait)
	}
}

func wantAllowed(t *testing.T, l *Limiter, keys ...string) {
	t.Helper()
	if wait, blocked := l.Blocked(keys...); blocked || wait != 0 {
		t.Fatalf("Blocked(%q) = %v, %v; want 0, false", keys, wait, blocked)
	}
}

func TestLimiterBlocksAfterMaxAndUnblocksAfterWindow(t *testing.T) {
	c := newFakeClock()
	l := NewLimiter(3, time.Minute, c.Now)
	wantAllowed(t, l, "client:a")
	l.Fail("client:a")
	c.Advance(10 * time.Second)
	l.Fail("client:a")
	wantAllowed(t, l, "client:a")
	l.Fail("client:a") // the third failure, 10s into the window
	wantBlocked(t, l, 50*time.Second, "client:a")
	l.Fail("client:a") // failures while blocked change nothing
	wantBlocked(t, l, 50*time.Second, "client:a")

	c.Advance(49*time.Second + 500*time.Millisecond)
	wantBlocked(t, l, time.Second, "client:a") // 0.5s rounds up
	c.Advance(500*time.Millisecond - 1)
	wantBlocked(t, l, time.Second, "client:a") // 1ns is still a second
	c.Advance(1)
	wantAllowed(t, l, "client:a") // the window closed

	// A new window opens at the next failure.
	l.Fail("client:a")
	l.Fail("client:a")
	wantAllowed(t, l, "client:a")
	l.Fail("client:a")
	wantBlocked(t, l, time.Minute, "client:a")
}

func TestLimiterKeysIndependent(t *testing.T) {
	c := newFakeClock()
	l := NewLimiter(2, time.Minute, c.Now)
	l.Fail("client:a", "addr:192.0.2.1")
	l.Fail("client:a", "addr:192.0.2.2")
	wantBlocked(t, l, time.Minute, "client:a")
	wantAllowed(t, l, "client:b")
	wantAllowed(t, l, "addr:192.0.2.1")
	wantAllowed(t, l, "client:b", "addr:192.0.2.1")
	wantBlocked(t, l, time.Minute, "client:b", "client:a")

	// With several blocked, the wait is until the last one unblocks.
	c.Advance(20 * time.Second)
	l.Fail("addr:192.0.2.9", "addr:192.0.2.9")
	wantBlocked(t, l, time.Minute, "client:a", "addr:192.0.2.9")
	wantBlocked(t, l, time.Minute, "addr:192.0.2.9", "client:a")
	wantBlocked(t, l, 40*time.Second, "client:a", "addr:192.0.2.3")
}

func TestLimiterEmptyKeys(t *testing.T) {
	l := NewLimiter(1, time.Minute, newFakeClock().Now)
	l.Fail("")
	l.Fail()
	wantAllowed(t, l, "")
	wantAllowed(t, l)
	if n := l.len(); n != 0 {
		t.Errorf("%d keys tracked after failing only empty keys; want 0", n)
	}
	l.Fail("", "client:a")
	wantBlocked(t, l, time.Minute, "", "client:a")
}

func TestLimiterRealClock(t *testing.T) {
	l := NewLimiter(1, time.Minute, nil)
	l.Fail("client:a")
	wantBlocked(t, l, time.Minute, "client:a")
}

func TestNewLimiterPanics(t *testing.T) {
	for _, tc := range []struct {
		name   string
		max    int
		window time.Duration
	}{
		{"max zero", 0, time.Minute},
		{"window zero", 5, 0},
		{"window negative", 5, -time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("NewLimiter(%d, %v) did not panic", tc.max, tc.window)
				}
			}()
			NewLimiter(tc.max, tc.window, nil)
		})
	}
}

// sameShard returns n distinct keys that hash into one shard of l.
func sameShard(l *Limiter, n int) []string {
	var keys []string
	var want *limiterShard
	for i := 0; len(keys) < n; i++ {
		k := "client:" + strconv.Itoa(i)
		s := l.shard(l.hash(k))
		if want == nil {
			want = s
		}
		if s == want {
			keys = append(keys, k)
		}
	}
	return keys
}

// count returns the failures recorded for k, or -1 if k is not tracked.
func count(l *Limiter, k string) int {
	h := l.hash(k)
	s := l.shard(h)
	s.mu.RLock()
	defer s.mu.RUnlock()
	if f := s.m[h]; f != nil {
		return f.count
	}
	return -1
}

func TestLimiterEvictsExpiredFirst(t *testing.T) {
	c := newFakeClock()
	l := newLimiter(3, time.Minute, c.Now, 4*limiterShards) // 4 keys a shard
	k := sameShard(l, 5)
	l.Fail(k[0])
	l.Fail(k[0])
	l.Fail(k[0])
	c.Advance(30 * time.Second)
	l.Fail(k[1])
	l.Fail(k[2])
	l.Fail(k[3]) // the shard is full
	c.Advance(30 * time.Second)
	l.Fail(k[4]) // k[0] expired just now: it goes, though it has the most failures
	for i, want := range []int{-1, 1, 1, 1, 1} {
		if got := count(l, k[i]); got != want {
			t.Errorf("count(k[%d]) = %d; want %d", i, got, want)
		}
	}
	checkLimiter(t, l)
}

func TestLimiterEvictsFewestFailuresWhenFull(t *testing.T) {
	c := newFakeClock()
	l := newLimiter(3, time.Minute, c.Now, 4*limiterShards)
	k := sameShard(l, 6)
	l.Fail(k[0])
	l.Fail(k[0]) // the oldest, but with two failures
	l.Fail(k[1])
	l.Fail(k[2])
	l.Fail(k[3])
	l.Fail(k[4]) // evicts k[1]: the oldest of those with one failure
	l.Fail(k[5]) // evicts k[2]
	for i, want := range []int{2, -1, -1, 1, 1, 1} {
		if got := count(l, k[i]); got != want {
			t.Errorf("count(k[%d]) = %d; want %d", i, got, want)
		}
	}
	checkLimiter(t, l)
}

// An attacker spraying a million client_ids (from many addresses) keeps the
// table at its cap, does not wipe out the count of a key under attack, and
// does not stop new keys from being counted.
func TestLimiterBoundedUnderSpray(t *testing.T) {
	if testing.Short() {
		t.Skip("sprays a million keys")
	}
	c := newFakeClock()
	l := NewLimiter(5, time.Minute, c.Now)
	for range 4 {
		l.Fail("client:victim") // one short of blocked
	}
	l.Fail("addr:198.51.100.7", "addr:198.51.100.7", "addr:198.51.100.7", "addr:198.51.100.7", "addr:198.51.100.7")
	wantBlocked(t, l, time.Minute, "addr:198.51.100.7")

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	buf := make([]byte, 0, 32)
	for i := range 1_000_000 {
		buf = strconv.AppendInt(append(buf[:0], "client:junk"...), int64(i), 10)
		l.Fail(string(buf))
		if i%100_000 == 0 {
			c.Advance(time.Second) // the spray lasts 10s, all within the window
		}
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)

	if n := l.len(); n > maxEntries {
		t.Errorf("%d keys tracked after a spray of 1M; want at most %d", n, maxEntries)
	}
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 32<<20 {
		t.Errorf("heap grew by %d MiB; want under 32", grown>>20)
	}
	checkLimiter(t, l)

	wantBlocked(t, l, 50*time.Second, "addr:198.51.100.7") // survived the spray
	l.Fail("client:victim")
	wantBlocked(t, l, 50*time.Second, "client:victim") // its count survived too
	for range 5 {
		l.Fail("addr:203.0.113.9") // a new key is still counted
	}
	wantBlocked(t, l, time.Minute, "addr:203.0.113.9")
}

func TestLimiterConcurrent(t *testing.T) {
	c := newFakeClock()
	l := newLimiter(3, time.Minute, c.Now, 8*limiterShards)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 5000 {
				client := "client:" + strconv.Itoa(i%700)
				addr := "addr:" + strconv.Itoa(g)
				if _, blocked := l.Blocked(client, addr); !blocked || i%3 == 0 {
					l.Fail(client, addr)
				}
				if g == 0 && i%500 == 0 {
					c.Advance(10 * time.Second)
				}
			}
		})
	}
	wg.Wait()
	if n := l.len(); n > 8*limiterShards {
		t.Errorf("%d keys tracked; want at most %d", n, 8*limiterShards)
	}
	checkLimiter(t, l)
	l.Fail("client:last", "client:last", "client:last")
	wantBlocked(t, l, time.Minute, "client:last")
}

// checkLimiter checks that every shard's list and map hold the same
// entries, in the order their windows close, within the shard's cap, each
// with something counted and no more than the limit.
func checkLimiter(t *testing.T, l *Limiter) {
	t.Helper()
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.RLock()
		n := 0
		var prev *failures
		for f := s.oldest; f != nil; prev, f = f, f.newer {
			n++
			if f.older != prev {
				t.Fatalf("shard %d: broken link at entry %d", i, n)
			}
			if s.m[f.key] != f {
				t.Fatalf("shard %d: entry %d is not in the map", i, n)
			}
			if prev != nil && f.reset.Before(prev.reset) {
				t.Fatalf("shard %d: entry %d closes before the one older than it", i, n)
			}
			if f.count < 0 || f.pending < 0 || f.count+f.pending < 1 || f.count+f.pending > l.max {
				t.Fatalf("shard %d: entry %d has count %d, pending %d", i, n, f.count, f.pending)
			}
		}
		if s.newest != prev || n != len(s.m) || n > l.shardCap {
			t.Fatalf("shard %d: list of %d, map of %d, cap %d", i, n, len(s.m), l.shardCap)
		}
		blocked := 0
		for _, f := range s.m {
			if f.count+f.pending >= l.max {
				blocked++
			}
		}
		if got := int(s.blocked.Load()); got != blocked {
			t.Fatalf("shard %d: blocked = %d; %d entries have max failures", i, got, blocked)
		}
		s.mu.RUnlock()
	}
}

// BenchmarkBlockedParallel is the check every authentication makes, on the
// common path: the client and address are not blocked, and some of them
// failed before.
func BenchmarkBlockedParallel(b *testing.B) {
	l := NewLimiter(10, time.Minute, nil)
	const n = 4096
	clients, addrs := make([]string, n), make([]string, n)
	for i := range n {
		clients[i] = "client:" + strconv.Itoa(i)
		addrs[i] = "addr:10.0." + strconv.Itoa(i/256) + "." + strconv.Itoa(i%256)
		if i%4 == 0 {
			l.Fail(clients[i], addrs[i])
		}
	}
	var seq atomic.Uint32
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := int(seq.Add(1)) * 997
		for pb.Next() {
			i = (i + 1) % n
			if _, blocked := l.Blocked(clients[i], addrs[i]); blocked {
				b.Error("blocked")
				return
			}
		}
	})
}

// BenchmarkBlockedParallelUnderAttack is the same check while every shard
// holds a blocked key, so every check takes its shard's read lock.
func BenchmarkBlockedParallelUnderAttack(b *testing.B) {
	l := NewLimiter(10, time.Minute, nil)
	const n = 4096
	clients, addrs := make([]string, n), make([]string, n)
	for i := range n {
		clients[i] = "client:" + strconv.Itoa(i)
		addrs[i] = "addr:10.0." + strconv.Itoa(i/256) + "." + strconv.Itoa(i%256)
		if i%4 == 0 {
			l.Fail(clients[i], addrs[i])
		}
	}
	for i := 0; ; i++ {
		attacked := 0
		for s := range l.shards {
			if l.shards[s].blocked.Load() > 0 {
				attacked++
			}
		}
		if attacked == limiterShards {
			break
		}
		for range 10 {
			l.Fail("client:attacked" + strconv.Itoa(i))
		}
	}
	var seq atomic.Uint32
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := int(seq.Add(1)) * 997
		for pb.Next() {
			i = (i + 1) % n
			if _, blocked := l.Blocked(clients[i], addrs[i]); blocked {
				b.Error("blocked")
				return
			}
		}
	})
}

func BenchmarkFail(b *testing.B) {
	l := NewLimiter(10, time.Minute, nil)
	keys := make([]string, 200_000)
	for i := range keys {
		keys[i] = "client:" + strconv.Itoa(i)
	}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		l.Fail(keys[i], "addr:192.0.2.1")
		i = (i + 1) % len(keys)
	}
}
