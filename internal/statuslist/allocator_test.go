package statuslist

import (
	"context"
	"errors"
	"sync"
	"testing"
)

// fakeReserver hands out blocks from a counter, as the store does.
type fakeReserver struct {
	mu    sync.Mutex
	next  int64
	calls int
	fail  bool
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
