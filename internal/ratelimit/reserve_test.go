package ratelimit

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func wantReserved(t *testing.T, l *Limiter, keys ...string) *Reservation {
	t.Helper()
	r, wait, ok := l.Reserve(t.Context(), keys...)
	if !ok || wait != 0 {
		t.Fatalf("Reserve(%q) = %v, %v; want reserved", keys, wait, ok)
	}
	return r
}

// wantRefused expects Reserve to refuse at once, without waiting for
// attempts in progress (ctx is cancelled if it would wait).
func wantRefused(t *testing.T, l *Limiter, wantWait time.Duration, keys ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	r, wait, ok := l.Reserve(ctx, keys...)
	if ok || r != nil || wait != wantWait {
		t.Fatalf("Reserve(%q) = %v, %v; want refused with Retry-After %v", keys, wait, ok, wantWait)
	}
}

func TestReserveCountsAttemptsInProgress(t *testing.T) {
	c := newFakeClock()
	l := NewLimiter(3, time.Minute, c.Now)
	r1 := wantReserved(t, l, "user:a")
	r2 := wantReserved(t, l, "user:a")
	c.Advance(10 * time.Second)
	r3 := wantReserved(t, l, "user:a")
	// Three checks in progress: a fourth would make more than the limit.
	wantRefused(t, l, time.Second, "user:a")
	wantBlocked(t, l, time.Second, "user:a")
	wantAllowed(t, l, "user:b")

	r1.Refund() // a success is not counted
	r4 := wantReserved(t, l, "user:a")
	r2.Fail()
	r3.Fail()
	r4.Fail()
	// Three failures: blocked until the window, opened by r1, closes.
	wantRefused(t, l, 50*time.Second, "user:a")
	wantBlocked(t, l, 50*time.Second, "user:a")
	checkLimiter(t, l)

	c.Advance(50 * time.Second)
	wantReserved(t, l, "user:a").Refund()
	if n := count(l, "user:a"); n != -1 {
		t.Errorf("a key whose only attempt succeeded has count %d; want it forgotten", n)
	}
	checkLimiter(t, l)
}

func TestReserveRollsBackWhenAKeyIsBlocked(t *testing.T) {
	c := newFakeClock()
	l := NewLimiter(2, time.Minute, c.Now)
	l.Fail("login-addr:192.0.2.1")
	l.Fail("login-addr:192.0.2.1")
	wantRefused(t, l, time.Minute, "user:a", "login-addr:192.0.2.1")
	if n := count(l, "user:a"); n != -1 {
		t.Errorf("user:a has count %d after a refused reservation; want it untouched", n)
	}
	// The same with the blocked key first, and with one in progress.
	r := wantReserved(t, l, "user:b")
	wantRefused(t, l, time.Minute, "login-addr:192.0.2.1", "user:b")
	r.Refund()
	if n := count(l, "user:b"); n != -1 {
		t.Errorf("user:b has count %d; want it forgotten", n)
	}
	checkLimiter(t, l)
}

// A key held only by attempts in progress makes Reserve wait for one to
// end: a busy caller whose checks succeed is slowed, not refused. When
// they end as failures that use up the limit, the waiter is refused.
func TestReserveWaitsForAttemptsInProgress(t *testing.T) {
	c := newFakeClock()
	l := NewLimiter(2, time.Minute, c.Now)
	r1 := wantReserved(t, l, "user:a", "login-addr:192.0.2.1")
	r2 := wantReserved(t, l, "user:a", "login-addr:192.0.2.1")

	type result struct {
		r    *Reservation
		wait time.Duration
		ok   bool
	}
	reserve := func() chan result {
		ch := make(chan result, 1)
		go func() {
			r, wait, ok := l.Reserve(t.Context(), "user:a", "login-addr:192.0.2.1")
			ch <- result{r, wait, ok}
		}()
		return ch
	}
	waiter := reserve()
	select {
	case got := <-waiter:
		t.Fatalf("Reserve returned %v, %v while two attempts were in progress; want it to wait", got.wait, got.ok)
	case <-time.After(50 * time.Millisecond):
	}
	r1.Refund()
	got := <-waiter
	if !got.ok {
		t.Fatalf("Reserve after a success = %v, %v; want reserved", got.wait, got.ok)
	}

	waiter = reserve()
	r2.Fail()
	got.r.Fail()
	if w := <-waiter; w.ok || w.wait != time.Minute {
		t.Errorf("Reserve after the limit's failures = %v, %v; want refused with Retry-After 1m", w.wait, w.ok)
	}

	// A waiter whose request goes away stops waiting.
	l2 := NewLimiter(1, time.Minute, c.Now)
	held := wantReserved(t, l2, "user:a")
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, wait, ok := l2.Reserve(ctx, "user:a"); ok || wait != time.Second {
		t.Errorf("Reserve with its context done = %v, %v; want refused with Retry-After 1s", wait, ok)
	}
	held.Refund()
	checkLimiter(t, l)
	checkLimiter(t, l2)
}

// An attempt that outlives its key's window, or whose key was evicted
// meanwhile, is counted afresh when it fails and forgotten when it
// succeeds, and the table stays consistent.
func TestReservationOutlivesItsEntry(t *testing.T) {
	c := newFakeClock()
	l := newLimiter(3, time.Minute, c.Now, 2*limiterShards) // 2 keys a shard
	k := sameShard(l, 4)

	r := wantReserved(t, l, k[0])
	l.Fail(k[0])
	c.Advance(time.Minute) // the window closes with the attempt in progress
	r.Fail()
	if n := count(l, k[0]); n != 1 {
		t.Errorf("count after a failure in a new window = %d; want 1", n)
	}
	checkLimiter(t, l)

	r = wantReserved(t, l, k[1]) // k[1] is the oldest, with the least counted
	l.Fail(k[0])
	l.Fail(k[2]) // the shard is full: evicts k[1]
	if n := count(l, k[1]); n != -1 {
		t.Fatalf("k[1] has count %d; want it evicted", n)
	}
	r.Fail()
	if n := count(l, k[1]); n != 1 {
		t.Errorf("count of an evicted key after its attempt failed = %d; want 1", n)
	}
	r = wantReserved(t, l, k[3])
	l.Fail(k[0])
	l.Fail(k[2]) // evicts k[3]
	r.Refund()
	if n := count(l, k[3]); n != -1 {
		t.Errorf("count of an evicted key after its attempt succeeded = %d; want -1", n)
	}
	r.Refund() // a second end does nothing
	var none *Reservation
	none.Fail()
	none.Refund()
	checkLimiter(t, l)
}

func TestReserveNilLimiterAndEmptyKeys(t *testing.T) {
	var nl *Limiter
	if r, wait, ok := nl.Reserve(t.Context(), "user:a"); r != nil || wait != 0 || !ok {
		t.Errorf("nil Limiter: Reserve = %v, %v, %v; want nil, 0, true", r, wait, ok)
	}
	l := NewLimiter(1, time.Minute, newFakeClock().Now)
	r := wantReserved(t, l, "", "")
	r.Fail()
	if n := l.len(); n != 0 {
		t.Errorf("%d keys tracked after reserving only empty keys; want 0", n)
	}
}

func TestFailReportsBlocked(t *testing.T) {
	c := newFakeClock()
	l := NewLimiter(2, time.Minute, c.Now)
	for i, want := range []bool{false, false, true, true} {
		if _, blocked := l.Fail("addr:192.0.2.1"); blocked != want {
			t.Errorf("failure %d: blocked = %v; want %v", i+1, blocked, want)
		}
	}
	if wait, _ := l.Fail("addr:192.0.2.1"); wait != time.Minute {
		t.Errorf("Retry-After = %v; want 1m", wait)
	}
	// Held by an attempt in progress: refused for a second, not counted.
	r := wantReserved(t, l, "addr:192.0.2.2")
	r2 := wantReserved(t, l, "addr:192.0.2.2")
	if wait, blocked := l.Fail("addr:192.0.2.2"); !blocked || wait != time.Second {
		t.Errorf("Fail with the limit in progress = %v, %v; want refused with Retry-After 1s", wait, blocked)
	}
	r.Refund()
	r2.Refund()
	if n := count(l, "addr:192.0.2.2"); n != -1 {
		t.Errorf("count = %d; want the key forgotten", n)
	}
	checkLimiter(t, l)
}

// TestReserveConcurrent: hundreds of guesses at once, on a user and an
// address, each a slow check. However they interleave, no more than the
// limit are ever in progress together, and no more than the limit fail;
// when all fail, exactly the limit are checked.
func TestReserveConcurrent(t *testing.T) {
	const limit, guesses = 5, 300
	for _, tc := range []struct {
		name      string
		succeeds  func(i int) bool
		wantSlow  int // checks made; -1: any number
		wantFails int
	}{
		{"all wrong", func(int) bool { return false }, limit, limit},
		{"one in three right", func(i int) bool { return i%3 == 0 }, -1, limit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLimiter(limit, time.Minute, newFakeClock().Now, 8*limiterShards)
			var inProgress, most, checks, fails atomic.Int64
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range guesses {
				wg.Go(func() {
					<-start
					r, _, ok := l.Reserve(t.Context(), "user:victim", "login-addr:192.0.2."+strconv.Itoa(i%2))
					if !ok {
						return
					}
					n := inProgress.Add(1)
					for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
					}
					checks.Add(1)
					time.Sleep(time.Millisecond) // the slow check
					inProgress.Add(-1)
					if tc.succeeds(i) {
						r.Refund()
						return
					}
					fails.Add(1)
					r.Fail()
				})
			}
			close(start)
			wg.Wait()
			if m := most.Load(); m > limit {
				t.Errorf("%d checks in progress at once; want at most %d", m, limit)
			}
			if got := fails.Load(); got != int64(tc.wantFails) {
				t.Errorf("%d checks failed; want %d", got, tc.wantFails)
			}
			if got := checks.Load(); tc.wantSlow >= 0 && got != int64(tc.wantSlow) {
				t.Errorf("%d checks made; want %d", got, tc.wantSlow)
			}
			wantBlocked(t, l, time.Minute, "user:victim")
			checkLimiter(t, l)
		})
	}
}
