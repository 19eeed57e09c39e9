package clientauth

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Limiter counts failed authentications per key (a client_id, a remote
// address) and refuses further attempts of a key that failed too often, so
// secrets cannot be guessed online.
//
// Each key gets a fixed window that opens at its first failure: after max
// failures the key is blocked until the window closes, then it starts
// afresh. Failures of a blocked key change nothing (a caller that checks
// Blocked first makes none).
//
// Memory is bounded: at most maxEntries keys are tracked, whatever keys an
// attacker sprays. A key is stored as a 64-bit keyed hash (maphash with a
// random seed), so a long client_id takes no more room than a short one and
// collisions cannot be aimed at. When the table is full, expired keys go
// first; if none has expired, a new key still gets counted by evicting the
// key with the fewest failures among the oldest few. So a spray of
// throw-away client_ids neither stops new keys (the sprayer's own address
// among them) from being counted, nor cheaply wipes out the count of a key
// under attack, which has more failures than the junk around it.
//
// A Limiter is safe for concurrent use. The table is split into shards,
// each with its own lock, so that checks on different keys do not contend,
// and each shard counts its blocked keys, so that checking a key in a shard
// with none blocked (nearly always) is a hash and an atomic load: no lock,
// no write to shared memory.
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
)

type limiterShard struct {
	shardState
	// Keep shards on separate cache lines (and their neighbours, which
	// amd64 prefetches in pairs) so that locking one does not slow another.
	_ [128 - unsafe.Sizeof(shardState{})%128]byte
}

type shardState struct {
	// blocked is how many entries have max failures, expired ones included
	// until they are removed: when it is 0, no key of the shard is blocked.
	blocked atomic.Int32
	mu      sync.RWMutex
	m       map[uint64]*failures
	// oldest and newest end the list of entries in the order their windows
	// opened, which is the order their windows close in.
	oldest, newest *failures
}

// failures is one key's count in its current window.
type failures struct {
	key          uint64
	count        int
	reset        time.Time // the window closes
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
		panic("clientauth: NewLimiter needs max >= 1 and window > 0")
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

// Blocked reports whether any of keys is over its limit, and how long until
// none is: the time to send in Retry-After, rounded up to whole seconds and
// at least one. Empty keys are ignored.
func (l *Limiter) Blocked(keys ...string) (retryAfter time.Duration, blocked bool) {
	var now, until time.Time
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
		var count int
		var reset time.Time
		if f := s.m[h]; f != nil {
			count, reset = f.count, f.reset
		}
		s.mu.RUnlock()
		if count < l.max {
			continue
		}
		if now.IsZero() {
			now = l.now() // only for keys that failed: the common case needs no clock
		}
		if now.Before(reset) && reset.After(until) {
			until = reset
		}
	}
	if until.IsZero() {
		return 0, false
	}
	d := until.Sub(now)
	return max(time.Second, (d + time.Second - 1).Truncate(time.Second)), true
}

// Fail records one failure for each of keys. Empty keys are ignored.
func (l *Limiter) Fail(keys ...string) {
	for _, k := range keys {
		if k == "" {
			continue
		}
		h := l.hash(k)
		s := l.shard(h)
		s.mu.Lock()
		// The clock is read under the lock so that a shard's windows open,
		// and so close, in the order of its list.
		l.fail(s, h, l.now())
		s.mu.Unlock()
	}
}

func (l *Limiter) fail(s *limiterShard, h uint64, now time.Time) {
	if f := s.m[h]; f != nil {
		if now.Before(f.reset) {
			if f.count < l.max { // more changes nothing, and cannot overflow
				l.setCount(s, f, f.count+1)
			}
			return
		}
		// The window closed: open a new one, now the newest.
		s.unlink(f)
		f.reset = now.Add(l.window)
		l.setCount(s, f, 1)
		s.push(f)
		return
	}
	for s.oldest != nil && !now.Before(s.oldest.reset) {
		l.remove(s, s.oldest)
	}
	if len(s.m) >= l.shardCap {
		l.remove(s, s.victim())
	}
	f := &failures{key: h, reset: now.Add(l.window)}
	l.setCount(s, f, 1)
	s.m[h] = f
	s.push(f)
}

// setCount sets f's count, keeping s.blocked up to date.
func (l *Limiter) setCount(s *limiterShard, f *failures, n int) {
	was, is := f.count >= l.max, n >= l.max
	f.count = n
	switch {
	case is && !was:
		s.blocked.Add(1)
	case was && !is:
		s.blocked.Add(-1)
	}
}

func (l *Limiter) remove(s *limiterShard, f *failures) {
	l.setCount(s, f, 0)
	s.unlink(f)
	delete(s.m, f.key)
}

// victim picks the entry to evict from a full shard with nothing expired:
// of the evictScan oldest, the one with the fewest failures, the oldest of
// those. Old entries are the closest to expiry; few failures mean little
// is lost. A key under attack has more failures than junk sprayed to push
// it out, so it stays.
func (s *shardState) victim() *failures {
	v := s.oldest
	for f, i := v.newer, 1; f != nil && i < evictScan; f, i = f.newer, i+1 {
		if f.count < v.count {
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
