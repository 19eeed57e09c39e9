package statuslist

import (
	"context"
	"strconv"
	"sync"
)

// ListSize is the number of indexes (bits) in one status list. Index i is
// bit i%ListSize of list i/ListSize. 2^20 bits is 128 KiB uncompressed and,
// with few revocations, a few KiB compressed.
const ListSize = 1 << 20

// Reserver hands out blocks of indexes that no other process will use;
// store.Maintenance provides it.
type Reserver interface {
	ReserveStatusIndexes(ctx context.Context, n int) (first int64, err error)
}

// Allocator hands out status list indexes from blocks reserved in the store.
type Allocator struct {
	Store Reserver
	// Block is how many indexes one reservation takes; 0 means 1024.
	Block int

	mu         sync.Mutex
	next, last int64 // the current block is [next, last]; empty when next > last
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
	}
	idx := a.next
	a.next++
	return idx, nil
}

// Locate splits an index into its list and its bit in that list.
func Locate(idx int64) (list int64, bit int64) {
	return idx / ListSize, idx % ListSize
}

// URI is the address of a status list, served by tokend.
func URI(issuer string, list int64) string {
	return issuer + "/oauth2/statuslists/" + strconv.FormatInt(list, 10)
}
