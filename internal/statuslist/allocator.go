package statuslist

import (
	"context"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
)

// ListSize is the number of indexes (bits) in one status list. Index i is
// bit i%ListSize of list i/ListSize. 2^20 bits is 128 KiB uncompressed and,
// with few revocations, a few KiB compressed.
const ListSize = 1 << 20

// Reserver hands out blocks of indexes that no other process will use, and
// says how far the reservations of every process sharing it have gone;
// store.Maintenance provides it.
type Reserver interface {
	ReserveStatusIndexes(ctx context.Context, n int) (first int64, err error)
	LastStatusIndex(ctx context.Context) (int64, error)
}

// Allocator hands out status list indexes from blocks reserved in the store,
// and tells which lists hold reserved indexes (ListReserved).
type Allocator struct {
	Store Reserver
	// Block is how many indexes one reservation takes; 0 means 1024.
	Block int

	mu         sync.Mutex
	next, last int64 // the current block is [next, last]; empty when next > last

	// known is the highest index known to be reserved: the end of this
	// process's latest block, or the store's counter as last read.
	known atomic.Int64
	// One read of the store's counter runs at a time (readSlot); started
	// counts the reads begun, finished is the number of the latest to
	// succeed (guarded by readSlot).
	readOnce sync.Once
	readSlot chan struct{}
	started  atomic.Int64
	finished int64
}

// Next returns a fresh index, reserving a new block when the current one
// is used up.
func (a *Allocator) Next(ctx context.Context) (int64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.next == 0 || a.next > a.last {
		n := a.Block
		if n <= 0 {
			n = 1024
		}
		first, err := a.Store.ReserveStatusIndexes(ctx, n)
		if err != nil {
			return 0, err
		}
		a.next, a.last = first, first+int64(n)-1
		a.raise(a.last)
	}
	idx := a.next
	a.next++
	return idx, nil
}

// ListReserved reports whether some index of list n has been reserved, by
// this process or by any other sharing the store. A list past every
// reservation holds no token, so it need not be served (nor signed). Up to
// the highest index it knows of, it answers from memory; past that, it
// reads the store's counter, so that a list another instance has just begun
// is found. Those reads run one at a time, and each serves every caller
// that was waiting when it began: however many ask for lists that do not
// exist, the store sees one small read at a time.
func (a *Allocator) ListReserved(ctx context.Context, n int64) (bool, error) {
	if n < 0 || n > math.MaxInt64/ListSize {
		return false, nil
	}
	first := max(n*ListSize, 1) // indexes start at 1
	if a.known.Load() >= first {
		return true, nil
	}
	last, err := a.readLast(ctx)
	if err != nil {
		return false, err
	}
	return last >= first, nil
}

// readLast returns the highest reserved index as read from the store by a
// read that began after the call did.
func (a *Allocator) readLast(ctx context.Context) (int64, error) {
	a.readOnce.Do(func() { a.readSlot = make(chan struct{}, 1) })
	arrived := a.started.Load()
	select {
	case a.readSlot <- struct{}{}:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	defer func() { <-a.readSlot }()
	if a.finished > arrived {
		// A read that began after this call finished while it waited.
		return a.known.Load(), nil
	}
	seq := a.started.Add(1)
	last, err := a.Store.LastStatusIndex(ctx)
	if err != nil {
		return 0, err
	}
	a.raise(last)
	a.finished = seq
	return a.known.Load(), nil
}

// raise makes known at least idx.
func (a *Allocator) raise(idx int64) {
	for {
		k := a.known.Load()
		if idx <= k || a.known.CompareAndSwap(k, idx) {
			return
		}
	}
}

// Locate splits an index into its list and its bit in that list.
func Locate(idx int64) (list int64, bit int64) {
	return idx / ListSize, idx % ListSize
}

// URI is the address of a status list, served by tokend.
func URI(issuer string, list int64) string {
	return issuer + "/oauth2/statuslists/" + strconv.FormatInt(list, 10)
}
