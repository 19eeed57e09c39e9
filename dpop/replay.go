package dpop

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// DefaultReplayEntries bounds a Memory cache made with size 0: at the
// default window of a minute and ten seconds, about 1,400 proofs a second
// before the window narrows (a few MiB).
const DefaultReplayEntries = 100_000

// Memory is a ReplayCache in memory, bounded in size. Each proof is kept
// until its window ends. When the cache is full, the proof whose window
// ends first is dropped and the cache's horizon moves to the end of its
// window: from then on a proof whose window ends before the horizon is
// refused as replayed, since the cache can no longer vouch for it. So a
// full cache never lets a replay through; it narrows the window instead,
// refusing only proofs older than the ones it still holds.
type Memory struct {
	mu      sync.Mutex
	max     int
	seen    map[string]int64 // key → end of its window (unix nanoseconds)
	ends    endHeap
	horizon int64
}

// NewMemory returns a cache of at most size proofs (DefaultReplayEntries
// when size ≤ 0).
func NewMemory(size int) *Memory {
	if size <= 0 {
		size = DefaultReplayEntries
	}
	return &Memory{max: size, seen: make(map[string]int64)}
}

// Use records key until until, or reports ErrReplayed (as an *Error).
func (m *Memory) Use(_ context.Context, key string, until, now time.Time) error {
	end, t := until.UnixNano(), now.UnixNano()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire(t)
	if _, ok := m.seen[key]; ok || end <= m.horizon {
		return replayed()
	}
	if len(m.seen) >= m.max && end <= m.ends[0].end {
		// It would be the first to go: refused rather than evict a
		// proof whose window lasts longer.
		return replayed()
	}
	for len(m.seen) >= m.max {
		e := heap.Pop(&m.ends).(entry)
		delete(m.seen, e.key)
		m.horizon = max(m.horizon, e.end)
	}
	m.seen[key] = end
	heap.Push(&m.ends, entry{key: key, end: end})
	return nil
}

// Len is the number of proofs held.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.seen)
}

// expire drops the proofs whose window ended before t: they can no
// longer be presented.
func (m *Memory) expire(t int64) {
	for len(m.ends) > 0 && m.ends[0].end < t {
		e := heap.Pop(&m.ends).(entry)
		delete(m.seen, e.key)
	}
}

type entry struct {
	key string
	end int64
}

// endHeap orders entries by the end of their window, soonest first.
type endHeap []entry

func (h endHeap) Len() int           { return len(h) }
func (h endHeap) Less(i, j int) bool { return h[i].end < h[j].end }
func (h endHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *endHeap) Push(x any)        { *h = append(*h, x.(entry)) }
func (h *endHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
