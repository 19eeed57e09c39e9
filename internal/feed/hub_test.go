package feed

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/store"
)

// memLog is an in-memory revocation log.
type memLog struct {
	mu    sync.Mutex
	evs   []store.Event
	reads atomic.Int64
	fail  bool
}

func (l *memLog) add(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for range n {
		seq := int64(len(l.evs) + 1)
		l.evs = append(l.evs, store.Event{Seq: seq, GrantID: "g", StatusIndexes: []int64{seq}})
	}
}

func (l *memLog) Events(_ context.Context, since int64, limit int) ([]store.Event, error) {
	l.reads.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail {
		return nil, errors.New("log unreachable")
	}
	var out []store.Event
	for _, e := range l.evs {
		if e.Seq > since && (limit <= 0 || len(out) < limit) {
			out = append(out, e)
		}
	}
	return out, nil
}

func seqs(evs []store.Event) []int64 {
	out := make([]int64, len(evs))
	for i, e := range evs {
		out[i] = e.Seq
	}
	return out
}

func startHub(t *testing.T, cfg Config) *Hub {
	t.Helper()
	h := New(cfg)
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(func() { cancel(); h.Wait() })
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return h
}

// waitFor reads from since until it has n events or the deadline passes.
func waitFor(t *testing.T, h *Hub, since int64, n int, within time.Duration) []store.Event {
	t.Helper()
	deadline := time.After(within)
	var got []store.Event
	for len(got) < n {
		evs, wait, err := h.Read(t.Context(), since, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) > 0 {
			got = append(got, evs...)
			since = evs[len(evs)-1].Seq
			continue
		}
		select {
		case <-wait:
		case <-deadline:
			t.Fatalf("got %d events %v; want %d within %v", len(got), seqs(got), n, within)
		}
	}
	return got
}

func TestStartReplaysTheLogToListeners(t *testing.T) {
	log := &memLog{}
	log.add(25)
	h := New(Config{Source: log, Batch: 10, Ring: 8, Poll: time.Hour})
	var seen []int64
	h.Subscribe(func(evs []store.Event) { seen = append(seen, seqs(evs)...) })
	ctx, cancel := context.WithCancel(t.Context())
	defer func() { cancel(); h.Wait() }()
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 25 || seen[0] != 1 || seen[24] != 25 {
		t.Errorf("listener saw %v; want 1..25", seen)
	}
	if h.Last() != 25 {
		t.Errorf("Last = %d; want 25", h.Last())
	}
	// The ring holds the last 8; a read from further back goes to the log.
	before := log.reads.Load()
	evs, _, err := h.Read(t.Context(), 20, 0)
	if err != nil || len(evs) != 5 || log.reads.Load() != before {
		t.Errorf("Read(20) = %v, %v with %d log reads; want 21..25 from memory", seqs(evs), err, log.reads.Load()-before)
	}
	evs, _, err = h.Read(t.Context(), 3, 4)
	if err != nil || len(evs) != 4 || evs[0].Seq != 4 || log.reads.Load() != before+1 {
		t.Errorf("Read(3, 4) = %v, %v; want 4..7 from the log", seqs(evs), err)
	}
}

func TestNudgeWakesReadersAtOnce(t *testing.T) {
	log := &memLog{}
	h := startHub(t, Config{Source: log, Poll: time.Hour})
	evs, wait, err := h.Read(t.Context(), 0, 0)
	if err != nil || len(evs) != 0 {
		t.Fatalf("first read: %v, %v", seqs(evs), err)
	}
	done := make(chan []store.Event)
	go func() {
		<-wait
		evs, _, _ = h.Read(t.Context(), 0, 0)
		done <- evs
	}()
	log.add(2)
	start := time.Now()
	h.Nudge()
	select {
	case evs := <-done:
		if len(evs) != 2 {
			t.Errorf("woken with %v; want 1, 2", seqs(evs))
		}
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Errorf("nudge took %v", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a nudge did not wake the reader")
	}
}

func TestPollFindsEventsOfOtherProcesses(t *testing.T) {
	log := &memLog{}
	h := startHub(t, Config{Source: log, Poll: 10 * time.Millisecond})
	log.add(3) // nobody nudges
	got := waitFor(t, h, 0, 3, 2*time.Second)
	if got[2].Seq != 3 {
		t.Errorf("got %v", seqs(got))
	}
}

func TestRingEvictionKeepsReadsComplete(t *testing.T) {
	log := &memLog{}
	h := startHub(t, Config{Source: log, Poll: time.Hour, Ring: 4, Batch: 3})
	for range 5 {
		log.add(7)
		h.Nudge()
	}
	got := waitFor(t, h, 0, 35, 2*time.Second)
	for i, e := range got {
		if e.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d: a gap or a repeat in %v", i, e.Seq, seqs(got))
		}
	}
}

func TestLogOutageIsRetried(t *testing.T) {
	log := &memLog{}
	h := startHub(t, Config{Source: log, Poll: 5 * time.Millisecond})
	log.mu.Lock()
	log.fail = true
	log.mu.Unlock()
	log.add(1)
	time.Sleep(30 * time.Millisecond)
	log.mu.Lock()
	log.fail = false
	log.mu.Unlock()
	waitFor(t, h, 0, 1, 2*time.Second)
}

// chanNotifier calls nudge whenever the test sends on c.
type chanNotifier struct {
	c     chan struct{}
	calls atomic.Int64
}

func (n *chanNotifier) Listen(ctx context.Context, nudge func()) error {
	if n.calls.Add(1) == 1 {
		return errors.New("connection refused") // restarted by the hub
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-n.c:
			nudge()
		}
	}
}

func TestNotifierNudges(t *testing.T) {
	log := &memLog{}
	n := &chanNotifier{c: make(chan struct{})}
	h := startHub(t, Config{Source: log, Poll: time.Hour, Notifier: n})
	log.add(1)
	n.c <- struct{}{} // blocks until the restarted Listen receives it
	waitFor(t, h, 0, 1, 2*time.Second)
	if n.calls.Load() != 2 {
		t.Errorf("Listen called %d times; want 2", n.calls.Load())
	}
}

func TestStopEndsDone(t *testing.T) {
	h := New(Config{Source: &memLog{}})
	ctx, cancel := context.WithCancel(t.Context())
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	h.Wait()
	select {
	case <-h.Done():
	default:
		t.Error("Done not closed after the hub stopped")
	}
}

func TestStartFails(t *testing.T) {
	h := New(Config{Source: &memLog{fail: true}})
	if err := h.Start(t.Context()); err == nil {
		t.Error("Start succeeded on an unreadable log")
	}
}

// TestCurrent: the hub is current while it reads the log, and stops being
// so when the log cannot be read; reading again makes it current again.
func TestCurrent(t *testing.T) {
	log := &memLog{}
	h := startHub(t, Config{Source: log, Poll: 5 * time.Millisecond})
	if !h.Current(time.Second) {
		t.Fatal("a hub that has just read the log is not current")
	}
	log.mu.Lock()
	log.fail = true
	log.mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for h.Current(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the hub stays current although it cannot read the log")
		}
		time.Sleep(5 * time.Millisecond)
	}
	log.mu.Lock()
	log.fail = false
	log.mu.Unlock()
	for !h.Current(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the hub is not current again once the log can be read")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// BenchmarkAppend is the hub taking in the events of one group commit (8
// revocations) once its ring is full, as under sustained revocation load.
func BenchmarkAppend(b *testing.B) {
	h := New(Config{Source: &memLog{}})
	seq := int64(0)
	batch := func(n int) []store.Event {
		evs := make([]store.Event, n)
		for i := range evs {
			seq++
			evs[i] = store.Event{Seq: seq, GrantID: "g", JTIs: []string{"j"}, StatusIndexes: []int64{seq}}
		}
		return evs
	}
	h.append(batch(2 * DefaultRing))
	b.ReportAllocs()
	for b.Loop() {
		h.append(batch(8))
	}
}

// A follower woken by Follow finds every new event with Events, from
// memory: the hub does not read the store again for it.
func TestFollowerReadsThroughTheHub(t *testing.T) {
	log := &memLog{}
	log.add(3)
	h := New(Config{Source: log, Poll: time.Hour, Ring: 2})
	woken := make(chan struct{}, 1)
	h.Follow(func() {
		select {
		case woken <- struct{}{}:
		default:
		}
	})
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(func() { cancel(); h.Wait() })
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	var since int64
	for round := range 3 {
		select {
		case <-woken:
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: the follower was never woken", round)
		}
		reads := log.reads.Load()
		evs, err := h.Events(t.Context(), since, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := log.reads.Load(); got != reads {
			t.Fatalf("round %d: Events read the store %d times", round, got-reads)
		}
		if len(evs) == 0 || evs[0].Seq != since+1 {
			t.Fatalf("round %d: read %v after %d", round, seqs(evs), since)
		}
		since = evs[len(evs)-1].Seq
		log.add(2)
		h.Nudge()
	}
	if since != 7 {
		t.Fatalf("the follower read up to %d; want 7", since)
	}
	// Older than the ring (trimmed to the newest 2 once it held 5): read
	// from the store.
	reads := log.reads.Load()
	evs, err := h.Events(t.Context(), 0, 2)
	if err != nil || len(evs) != 2 || evs[0].Seq != 1 || log.reads.Load() != reads+1 {
		t.Fatalf("Events(0) = %v, %v, after %d reads of the store", seqs(evs), err, log.reads.Load()-reads)
	}
}

// TestOfferTakesWhatFollows: events this process committed, offered to
// the hub, reach the listeners and readers without a read of the log
// when they follow on from what the hub holds; a gap (another process's
// entry in between) is read from the log; what the hub holds already is
// passed over. Every listener sees every event once, in order.
func TestOfferTakesWhatFollows(t *testing.T) {
	log := &memLog{}
	log.add(3)
	h := New(Config{Source: log, Poll: time.Hour})
	var mu sync.Mutex
	var seen []int64
	h.Subscribe(func(evs []store.Event) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, seqs(evs)...)
	})
	ctx, cancel := context.WithCancel(t.Context())
	defer func() { cancel(); h.Wait() }()
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	committed := func(n int) []store.Event { // as a store's writer would offer them
		log.add(n)
		log.mu.Lock()
		defer log.mu.Unlock()
		return append([]store.Event(nil), log.evs[len(log.evs)-n:]...)
	}

	reads := log.reads.Load()
	h.Offer(committed(2))
	waitFor(t, h, 3, 2, 5*time.Second)
	if n := log.reads.Load() - reads; n != 0 {
		t.Errorf("offered events 4, 5 took %d reads of the log; want none", n)
	}

	log.add(1) // 6, another process's: never offered
	h.Offer(committed(2))
	got := waitFor(t, h, 5, 3, 5*time.Second)
	if want := []int64{6, 7, 8}; !slices.Equal(seqs(got), want) {
		t.Errorf("after a gap, read %v; want %v", seqs(got), want)
	}
	if log.reads.Load() == reads {
		t.Error("the gap was not read from the log")
	}

	// Offered again, or partly held already: passed over.
	log.mu.Lock()
	again := append([]store.Event(nil), log.evs[6:]...) // 7, 8
	log.mu.Unlock()
	h.Offer(again)
	h.Offer(committed(1)) // 9
	waitFor(t, h, 8, 1, 5*time.Second)
	mu.Lock()
	defer mu.Unlock()
	if want := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9}; !slices.Equal(seen, want) {
		t.Errorf("the listener saw %v; want %v", seen, want)
	}
}
