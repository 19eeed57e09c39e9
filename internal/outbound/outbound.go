// Package outbound holds what tokend's senders of signed events to other
// servers share: back-channel Logout Tokens and Shared Signals SETs are
// both POSTed to a URL an admin registered, retried with backoff, by a
// loop that must say once, not at every tick, that it cannot read its
// queue.
package outbound

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"time"
)

// NewHTTPClient returns the HTTP client events are sent with: every step
// of a request bounded by timeout, no redirect followed (a 3xx is an
// answer that is not 2xx), and no more than a few connections kept per
// receiver.
func NewHTTPClient(timeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: min(timeout, 5*time.Second), KeepAlive: 30 * time.Second}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                  http.ProxyFromEnvironment,
			DialContext:            dialer.DialContext,
			TLSHandshakeTimeout:    min(timeout, 5*time.Second),
			ResponseHeaderTimeout:  timeout,
			MaxIdleConnsPerHost:    2,
			IdleConnTimeout:        90 * time.Second,
			MaxResponseHeaderBytes: 16 << 10,
			ForceAttemptHTTP2:      true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Backoff is the wait before attempt n+1 after n failed attempts: first,
// doubled at each attempt up to most, then jittered down to between half
// and all of it, so that receivers back from an outage are not met by
// every retry at once.
func Backoff(first, most time.Duration, n int) time.Duration {
	d := first
	for i := 1; i < n && d < most; i++ {
		d *= 2
	}
	d = min(d, most)
	return d/2 + rand.N(d/2+1)
}

// Signal sends on c without blocking: c has room for one, and one
// pending signal says all that several would.
func Signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Outage logs, as who, when a loop starts failing to do what (once, not
// at every attempt) and when it can again; failing is the loop's own
// state. An error while ctx is ending is the loop stopping, not an outage.
func Outage(ctx context.Context, log *slog.Logger, who, what string, err error, failing *bool) {
	switch {
	case err != nil && ctx.Err() == nil && !*failing:
		log.WarnContext(ctx, who+": cannot "+what, slog.String("cause", err.Error()))
		*failing = true
	case err == nil && *failing:
		log.InfoContext(ctx, who+": can "+what+" again")
		*failing = false
	}
}

// Loop runs step at once, then whenever wake is signalled and at every
// poll, until ctx ends: the shape of each loop of a sender, which follows
// the revocation log or works through its queue. A failing step is logged
// as Outage does, as who failing to do what.
func Loop(ctx context.Context, log *slog.Logger, who, what string, poll time.Duration, wake <-chan struct{}, step func(context.Context) error) {
	tick := time.NewTicker(poll)
	defer tick.Stop()
	failing := false
	for {
		Outage(ctx, log, who, what, step(ctx), &failing)
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-tick.C:
		}
	}
}
