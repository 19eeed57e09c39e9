package ratelimit

import (
	"context"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Limiter counts failed authentications per key (an address, a username)
// and refuses further attempts of a key that failed too often, so secrets
// and passwords cannot be guessed online.
//
// Each key gets a fixed window that opens at its first attempt: after max
// failures the key is blocked until the window closes, then it starts
// afresh.
//
// A check that is slow (argon2id) is guarded with Reserve, which counts
// the attempt before it is made, in one step with checking the key: the
// caller then ends it with Fail (it stays counted) or Refund (it does not).
// Attempts in progress count against the limit like failures, so however
// many guesses arrive at once, at most max are checked per key and window.
// An attempt that finds a key held only by attempts in progress waits for
// one of them to end rather than being refused: a busy caller whose checks
// succeed is slowed, not locked out.
//
// Memory is bounded: at most maxEntries keys are tracked, whatever keys an
// attacker sprays. A key is stored as a 64-bit keyed hash (maphash with a
// random seed), so a long key takes no more room than a short one and
// collisions cannot be aimed at. When the table is full, expired keys go
// first; if none has expired, a new key still gets counted by evicting the
// key with the fewest failures and attempts in progress among the oldest
// few. So a spray of throw-away keys neither stops new keys (the sprayer's
// own address among them) from being counted, nor cheaply wipes out the
// count of a key under attack, which has more failures than the junk
// around it.
//
// A Limiter is safe for concurrent use. The table is split into shards,
// each with its own lock, so that checks on different keys do not contend,
// and each shard counts its blocked keys, so that Blocked on a key in a
// shard with none blocked (nearly always) is a hash and an atomic load: no
// lock, no write to shared memory.
type Limiter struct {
	max      int
	window   time.Duration
	now      func() time.Time
	seed     maphash.Seed
	shardCap int // entries per shard
	shards   [limiterShards]limiterShard
}

const (
	limiterShards = 64
	// maxEntries bounds the keys tracked: about 100 bytes each.
	maxEntries = 100_000
	// evictScan is how many of the oldest entries eviction looks at.
	evictScan = 8
	// reserveWait bounds how long Reserve waits for attempts in progress
	// to end before it refuses. Each is one argon2id run, tens of
	// milliseconds unless the server is overloaded.
	reserveWait = 10 * time.Second
)

type limiterShard struct {
	shardState
	// Keep shards on separate cache lines (and their neighbours, which
	// amd64 prefetches in pairs) so that locking one does not slow another.
	_ [128 - unsafe.Sizeof(shardState{})%128]byte
}

type shardState struct {
	// blocked is how many entries have max failures and attempts in
	// progress, expired ones included until they are removed: when it is
	// 0, no key of the shard is blocked.
	blocked atomic.Int32
	mu      sync.RWMutex
	m       map[uint64]*failures
	// oldest and newest end the list of entries in the order their windows
	// opened, which is the order their windows close in.
	oldest, newest *failures
	// wake, when not nil, is closed when an attempt in progress ends, for
	// the Reserve calls waiting for one.
	wake chan struct{}
}

// failures is one key's count in its current window.
type failures struct {
	key     uint64
	count   int // failures in the window
	pending int // attempts reserved and not yet ended
	// reset is when the window closes.
	reset        time.Time
	older, newer *failures
}

// NewLimiter returns a Limiter that allows up to max failures per key in
// each window; the next attempt is refused until the window closes. now
// may be nil (time.Now). It panics if max < 1 or window <= 0.
func NewLimiter(max int, window time.Duration, now func() time.Time) *Limiter {
	return newLimiter(max, window, now, maxEntries)
}

func newLimiter(limit int, window time.Duration, now func() time.Time, entries int) *Limiter {
	if limit < 1 || window <= 0 {
		panic("ratelimit: NewLimiter needs max >= 1 and window > 0")
	}
	if now == nil {
		now = time.Now
	}
	l := &Limiter{
		max:      limit,
		window:   window,
		now:      now,
		seed:     maphash.MakeSeed(),
		shardCap: max(1, entries/limiterShards),
	}
	for i := range l.shards {
		l.shards[i].m = make(map[uint64]*failures)
	}
	return l
}

// hash is the key under which k is tracked.
func (l *Limiter) hash(k string) uint64 { return maphash.String(l.seed, k) }

func (l *Limiter) shard(h uint64) *limiterShard {
	return &l.shards[h>>58] // the top 6 bits; limiterShards is 64
}

// refusal is why an attempt on one key is refused at a moment: blocked
// says whether it is, until when the window closes if the key used up its
// failures; a blocked key with a zero until is held only by attempts in
// progress.
type refusal struct {
	blocked bool
	until   time.Time
}

// judge is the refusal of an attempt on an entry with count failures in a
// window that closes at reset and pending attempts in progress, at now.
func (l *Limiter) judge(count, pending int, reset, now time.Time) refusal {
	if !now.Before(reset) {
		count = 0 // the window closed: its failures no longer count
	}
	switch {
	case count >= l.max:
		return refusal{blocked: true, until: reset}
	case count+pending >= l.max:
		return refusal{blocked: true}
	}
	return refusal{}
}

// add merges r into the refusal of an attempt on several keys.
func (all *refusal) add(r refusal) {
	if !r.blocked {
		return
	}
	all.blocked = true
	if r.until.After(all.until) {
		all.until = r.until
	}
}

// retryAfter is the time to send in Retry-After: until the last window
// closes, rounded up to whole seconds, and at least one second (which is
// also the answer when only attempts in progress block).
func (r refusal) retryAfter(now time.Time) time.Duration {
	d := r.until.Sub(now)
	return max(time.Second, (d + time.Second - 1).Truncate(time.Second))
}

// Blocked reports whether an attempt on keys would be refused now, and
// what to send in Retry-After. Empty keys are ignored.
func (l *Limiter) Blocked(keys ...string) (retryAfter time.Duration, blocked bool) {
	var now time.Time
	var all refusal
	for _, k := range keys {
		if k == "" {
			continue
		}
		h := l.hash(k)
		s := l.shard(h)
		if s.blocked.Load() == 0 {
			continue
		}
		s.mu.RLock()
		var count, pending int
		var reset time.Time
		if f := s.m[h]; f != nil {
			count, pending, reset = f.count, f.pending, f.reset
		}
		s.mu.RUnlock()
		if count+pending < l.max {
			continue
		}
		if now.IsZero() {
			now = l.now() // only for keys that failed: the common case needs no clock
		}
		all.add(l.judge(count, pending, reset, now))
	}
	if !all.blocked {
		return 0, false
	}
	return all.retryAfter(now), true
}

// Fail records one failure for each of keys that is not blocked, checking
// and counting in one step. It reports whether any of keys was blocked,
// and what to send in Retry-After: the attempt is to be refused, and was
// not counted against the keys that blocked it. Empty keys are ignored.
func (l *Limiter) Fail(keys ...string) (retryAfter time.Duration, blocked bool) {
	var now time.Time
	var all refusal
	for _, k := range keys {
		if k == "" {
			continue
		}
		h := l.hash(k)
		s := l.shard(h)
		s.mu.Lock()
		// The clock is read under the lock so that a shard's windows open,
		// and so close, in the order of its list.
		now = l.now()
		all.add(l.fail(s, h, now))
		s.mu.Unlock()
	}
	if !all.blocked {
		return 0, false
	}
	return all.retryAfter(now), true
}

// fail counts a failure of h unless it is blocked, under s's lock.
func (l *Limiter) fail(s *limiterShard, h uint64, now time.Time) refusal {
	if f := s.m[h]; f != nil {
		if r := l.judge(f.count, f.pending, f.reset, now); r.blocked {
			return r
		}
	}
	f := l.open(s, h, now)
	l.set(s, f, f.count+1, f.pending)
	return refusal{}
}

// Reservation is an attempt that Reserve counted before it was checked.
// End it with Fail or Refund, once; a nil Reservation does nothing. It is
// for the one goroutine that made it.
type Reservation struct {
	l       *Limiter
	entries []*failures
}

// Reserve counts an attempt on each of keys, checking and counting in one
// step under the keys' locks, before the caller makes a slow check; if a
// key is blocked, the keys already counted are given back and nothing is
// reserved. It returns the reservation to end with Fail or Refund, or, when
// the attempt is refused, what to send in Retry-After.
//
// A key blocked only by attempts in progress is waited for, until one of
// them ends (up to reserveWait, or until ctx is done); a key that used up
// its failures is refused at once. Empty keys are ignored. A nil Limiter
// limits nothing: it returns a nil Reservation.
func (l *Limiter) Reserve(ctx context.Context, keys ...string) (r *Reservation, retryAfter time.Duration, ok bool) {
	if l == nil {
		return nil, 0, true
	}
	var timer *time.Timer
	for {
		r, refused, wake := l.tryReserve(keys)
		switch {
		case r != nil:
			return r, 0, true
		case wake == nil:
			return nil, refused.retryAfter(l.now()), false
		}
		if timer == nil {
			timer = time.NewTimer(reserveWait)
			defer timer.Stop()
		}
		select {
		case <-wake:
		case <-timer.C:
			return nil, time.Second, false
		case <-ctx.Done():
			return nil, time.Second, false
		}
	}
}

// tryReserve reserves an attempt on each of keys, or returns why not:
// refused if a key used up its failures, else a channel that is closed when
// an attempt in progress on a blocking key's shard ends.
func (l *Limiter) tryReserve(keys []string) (*Reservation, refusal, <-chan struct{}) {
	r := &Reservation{l: l, entries: make([]*failures, 0, len(keys))}
	var refused refusal
	var wake chan struct{}
	for _, k := range keys {
		if k == "" {
			continue
		}
		h := l.hash(k)
		s := l.shard(h)
		s.mu.Lock()
		now := l.now()
		var why refusal
		if f := s.m[h]; f != nil {
			why = l.judge(f.count, f.pending, f.reset, now)
		}
		switch {
		case why.blocked && !why.until.IsZero():
			refused.add(why)
		case why.blocked:
			if wake == nil {
				if s.wake == nil {
					s.wake = make(chan struct{})
				}
				wake = s.wake
			}
		case !refused.blocked && wake == nil:
			f := l.open(s, h, now)
			l.set(s, f, f.count, f.pending+1)
			r.entries = append(r.entries, f)
		}
		s.mu.Unlock()
	}
	if refused.blocked || wake != nil {
		r.Refund()
		if refused.blocked {
			wake = nil
		}
		return nil, refused, wake
	}
	return r, refusal{}, nil
}

// Fail ends the attempt as a failure: it stays counted.
func (r *Reservation) Fail() { r.end(true) }

// Refund ends the attempt as a success: it is not counted, and a key left
// with nothing counted is forgotten.
func (r *Reservation) Refund() { r.end(false) }

func (r *Reservation) end(failed bool) {
	if r == nil || r.l == nil {
		return
	}
	l := r.l
	r.l = nil
	for _, f := range r.entries {
		s := l.shard(f.key)
		s.mu.Lock()
		now := l.now()
		if s.m[f.key] == f && f.pending > 0 {
			l.set(s, f, f.count, f.pending-1)
			if !failed && f.count == 0 && f.pending == 0 {
				l.remove(s, f)
			}
		}
		// An entry removed meanwhile (expired or evicted) took the attempt
		// with it; a failure is counted all the same, afresh.
		if failed {
			l.fail(s, f.key, now)
		}
		s.mu.Unlock()
	}
}

// open returns h's entry with its window open at now, under s's lock:
// the entry as it is, the entry with a new window (its failures forgotten,
// its attempts in progress kept) if its window closed, or a new entry.
func (l *Limiter) open(s *limiterShard, h uint64, now time.Time) *failures {
	if f := s.m[h]; f != nil {
		if now.Before(f.reset) {
			return f
		}
		// The window closed: open a new one, now the newest.
		s.unlink(f)
		f.reset = now.Add(l.window)
		l.set(s, f, 0, f.pending)
		s.push(f)
		return f
	}
	for s.oldest != nil && !now.Before(s.oldest.reset) {
		l.remove(s, s.oldest)
	}
	if len(s.m) >= l.shardCap {
		l.remove(s, s.victim())
	}
	f := &failures{key: h, reset: now.Add(l.window)}
	s.m[h] = f
	s.push(f)
	return f
}

// set sets f's counts, keeping s.blocked up to date, and wakes the Reserve
// calls waiting when an attempt in progress ends.
func (l *Limiter) set(s *limiterShard, f *failures, count, pending int) {
	was, is := f.count+f.pending >= l.max, count+pending >= l.max
	if pending < f.pending && s.wake != nil {
		close(s.wake)
		s.wake = nil
	}
	f.count, f.pending = count, pending
	switch {
	case is && !was:
		s.blocked.Add(1)
	case was && !is:
		s.blocked.Add(-1)
	}
}

func (l *Limiter) remove(s *limiterShard, f *failures) {
	l.set(s, f, 0, 0)
	s.unlink(f)
	delete(s.m, f.key)
}

// victim picks the entry to evict from a full shard with nothing expired:
// of the evictScan oldest, the one with the fewest failures and attempts
// in progress, the oldest of those. Old entries are the closest to expiry;
// few failures mean little is lost. A key under attack has more than junk
// sprayed to push it out, so it stays.
func (s *shardState) victim() *failures {
	v := s.oldest
	for f, i := v.newer, 1; f != nil && i < evictScan; f, i = f.newer, i+1 {
		if f.count+f.pending < v.count+v.pending {
			v = f
		}
	}
	return v
}

func (s *shardState) push(f *failures) {
	f.older, f.newer = s.newest, nil
	if s.newest != nil {
		s.newest.newer = f
	} else {
		s.oldest = f
	}
	s.newest = f
}

func (s *shardState) unlink(f *failures) {
	if f.older != nil {
		f.older.newer = f.newer
	} else {
		s.oldest = f.newer
	}
	if f.newer != nil {
		f.newer.older = f.older
	} else {
		s.newest = f.older
	}
	f.older, f.newer = nil, nil
}

// len returns the number of keys tracked.
func (l *Limiter) len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
