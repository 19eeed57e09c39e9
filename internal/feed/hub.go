package feed

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tokend/tokend/internal/store"
)

// Source is the revocation log: store.Store provides it.
type Source interface {
	// Events returns up to limit events with Seq > since, oldest first.
	Events(ctx context.Context, since int64, limit int) ([]store.Event, error)
}

// Notifier tells the hub that events may have been appended by another
// process, e.g. through PostgreSQL LISTEN/NOTIFY. Listen blocks until ctx
// is done, calling nudge for every notification. When it returns early (a
// dropped connection) the hub calls it again after a pause, and catches up
// from its last sequence number, so nothing is lost in between.
type Notifier interface {
	Listen(ctx context.Context, nudge func()) error
}

// Defaults of Config.
const (
	DefaultPoll  = 200 * time.Millisecond
	DefaultRing  = 4096
	DefaultBatch = 1000
)

// Config says where the hub reads the log and how.
type Config struct {
	// Source is the revocation log. Required.
	Source Source
	// Poll is how often the log is read when nothing nudged the hub; it
	// bounds how late a revocation made by another process is seen
	// without a Notifier. 0 means DefaultPoll.
	Poll time.Duration
	// Ring is how many recent events are kept in memory (at least; up to
	// twice as many between trims); older ones are read from Source. 0
	// means DefaultRing.
	Ring int
	// Batch is how many events one read of Source returns at most. 0
	// means DefaultBatch.
	Batch int
	// Notifier, when set, wakes the hub on revocations of other processes.
	Notifier Notifier
	Logger   *slog.Logger
}

// Hub follows the revocation log; see the package documentation.
type Hub struct {
	cfg   Config
	log   *slog.Logger
	nudge chan struct{}
	// offers are batches of events this process committed (Offer),
	// waiting for the follower.
	offers chan []store.Event
	done   chan struct{}
	wg     sync.WaitGroup
	// readAt is when the log was last read successfully (unix ns).
	readAt atomic.Int64

	mu        sync.Mutex
	ring      []store.Event // oldest first; every event with Seq > from
	from      int64
	last      int64         // highest sequence number read
	wake      chan struct{} // closed when events past last arrive
	listeners []func([]store.Event)
	followers []func()
	started   bool
}

// New returns a hub for cfg. Register listeners with Subscribe, then Start.
func New(cfg Config) *Hub {
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.Ring <= 0 {
		cfg.Ring = DefaultRing
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Hub{
		cfg:    cfg,
		log:    log,
		nudge:  make(chan struct{}, 1),
		offers: make(chan []store.Event, offerQueue),
		done:   make(chan struct{}),
		wake:   make(chan struct{}),
	}
}

// offerQueue is how many offered batches wait for the follower; past it,
// an offer becomes a nudge (the follower reads the store instead).
const offerQueue = 256

// Subscribe has fn called with every batch of new events, in log order,
// from the follower goroutine, before any reader can see them: whatever fn
// keeps (a status list bit) is current by the time the feed announces the
// event. fn must be quick. Subscribe must be called before Start; Start
// calls fn with the whole log as it is then.
func (h *Hub) Subscribe(fn func([]store.Event)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.started {
		panic("feed: Subscribe after Start")
	}
	h.listeners = append(h.listeners, fn)
}

// Follow has fn called whenever new events are in the hub, once they
// are: a follower of the log that fn wakes finds them with Events, from
// memory, instead of reading the store at every commit. fn must be
// quick. Follow must be called before Start.
func (h *Hub) Follow(fn func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.started {
		panic("feed: Follow after Start")
	}
	h.followers = append(h.followers, fn)
}

// Start reads the whole log (listeners see every event; the ring keeps the
// last ones), then follows it until ctx is done. It returns once the log
// has been read, or with the error that stopped the first reading.
func (h *Hub) Start(ctx context.Context) error {
	h.mu.Lock()
	if h.started {
		h.mu.Unlock()
		return errors.New("feed: hub started twice")
	}
	h.started = true
	h.mu.Unlock()
	if _, err := h.catchUp(ctx); err != nil {
		close(h.done)
		return err
	}
	h.wg.Add(1)
	go h.follow(ctx)
	if h.cfg.Notifier != nil {
		h.wg.Add(1)
		go h.listen(ctx)
	}
	return nil
}

// Wait blocks until the hub has stopped following (its context is done).
func (h *Hub) Wait() { h.wg.Wait() }

// Done is closed when the hub stops following the log, so that readers
// (long-lived streams) end with it.
func (h *Hub) Done() <-chan struct{} { return h.done }

// Nudge tells the hub the log may have grown. It never blocks; nudges that
// arrive while the hub is reading are merged into one more read.
func (h *Hub) Nudge() {
	select {
	case h.nudge <- struct{}{}:
	default:
	}
}

// Offer hands the hub entries of the log that this process has just
// committed, in the log's order (a store's OnEvents): the hub takes them
// as they are, without reading them back from the store, when they follow
// on from the last entry it holds. What does not (an entry of another
// process came in between, an offer was dropped) it reads from the store,
// so an offer never makes the hub miss or repeat an entry. The events
// must not be modified afterwards. Offer never blocks: when the follower
// lags, it only nudges.
func (h *Hub) Offer(evs []store.Event) {
	select {
	case h.offers <- evs:
	default:
		h.Nudge()
	}
}

// Current reports whether the hub has read the log successfully within
// maxAge. A hub that cannot read the log (its database is unreachable)
// knows nothing of the revocations made meanwhile on other instances, so
// what it serves must not pass for current.
func (h *Hub) Current(maxAge time.Duration) bool {
	return time.Since(time.Unix(0, h.readAt.Load())) <= maxAge
}

// Last returns the highest sequence number the hub has read.
func (h *Hub) Last() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last
}

func (h *Hub) follow(ctx context.Context) {
	defer h.wg.Done()
	defer close(h.done)
	tick := time.NewTicker(h.cfg.Poll)
	defer tick.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case evs := <-h.offers:
			if h.take(evs) {
				continue // nothing to read
			}
		case <-h.nudge:
		case <-tick.C:
		}
		_, err := h.catchUp(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil && !failing:
			// Logged once per outage, not once per poll.
			h.log.WarnContext(ctx, "feed: cannot read the revocation log", slog.String("cause", err.Error()))
			failing = true
		case err == nil && failing:
			h.log.InfoContext(ctx, "feed: reading the revocation log again")
			failing = false
		}
	}
}

func (h *Hub) listen(ctx context.Context) {
	defer h.wg.Done()
	pause := 100 * time.Millisecond
	for {
		start := time.Now()
		err := h.cfg.Notifier.Listen(ctx, h.Nudge)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > time.Minute {
			pause = 100 * time.Millisecond
		}
		h.log.WarnContext(ctx, "feed: notifier stopped; restarting", slog.Any("cause", err), slog.Duration("after", pause))
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(pause*2, 5*time.Second)
		h.Nudge() // whatever was notified while it was down
	}
}

// catchUp reads every event past last, hands it to the listeners, keeps
// it in the ring and wakes the readers. Only the follower (and Start,
// before it) calls it, so reads of the log never overlap.
func (h *Hub) catchUp(ctx context.Context) (int, error) {
	total := 0
	for {
		h.mu.Lock()
		since := h.last
		h.mu.Unlock()
		start := time.Now()
		evs, err := h.cfg.Source.Events(ctx, since, h.cfg.Batch)
		if err != nil {
			return total, err
		}
		if len(evs) > 0 {
			h.deliver(evs)
			total += len(evs)
		}
		if len(evs) < h.cfg.Batch {
			// Current only once the listeners have every event read: a
			// listener (a cache) trusts itself only while the hub is.
			h.readAt.Store(start.UnixNano())
			return total, nil
		}
	}
}

// take delivers the events of an offer that follow on from the last one
// the hub holds, and passes over those it holds already. It reports
// whether it placed them all; if not, the follower reads the store. Only
// the follower calls it.
func (h *Hub) take(evs []store.Event) bool {
	last := h.Last()
	for len(evs) > 0 && evs[0].Seq <= last {
		evs = evs[1:] // read from the store already
	}
	n := 0
	for n < len(evs) && evs[n].Seq == last+1+int64(n) {
		n++
	}
	if n > 0 {
		h.deliver(evs[:n])
	}
	return n == len(evs)
}

// deliver hands new events, the next in the log, to the listeners, then
// keeps them in the ring and wakes the readers and the followers.
func (h *Hub) deliver(evs []store.Event) {
	for _, fn := range h.listeners {
		fn(evs)
	}
	h.append(evs)
	for _, fn := range h.followers {
		fn()
	}
}

func (h *Hub) append(evs []store.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ring = append(h.ring, evs...)
	// Trimmed to the newest Ring only once it holds twice as many, so
	// the copy is paid once per Ring events rather than at every append
	// (which under revocation load would copy the whole ring per
	// commit). Between trims the ring holds up to 2×Ring events.
	if over := len(h.ring) - h.cfg.Ring; len(h.ring) > 2*h.cfg.Ring {
		h.from = h.ring[over-1].Seq
		// A fresh array: readers may hold slices of the old one.
		h.ring = append(make([]store.Event, 0, 2*h.cfg.Ring), h.ring[over:]...)
	}
	h.last = evs[len(evs)-1].Seq
	close(h.wake)
	h.wake = make(chan struct{})
}

// Read returns up to limit events with Seq > since, oldest first: from
// memory when the ring still holds them, else from the store. When it
// returns no event, wait is closed as soon as a newer one is known. The
// events must not be modified.
func (h *Hub) Read(ctx context.Context, since int64, limit int) (evs []store.Event, wait <-chan struct{}, err error) {
	if limit <= 0 {
		limit = h.cfg.Batch
	}
	h.mu.Lock()
	if since >= h.from {
		i := sort.Search(len(h.ring), func(i int) bool { return h.ring[i].Seq > since })
		j := min(len(h.ring), i+limit)
		evs, wait = h.ring[i:j:j], h.wake
		h.mu.Unlock()
		return evs, wait, nil
	}
	wait = h.wake
	h.mu.Unlock()
	// Older than the ring: the store has them (unless the sweep removed
	// them, being past the audit retention).
	evs, err = h.cfg.Source.Events(ctx, since, limit)
	return evs, wait, err
}

// Events returns up to limit events with Seq > since that the hub has
// read, oldest first: Read without the wait, so that the hub serves as
// the revocation log to the followers Follow wakes. The events must not
// be modified.
func (h *Hub) Events(ctx context.Context, since int64, limit int) ([]store.Event, error) {
	evs, _, err := h.Read(ctx, since, limit)
	return evs, err
}

// ReadStored returns the events after since that the store holds now,
// read from the store whether or not the hub has read them yet. A new
// reader asks it once before it is told it has caught up: the hub reads
// the log a moment after a revocation commits, and a revocation answered
// 200 before the reader connected belongs in its backlog, not after it.
func (h *Hub) ReadStored(ctx context.Context, since int64, limit int) ([]store.Event, error) {
	if limit <= 0 {
		limit = h.cfg.Batch
	}
	return h.cfg.Source.Events(ctx, since, limit)
}
