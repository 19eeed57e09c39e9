package backchannel

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/tokend/tokend/internal/outbound"
	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/token"
)

// CursorName is the name of the follower's cursor in the store.
const CursorName = "backchannel_logout"

// Defaults of Config.
const (
	DefaultPoll       = time.Second
	DefaultBackoff    = 5 * time.Second
	DefaultMaxBackoff = 30 * time.Minute
	DefaultHorizon    = 24 * time.Hour
	DefaultTokenTTL   = 2 * time.Minute
	DefaultTimeout    = 10 * time.Second
	DefaultWorkers    = 4
	DefaultRun        = 64
	DefaultBatch      = 500
)

// Outcomes of an attempt, as the Observer is told them.
const (
	OutcomeDelivered = "delivered" // the client answered 2xx
	OutcomeRetried   = "retried"   // it did not; another attempt is due later
	OutcomeAbandoned = "abandoned" // past the retry horizon, or the client has no URI any more
)

// Store is what a Follower needs of store.Store: the log, the clients, and
// its cursor and queue.
type Store interface {
	Events(ctx context.Context, since int64, limit int) ([]store.Event, error)
	GetClient(ctx context.Context, id string) (store.Client, error)
	Cursor(ctx context.Context, name string) (int64, error)
	QueueLogouts(ctx context.Context, name string, from, to int64, ds []store.LogoutDelivery) error
	ClaimLogouts(ctx context.Context, claim string, now, until time.Time, limit int) ([]store.LogoutDelivery, error)
	FinishLogouts(ctx context.Context, claim string, at time.Time, outcomes []store.LogoutOutcome) error
	CountLogouts(ctx context.Context, state string) (int64, error)
}

// Minter signs Logout Tokens with the server's active key: *token.JWTs.
type Minter interface {
	MintLogoutToken(c token.LogoutClaims) (string, error)
}

// Observer counts outcomes and the deliveries pending: package metrics.
type Observer interface {
	BackchannelLogout(outcome string)
	BackchannelPending(n int64)
}

// Config says what a Follower follows and how it delivers. Zero fields
// take the defaults.
type Config struct {
	Store  Store  // required
	Tokens Minter // required
	// HTTP sends the Logout Tokens; nil means outbound.NewHTTPClient(Timeout).
	HTTP    *http.Client
	Timeout time.Duration
	// Poll is how often the log and the due deliveries are looked at
	// when nothing nudged the follower.
	Poll time.Duration
	// Backoff is the wait after a first failed attempt; it doubles with
	// each attempt up to MaxBackoff, and each wait is drawn between half
	// of it and all of it, so that deliveries to a client that was down
	// do not all come back at once.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// Horizon is how long after a revocation its Logout Tokens are tried;
	// a delivery that would be tried later is abandoned.
	Horizon time.Duration
	// TokenTTL is a Logout Token's lifetime: each attempt mints its own.
	TokenTTL time.Duration
	// Lease is how long a claim holds deliveries; it must outlast an
	// attempt (Timeout), or another instance may send one again.
	Lease time.Duration
	// Workers is how many attempts run at once.
	Workers int
	// Run is how many deliveries one claim takes at most: they are
	// attempted Workers at a time and their outcomes recorded in one
	// write.
	Run int
	// Batch is how many events one read of the log returns at most.
	Batch    int
	Now      func() time.Time
	Logger   *slog.Logger
	Observer Observer // nil: nothing counted
}

// Follower follows the revocation log and delivers Logout Tokens; see the
// package documentation.
type Follower struct {
	cfg  Config
	log  *slog.Logger
	http *http.Client

	nudge chan struct{} // the log may have grown
	due   chan struct{} // deliveries were queued
	wg    sync.WaitGroup
}

// New returns a Follower for cfg; Start starts it.
func New(cfg Config) *Follower {
	defaults := []struct {
		v   *time.Duration
		def time.Duration
	}{
		{&cfg.Timeout, DefaultTimeout}, {&cfg.Poll, DefaultPoll}, {&cfg.Backoff, DefaultBackoff},
		{&cfg.MaxBackoff, DefaultMaxBackoff}, {&cfg.Horizon, DefaultHorizon}, {&cfg.TokenTTL, DefaultTokenTTL},
	}
	for _, d := range defaults {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	if cfg.Lease <= 0 {
		cfg.Lease = max(time.Minute, 3*cfg.Timeout)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.Run <= 0 {
		cfg.Run = DefaultRun
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	client := cfg.HTTP
	if client == nil {
		client = outbound.NewHTTPClient(cfg.Timeout)
	}
	return &Follower{cfg: cfg, log: log, http: client, nudge: make(chan struct{}, 1), due: make(chan struct{}, 1)}
}

// Nudge tells the follower the log may have grown; it never blocks. The
// feed's hub calls it for every batch of new events it reads.
func (f *Follower) Nudge() { outbound.Signal(f.nudge) }

// Start follows the log and delivers until ctx ends; Wait waits for both
// to stop.
func (f *Follower) Start(ctx context.Context) {
	f.wg.Add(2)
	go f.follow(ctx)
	go f.deliver(ctx)
}

// Wait blocks until the follower has stopped, its context done.
func (f *Follower) Wait() { f.wg.Wait() }
