package sweep

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/tokend/tokend/internal/store"
)

// Defaults of Config.
const (
	DefaultInterval  = time.Minute
	DefaultRetention = 90 * 24 * time.Hour // 90 days of audit trail
	// DefaultBatchSize is the grants one store call deletes: a batch that
	// holds the SQLite writer briefly enough not to hold up revocations, and
	// drains as fast as larger ones (see sqlite.DefaultSweepLimit).
	DefaultBatchSize = 250
	DefaultPause     = 5 * time.Millisecond
	// DefaultLogoutRetention is how long the record of a back-channel
	// Logout Token delivered or abandoned is kept: who was told of a
	// logout, and when, for a while after.
	DefaultLogoutRetention = 7 * 24 * time.Hour
)

// Maintenance is the part of store.Maintenance a sweep uses.
type Maintenance interface {
	DeleteExpired(ctx context.Context, now time.Time, limit int) (store.SweepResult, error)
	DeleteEventsBefore(ctx context.Context, before time.Time, limit int) (int, error)
	DeleteFinishedLogouts(ctx context.Context, before time.Time, limit int) (int, error)
	DeleteFinishedSETs(ctx context.Context, before time.Time, limit int) (int, error)
}

// Config says what to sweep and how often. Zero fields take the defaults.
type Config struct {
	Store Maintenance
	// Interval is the time between two sweeps of Run.
	Interval time.Duration
	// Retention is how long log events are kept; a negative value keeps
	// them forever.
	Retention time.Duration
	// LogoutRetention is how long back-channel logout deliveries are kept
	// once delivered or abandoned, and Shared Signals SETs once delivered
	// or failed.
	LogoutRetention time.Duration
	// BatchSize is how many grants (or events) one store call deletes.
	BatchSize int
	// Pause is the wait between two batches, which leaves the store's
	// writer to other work; a negative value does not wait.
	Pause time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// After is the timer of Run and of the pause; nil means time.After.
	After  func(time.Duration) <-chan time.Time
	Logger *slog.Logger
	// OnSweep, when not nil, is called after every sweep of Run (metrics).
	OnSweep func(Result, error)
}

// Result is what one sweep deleted.
type Result struct {
	Grants   int // expired grants, with their tokens
	Tokens   int
	JTIs     int // used assertion jtis past their expiry
	Codes    int // authorization codes past their expiry
	Sessions int // sessions ended or expired store.SessionRetention ago
	Logouts  int // back-channel logout deliveries finished LogoutRetention ago
	SETs     int // Shared Signals SETs delivered or failed LogoutRetention ago
	Events   int // log events older than the retention window
	Batches  int // store calls made
}

// Sweeper runs sweeps.
type Sweeper struct{ cfg Config }

// New returns a Sweeper for cfg.
func New(cfg Config) *Sweeper {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Retention == 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.LogoutRetention <= 0 {
		cfg.LogoutRetention = DefaultLogoutRetention
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.Pause == 0 {
		cfg.Pause = DefaultPause
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.After == nil {
		cfg.After = time.After
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Sweeper{cfg: cfg}
}

// Once runs one full sweep at the clock's current time: expired grants in
// batches until a batch comes back short, then finished back-channel
// logout deliveries past their retention, then log events past the
// retention window likewise. It returns what it deleted, also when it
// stops early on an error or the end of ctx.
func (s *Sweeper) Once(ctx context.Context) (Result, error) {
	var res Result
	now := s.cfg.Now()
	if err := s.expired(ctx, now, &res); err != nil {
		return res, err
	}
	logoutsBefore := now.Add(-s.cfg.LogoutRetention)
	err := s.drain(ctx, &res, &res.Logouts, func(limit int) (int, error) {
		n, err := s.cfg.Store.DeleteFinishedLogouts(ctx, logoutsBefore, limit)
		if err != nil {
			err = fmt.Errorf("sweep: delete finished logouts: %w", err)
		}
		return n, err
	})
	if err != nil {
		return res, err
	}
	err = s.drain(ctx, &res, &res.SETs, func(limit int) (int, error) {
		n, err := s.cfg.Store.DeleteFinishedSETs(ctx, logoutsBefore, limit)
		if err != nil {
			err = fmt.Errorf("sweep: delete finished SETs: %w", err)
		}
		return n, err
	})
	if err != nil || s.cfg.Retention < 0 {
		return res, err
	}
	before := now.Add(-s.cfg.Retention)
	return res, s.drain(ctx, &res, &res.Events, func(limit int) (int, error) {
		n, err := s.cfg.Store.DeleteEventsBefore(ctx, before, limit)
		if err != nil {
			err = fmt.Errorf("sweep: delete old events: %w", err)
		}
		return n, err
	})
}

// expired deletes expired grants, jtis, codes and sessions in batches
// until a batch comes back short.
func (s *Sweeper) expired(ctx context.Context, now time.Time, res *Result) error {
	limit := s.cfg.BatchSize
	for {
		if res.Batches > 0 {
			if err := s.pause(ctx); err != nil {
				return err
			}
		}
		b, err := s.cfg.Store.DeleteExpired(ctx, now, limit)
		res.Batches++
		res.Grants += b.Grants
		res.Tokens += b.Tokens
		res.JTIs += b.JTIs
		res.Codes += b.Codes
		res.Sessions += b.Sessions
		if err != nil {
			return fmt.Errorf("sweep: delete expired: %w", err)
		}
		if max(b.Grants, b.JTIs, b.Codes, b.Sessions) < limit {
			return nil
		}
	}
}

// drain calls del in batches, after a pause each, adding what it deleted
// to count, until a batch comes back short.
func (s *Sweeper) drain(ctx context.Context, res *Result, count *int, del func(limit int) (int, error)) error {
	limit := s.cfg.BatchSize
	for {
		if err := s.pause(ctx); err != nil {
			return err
		}
		n, err := del(limit)
		res.Batches++
		*count += n
		if err != nil || n < limit {
			return err
		}
	}
}

// pause waits between two batches, or returns ctx's error.
func (s *Sweeper) pause(ctx context.Context) error {
	if s.cfg.Pause < 0 {
		return ctx.Err()
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-s.cfg.After(s.cfg.Pause):
		return nil
	}
}

// Run sweeps once at once, then every Interval, until ctx ends; a failed
// sweep is logged and the next one tries again. It logs one line per
// sweep with its counts (at error level when it failed).
func (s *Sweeper) Run(ctx context.Context) {
	for {
		start := time.Now()
		res, err := s.Once(ctx)
		if ctx.Err() != nil {
			return
		}
		s.log(ctx, res, err, time.Since(start))
		if s.cfg.OnSweep != nil {
			s.cfg.OnSweep(res, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-s.cfg.After(s.cfg.Interval):
		}
	}
}

func (s *Sweeper) log(ctx context.Context, res Result, err error, took time.Duration) {
	attrs := []slog.Attr{
		slog.Int("grants", res.Grants), slog.Int("tokens", res.Tokens), slog.Int("jtis", res.JTIs),
		slog.Int("codes", res.Codes), slog.Int("sessions", res.Sessions), slog.Int("logouts", res.Logouts),
		slog.Int("sets", res.SETs),
		slog.Int("events", res.Events), slog.Int("batches", res.Batches), slog.Duration("duration", took),
	}
	level := slog.LevelInfo
	if err != nil {
		level = slog.LevelError
		attrs = append(attrs, slog.String("cause", err.Error()))
	}
	s.cfg.Logger.LogAttrs(ctx, level, "sweep", attrs...)
}
