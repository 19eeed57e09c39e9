package sweep_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/sweep"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeStore is a Maintenance holding counts: expired grants of two tokens
// each, and old events. It records every call.
type fakeStore struct {
	mu           sync.Mutex
	grants, jtis int
	events       int
	logouts      int
	calls        []string
	failAt       int // the call (1-based) that fails; 0: none
}

func (f *fakeStore) call(name string, at time.Time, limit int) error {
	f.calls = append(f.calls, name+" "+at.Format(time.RFC3339)+" "+strconv.Itoa(limit))
	if len(f.calls) == f.failAt {
		return store.ErrUnavailable
	}
	return nil
}

func (f *fakeStore) DeleteExpired(_ context.Context, now time.Time, limit int) (store.SweepResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("expired", now, limit); err != nil {
		return store.SweepResult{}, err
	}
	g, j := min(f.grants, limit), min(f.jtis, limit)
	f.grants -= g
	f.jtis -= j
	return store.SweepResult{Grants: g, Tokens: 2 * g, JTIs: j}, nil
}

func (f *fakeStore) DeleteEventsBefore(_ context.Context, before time.Time, limit int) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("events", before, limit); err != nil {
		return 0, err
	}
	n := min(f.events, limit)
	f.events -= n
	return n, nil
}

func (f *fakeStore) DeleteFinishedSETs(_ context.Context, before time.Time, limit int) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return 0, f.call("sets", before, limit)
}

func (f *fakeStore) DeleteFinishedLogouts(_ context.Context, before time.Time, limit int) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("logouts", before, limit); err != nil {
		return 0, err
	}
	n := min(f.logouts, limit)
	f.logouts -= n
	return n, nil
}

// noWait is an After whose channels are ready at once, counting the waits.
type noWait struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (n *noWait) After(d time.Duration) <-chan time.Time {
	n.mu.Lock()
	n.waits = append(n.waits, d)
	n.mu.Unlock()
	c := make(chan time.Time, 1)
	c <- time.Time{}
	return c
}

func TestOnceDrainsInBatches(t *testing.T) {
	retention := 90 * 24 * time.Hour
	old := t0.Add(-retention).Format(time.RFC3339)
	now := t0.Format(time.RFC3339)
	logouts := "logouts " + t0.Add(-sweep.DefaultLogoutRetention).Format(time.RFC3339) + " 2"
	sets := "sets " + t0.Add(-sweep.DefaultLogoutRetention).Format(time.RFC3339) + " 2"
	for _, tc := range []struct {
		name                       string
		grants, jtis, logouts, evs int
		want                       sweep.Result
		calls                      []string
	}{
		{"a short last batch", 5, 1, 3, 3,
			sweep.Result{Grants: 5, Tokens: 10, JTIs: 1, Logouts: 3, Events: 3, Batches: 8},
			[]string{"expired " + now + " 2", "expired " + now + " 2", "expired " + now + " 2", logouts, logouts, sets, "events " + old + " 2", "events " + old + " 2"}},
		{"a full last batch needs one more call", 4, 0, 0, 2,
			sweep.Result{Grants: 4, Tokens: 8, Events: 2, Batches: 7},
			[]string{"expired " + now + " 2", "expired " + now + " 2", "expired " + now + " 2", logouts, sets, "events " + old + " 2", "events " + old + " 2"}},
		{"jtis outlast grants", 1, 5, 0, 0,
			sweep.Result{Grants: 1, Tokens: 2, JTIs: 5, Batches: 6},
			[]string{"expired " + now + " 2", "expired " + now + " 2", "expired " + now + " 2", logouts, sets, "events " + old + " 2"}},
		{"nothing to do", 0, 0, 0, 0,
			sweep.Result{Batches: 4},
			[]string{"expired " + now + " 2", logouts, sets, "events " + old + " 2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeStore{grants: tc.grants, jtis: tc.jtis, logouts: tc.logouts, events: tc.evs}
			w := &noWait{}
			s := sweep.New(sweep.Config{Store: f, BatchSize: 2, Retention: retention, Pause: time.Millisecond,
				Now: func() time.Time { return t0 }, After: w.After})
			got, err := s.Once(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("Once = %+v; want %+v", got, tc.want)
			}
			if d := cmp.Diff(f.calls, tc.calls); d != "" {
				t.Errorf("store calls (-got +want):\n%s", d)
			}
			// A pause between every two batches, none before the first.
			if len(w.waits) != len(tc.calls)-1 {
				t.Errorf("paused %d times; want %d", len(w.waits), len(tc.calls)-1)
			}
		})
	}
}

func TestOnceKeepsEventsWithNegativeRetention(t *testing.T) {
	f := &fakeStore{grants: 1, events: 9}
	s := sweep.New(sweep.Config{Store: f, Retention: -1, Pause: -1, Now: func() time.Time { return t0 }})
	got, err := s.Once(t.Context())
	if err != nil || got != (sweep.Result{Grants: 1, Tokens: 2, Batches: 3}) || f.events != 9 {
		t.Errorf("Once = %+v, %v, %d events left; want 1 grant swept and the 9 events kept", got, err, f.events)
	}
}

func TestOnceStopsOnError(t *testing.T) {
	f := &fakeStore{grants: 5, failAt: 2}
	s := sweep.New(sweep.Config{Store: f, BatchSize: 2, Pause: -1, Now: func() time.Time { return t0 }})
	got, err := s.Once(t.Context())
	if !errors.Is(err, store.ErrUnavailable) || got != (sweep.Result{Grants: 2, Tokens: 4, Batches: 2}) {
		t.Errorf("Once = %+v, %v; want the first batch's counts and store.ErrUnavailable", got, err)
	}
}

func TestOnceStopsWithContext(t *testing.T) {
	f := &fakeStore{grants: 5}
	ctx, cancel := context.WithCancel(t.Context())
	blocked := func(time.Duration) <-chan time.Time {
		cancel() // the pause outlasts the context
		return make(chan time.Time)
	}
	s := sweep.New(sweep.Config{Store: f, BatchSize: 2, Pause: time.Second, Now: func() time.Time { return t0 }, After: blocked})
	got, err := s.Once(ctx)
	if !errors.Is(err, context.Canceled) || got.Batches != 1 {
		t.Errorf("Once = %+v, %v; want to stop after one batch with context.Canceled", got, err)
	}
}

// TestRunSweepsEveryInterval drives Run's timer by hand: one sweep at
// start, one per tick, and Run returns when its context ends.
func TestRunSweepsEveryInterval(t *testing.T) {
	var mu sync.Mutex
	now := t0
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	f := &fakeStore{grants: 3}
	ticks := make(chan chan time.Time)
	after := func(d time.Duration) <-chan time.Time {
		c := make(chan time.Time, 1)
		if d != time.Minute {
			c <- time.Time{} // pauses between batches: no wait
			return c
		}
		ticks <- c
		return c
	}
	results := make(chan sweep.Result)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		sweep.New(sweep.Config{Store: f, Interval: time.Minute, Now: clock, After: after,
			OnSweep: func(r sweep.Result, err error) {
				if err != nil {
					t.Errorf("sweep: %v", err)
				}
				results <- r
			}}).Run(ctx)
	}()
	if r := <-results; r.Grants != 3 {
		t.Errorf("first sweep deleted %d grants; want 3", r.Grants)
	}
	for i, grants := range []int{2, 0} {
		tick := <-ticks // Run waits for the interval
		f.mu.Lock()
		f.grants += grants
		f.mu.Unlock()
		mu.Lock()
		now = now.Add(time.Minute)
		mu.Unlock()
		tick <- now
		if r := <-results; r.Grants != grants {
			t.Errorf("sweep %d deleted %d grants; want %d", i+2, r.Grants, grants)
		}
	}
	<-ticks
	cancel()
	<-done
	f.mu.Lock()
	defer f.mu.Unlock()
	if last := f.calls[len(f.calls)-4]; last != "expired "+t0.Add(2*time.Minute).Format(time.RFC3339)+" "+strconv.Itoa(sweep.DefaultBatchSize) {
		t.Errorf("last sweep's call %q; want it at the clock's time, t0+2m", last)
	}
}
