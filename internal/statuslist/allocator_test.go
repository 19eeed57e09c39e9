package statuslist

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeReserver hands out blocks from a counter, as the store does. Reads
// of the counter are counted and, while gate is not nil, wait for it.
type fakeReserver struct {
	mu    sync.Mutex
	next  int64
	calls int
	fail  bool
	reads int
	gate  chan struct{}
}

func (f *fakeReserver) LastStatusIndex(ctx context.Context) (int64, error) {
	f.mu.Lock()
	f.reads++
	gate := f.gate
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return 0, errors.New("store down")
	}
	return f.next, nil
}

func (f *fakeReserver) readCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads
}

func (f *fakeReserver) ReserveStatusIndexes(_ context.Context, n int) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return 0, errors.New("store down")
	}
	f.calls++
	first := f.next + 1
	f.next += int64(n)
	return first, nil
}

func TestAllocatorUniqueAndBlocked(t *testing.T) {
	r := &fakeReserver{}
	a := &Allocator{Store: r, Block: 10}
	seen := map[int64]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				idx, err := a.Next(t.Context())
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[idx] || idx < 1 {
					t.Errorf("index %d handed out twice or below 1", idx)
				}
				seen[idx] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != 200 || r.calls != 20 {
		t.Errorf("%d indexes from %d reservations; want 200 from 20", len(seen), r.calls)
	}
}

func TestAllocatorError(t *testing.T) {
	a := &Allocator{Store: &fakeReserver{fail: true}}
	if _, err := a.Next(t.Context()); err == nil {
		t.Error("no error when the store fails")
	}
}

func TestLocate(t *testing.T) {
	for idx, want := range map[int64][2]int64{1: {0, 1}, ListSize: {1, 0}, ListSize*3 + 5: {3, 5}} {
		if l, b := Locate(idx); l != want[0] || b != want[1] {
			t.Errorf("Locate(%d) = %d, %d; want %v", idx, l, b, want)
		}
	}
	if got := URI("https://as", 2); got != "https://as/oauth2/statuslists/2" {
		t.Errorf("URI = %q", got)
	}
}

// TestListReserved: a list is reserved once an index in it is, by this
// allocator (known without reading the store) or by another process on the
// same store (found by reading its counter); a list past every
// reservation is not.
func TestListReserved(t *testing.T) {
	r := &fakeReserver{}
	a := &Allocator{Store: r, Block: 10}
	reserved := func(n int64) bool {
		t.Helper()
		ok, err := a.ListReserved(t.Context(), n)
		if err != nil {
			t.Fatalf("ListReserved(%d): %v", n, err)
		}
		return ok
	}
	if reserved(0) {
		t.Error("list 0 reserved before any index was")
	}
	if _, err := a.Next(t.Context()); err != nil {
		t.Fatal(err)
	}
	before := r.readCount()
	if !reserved(0) {
		t.Error("list 0 not reserved after this allocator took a block in it")
	}
	if got := r.readCount(); got != before {
		t.Errorf("%d reads of the store for a list this allocator knows; want none", got-before)
	}
	// Another process sharing the store reserves into list 2.
	other := &Allocator{Store: r, Block: 2*ListSize + 5}
	if _, err := other.Next(t.Context()); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		list int64
		want bool
	}{
		{0, true}, {1, true}, {2, true}, {3, false}, {MaxList - 1, false}, {-1, false}, {1 << 62, false},
	}
	for _, c := range cases {
		if got := reserved(c.list); got != c.want {
			t.Errorf("ListReserved(%d) = %t; want %t", c.list, got, c.want)
		}
	}
	r.mu.Lock()
	r.fail = true
	r.mu.Unlock()
	if _, err := a.ListReserved(t.Context(), 7); err == nil {
		t.Error("no error when the store cannot be read")
	}
	if !reserved(2) {
		t.Error("a list known reserved needs the store")
	}
}

// TestListReservedSharesReads: callers asking at once for lists past every
// reservation share the store reads: one runs at a time, and each serves
// every caller that was waiting when it began.
func TestListReservedSharesReads(t *testing.T) {
	gate := make(chan struct{})
	r := &fakeReserver{gate: gate}
	a := &Allocator{Store: r}
	const callers = 50
	var wg sync.WaitGroup
	var entered atomic.Int64
	errs := make(chan error, callers)
	for range callers {
		wg.Go(func() {
			entered.Add(1)
			ok, err := a.ListReserved(t.Context(), 9)
			if err == nil && ok {
				err = errors.New("list 9 reserved")
			}
			if err != nil {
				errs <- err
			}
		})
	}
	// Let the first read through once every caller waits behind it: one
	// read is under way and every caller has entered (and is given a
	// moment to queue behind that read).
	for r.readCount() == 0 || entered.Load() < callers {
		runtime.Gosched()
	}
	time.Sleep(50 * time.Millisecond)
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := r.readCount(); got > 2 {
		t.Errorf("%d store reads for %d callers at once; want at most 2", got, callers)
	}
}
