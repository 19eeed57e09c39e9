package ssf

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/tokend/tokend/internal/outbound"
	"github.com/tokend/tokend/internal/store"
)

// The delivery methods (SSF 1.0 §6.1).
const (
	MethodPush = "urn:ietf:rfc:8935"
	MethodPoll = "urn:ietf:rfc:8936"
)

// The event types. SSF's own (SSF 1.0 §8.1.4, §8.1.5), CAEP 1.0's and
// RISC 1.0's, and tokend's grant-revoked event, which names the tokens a
// revocation covered so that a resource server can drop them.
const (
	EventVerification     = "https://schemas.openid.net/secevent/ssf/event-type/verification"
	EventStreamUpdated    = "https://schemas.openid.net/secevent/ssf/event-type/stream-updated"
	EventSessionRevoked   = "https://schemas.openid.net/secevent/caep/event-type/session-revoked"
	EventCredentialChange = "https://schemas.openid.net/secevent/caep/event-type/credential-change"
	EventAccountDisabled  = "https://schemas.openid.net/secevent/risc/event-type/account-disabled"
	EventAccountPurged    = "https://schemas.openid.net/secevent/risc/event-type/account-purged"
	EventAccountEnabled   = "https://schemas.openid.net/secevent/risc/event-type/account-enabled"
	EventClaimsChange     = "https://schemas.openid.net/secevent/caep/event-type/token-claims-change"
	EventGrantRevoked     = "urn:tokend:secevent:event-type:grant-revoked"
)

// EventsSupported are the event types a stream may request, in the order
// a stream configuration lists them.
var EventsSupported = []string{EventSessionRevoked, EventCredentialChange, EventAccountDisabled, EventAccountPurged,
	EventAccountEnabled, EventClaimsChange, EventGrantRevoked}

// The statuses of a stream (SSF 1.0 §8.1.2).
const (
	StatusEnabled  = "enabled"  // SETs are queued and delivered
	StatusPaused   = "paused"   // SETs are queued and held
	StatusDisabled = "disabled" // nothing is queued
)

// CursorName is the name of the transmitter's cursor in the store.
const CursorName = "ssf"

// Defaults of Config.
const (
	DefaultPoll       = time.Second
	DefaultBackoff    = 5 * time.Second
	DefaultMaxBackoff = 30 * time.Minute
	DefaultPauseAfter = 24 * time.Hour
	DefaultTimeout    = 10 * time.Second
	DefaultWorkers    = 4
	DefaultRun        = 64
	DefaultBatch      = 500
	DefaultLongPoll   = 30 * time.Second
	DefaultLongPolls  = 256
	// DefaultMinVerification is the min_verification_interval streams
	// are configured with (SSF 1.0 §8.1.1).
	DefaultMinVerification = 15 * time.Second
	// DefaultInactivityTimeout is the inactivity_timeout streams are
	// configured with (SSF 1.0 §8.1.1): a month, long enough that a
	// receiver that polls, or takes pushed SETs, or asks for a
	// verification now and then, is never paused for it.
	DefaultInactivityTimeout = 30 * 24 * time.Hour
)

// Outcomes of a push attempt, as the Observer is told them.
const (
	OutcomeDelivered = "delivered" // the receiver answered 2xx
	OutcomeRetried   = "retried"   // it did not; another attempt is due later
	OutcomeFailed    = "failed"    // it rejected the SET (400, RFC 8935 §2.3): not sent again
	OutcomePaused    = "paused"    // it failed for longer than PauseAfter: the stream is paused
)

// Store is what a Transmitter needs of store.Store.
type Store interface {
	Events(ctx context.Context, since int64, limit int) ([]store.Event, error)
	GetUserByID(ctx context.Context, id string) (store.User, error)
	Cursor(ctx context.Context, name string) (int64, error)
	store.Streams
}

// Signer signs SETs with the server's active key: *token.JWTs.
type Signer interface {
	MintSET(claims json.RawMessage) (string, error)
}

// Observer counts push outcomes: package metrics.
type Observer interface {
	SSFPush(outcome string)
}

// Config says what a Transmitter follows and how it delivers. Zero fields
// take the defaults.
type Config struct {
	Store  Store  // required
	Tokens Signer // required
	// Issuer is the iss of every SET and stream (SSF 1.0 §4.1.5).
	Issuer string
	// PollEndpoint returns the endpoint_url of a poll stream.
	PollEndpoint func(streamID string) string
	// HTTP pushes the SETs; nil means outbound.NewHTTPClient(Timeout).
	HTTP    *http.Client
	Timeout time.Duration
	// Poll is how often the log, the due pushes and (for a long poll)
	// the store are looked at when nothing nudged the transmitter.
	Poll time.Duration
	// Backoff is the wait after a first failed push; it doubles with each
	// attempt up to MaxBackoff, each wait drawn between half of it and all.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// PauseAfter is how long a push stream's receiver may fail before its
	// stream is paused.
	PauseAfter time.Duration
	// Lease is how long a claim holds a run of SETs; it must outlast an
	// attempt and its record, and a run stops before an attempt that
	// would not fit.
	Lease time.Duration
	// Workers is how many pushes (to as many streams) run at once.
	Workers int
	// Run is how many SETs of one stream one claim takes at most: they
	// are pushed one after the other and recorded in one write.
	Run int
	// Batch is how many log events one read returns at most.
	Batch int
	// LongPoll is the longest a poll that asked to wait waits.
	LongPoll time.Duration
	// LongPolls is how many polls may wait at once; one more is answered
	// at once, as if it had asked to (RFC 8936 §2.4 lets a transmitter
	// answer before any SET is there). The server's admission control
	// leaves the poll endpoint to this bound: a waiting poll would
	// otherwise hold one of its slots for up to LongPoll, idle.
	LongPolls int
	// MinVerification is the least time between two verification
	// requests on a stream (min_verification_interval); one sooner is
	// refused with TooSoonError.
	MinVerification time.Duration
	// InactivityTimeout is how long a stream's receiver may show no
	// activity (a management call, a poll, a pushed SET taken) before
	// the transmitter pauses the stream (inactivity_timeout, SSF 1.0
	// §8.1.1); negative: never.
	InactivityTimeout time.Duration
	Now               func() time.Time
	Logger            *slog.Logger
	Observer          Observer // nil: nothing counted
}

// Transmitter follows the log, queues and delivers SETs, and manages the
// streams; see the package documentation.
type Transmitter struct {
	cfg  Config
	log  *slog.Logger
	http *http.Client

	nudge chan struct{} // the log may have grown
	due   chan struct{} // SETs were queued
	mu    sync.Mutex
	wake  chan struct{} // closed when SETs are queued: wakes long polls
	// waiting holds a token for each poll waiting (LongPolls).
	waiting chan struct{}
	wg      sync.WaitGroup
}

// New returns a Transmitter for cfg; Start starts it.
func New(cfg Config) *Transmitter {
	defaults := []struct {
		v   *time.Duration
		def time.Duration
	}{
		{&cfg.Timeout, DefaultTimeout}, {&cfg.Poll, DefaultPoll}, {&cfg.Backoff, DefaultBackoff},
		{&cfg.MaxBackoff, DefaultMaxBackoff}, {&cfg.PauseAfter, DefaultPauseAfter}, {&cfg.LongPoll, DefaultLongPoll},
		{&cfg.MinVerification, DefaultMinVerification}, {&cfg.InactivityTimeout, DefaultInactivityTimeout},
	}
	for _, d := range defaults {
		if *d.v == 0 || (*d.v < 0 && d.v != &cfg.InactivityTimeout) {
			*d.v = d.def
		}
	}
	if cfg.Lease <= 0 {
		cfg.Lease = max(time.Minute, 3*cfg.Timeout)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.LongPolls <= 0 {
		cfg.LongPolls = DefaultLongPolls
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
	if cfg.PollEndpoint == nil {
		cfg.PollEndpoint = func(id string) string { return cfg.Issuer + "/ssf/poll/" + id }
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	client := cfg.HTTP
	if client == nil {
		client = outbound.NewHTTPClient(cfg.Timeout)
	}
	return &Transmitter{cfg: cfg, log: log, http: client, nudge: make(chan struct{}, 1), due: make(chan struct{}, 1),
		wake: make(chan struct{}), waiting: make(chan struct{}, cfg.LongPolls)}
}

// Nudge tells the transmitter the log may have grown; it never blocks.
// The feed's hub calls it for every batch of new events it reads.
func (t *Transmitter) Nudge() { outbound.Signal(t.nudge) }

// queued wakes the pusher and the long polls: SETs were queued.
func (t *Transmitter) queued() {
	outbound.Signal(t.due)
	t.mu.Lock()
	close(t.wake)
	t.wake = make(chan struct{})
	t.mu.Unlock()
}

// woken returns a channel closed when SETs are next queued.
func (t *Transmitter) woken() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.wake
}

// Start follows the log and pushes until ctx ends; Wait waits for both to
// stop.
func (t *Transmitter) Start(ctx context.Context) {
	t.wg.Add(3)
	go t.follow(ctx)
	go t.push(ctx)
	go t.expire(ctx)
}

// Wait blocks until the transmitter has stopped, its context done.
func (t *Transmitter) Wait() { t.wg.Wait() }
