package backchannel

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/tokend/tokend/internal/outbound"
	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/token"
)

// maxAnswerBytes is how much of a relying party's answer is read: enough
// to reuse the connection after a short body, no more whatever it sends.
const maxAnswerBytes = 4 << 10

// recordTimeout bounds the recording of an attempt's outcome once the
// follower is stopping.
const recordTimeout = 5 * time.Second

// deliver sends the due deliveries whenever some were queued, and at
// every poll (for retries that came due), until ctx ends.
func (f *Follower) deliver(ctx context.Context) {
	defer f.wg.Done()
	outbound.Loop(ctx, f.log, "backchannel", "read the back-channel logout queue", f.cfg.Poll, f.due, f.deliverDue)
}

// deliverDue claims the due deliveries, a run of up to Run at a time, and
// attempts them, Workers at once, until a claim comes back short. A look
// at the count first spares the store a write when nothing is pending.
func (f *Follower) deliverDue(ctx context.Context) error {
	for {
		pending, err := f.cfg.Store.CountLogouts(ctx, store.LogoutPending)
		if err != nil {
			return err
		}
		if f.cfg.Observer != nil {
			f.cfg.Observer.BackchannelPending(pending)
		}
		if pending == 0 {
			return nil
		}
		claim := crand.Text()
		now := f.cfg.Now()
		until := now.Add(f.cfg.Lease)
		ds, err := f.claim(ctx, claim, now, until)
		if err != nil {
			return err
		}
		f.record(ctx, claim, f.attemptAll(ctx, until, ds))
		if len(ds) < f.cfg.Run || ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// attemptAll attempts ds, Workers at a time, and returns how each went.
// A delivery whose attempt, with the record, could outlast the claim
// (until) is not attempted but released, as one the follower's stop
// interrupted: a claim's deliveries are recorded together, so none may
// be sent after its claim lapsed and another instance may hold it.
func (f *Follower) attemptAll(ctx context.Context, until time.Time, ds []store.LogoutDelivery) []attempted {
	out := make([]attempted, len(ds))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(f.cfg.Workers, len(ds)) {
		wg.Go(func() {
			for i := range next {
				now := f.cfg.Now()
				if now.Add(f.cfg.Timeout + recordTimeout).After(until) {
					out[i] = released(ds[i], now)
					continue
				}
				out[i] = f.attempt(ctx, ds[i])
			}
		})
	}
	for i := range ds {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

// claim claims up to Run due deliveries under claim, held until until. The
// claim is not cut short by ctx: a write abandoned on its context may
// still commit (the SQLite writer runs an op it was handed), and a claim
// committed but never seen would hold its deliveries for a whole lease.
// When ctx has ended by the time the claim returns, what it claimed is
// released at once.
func (f *Follower) claim(ctx context.Context, claim string, now, until time.Time) ([]store.LogoutDelivery, error) {
	claimCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	ds, err := f.cfg.Store.ClaimLogouts(claimCtx, claim, now, until, f.cfg.Run)
	cancel()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		out := make([]attempted, len(ds))
		for i, d := range ds {
			out[i] = released(d, now)
		}
		f.record(ctx, claim, out)
		return nil, err
	}
	return ds, nil
}

// attempted is how the attempt at one delivery went: what to record, and
// what to log of it. released is true when it was not made (or made
// without an answer) and the delivery is given back, due at once.
type attempted struct {
	store.LogoutOutcome
	attrs    []slog.Attr
	released bool
}

func released(d store.LogoutDelivery, now time.Time) attempted {
	return attempted{LogoutOutcome: store.LogoutOutcome{ID: d.ID, State: store.LogoutPending, Next: now}, released: true,
		attrs: []slog.Attr{slog.String("client", d.ClientID), slog.Int64("seq", d.EventSeq)}}
}

// attempt makes one attempt at d and says how it went. When ctx ends
// before the client answered, d is released, due at once, so that the
// next start (or another instance) sends it without waiting for the
// lease to lapse.
func (f *Follower) attempt(ctx context.Context, d store.LogoutDelivery) attempted {
	now := f.cfg.Now()
	deadline := d.RevokedAt.Add(f.cfg.Horizon)
	state, next := store.LogoutAbandoned, now
	attrs := []slog.Attr{slog.String("client", d.ClientID), slog.Int64("seq", d.EventSeq), slog.Int("attempt", d.Attempts)}
	uri, err := f.uri(ctx, d.ClientID)
	switch {
	case err != nil:
		state, next = store.LogoutPending, now.Add(f.backoff(d.Attempts))
		attrs = append(attrs, slog.String("cause", err.Error()))
	case uri == "":
		attrs = append(attrs, slog.String("cause", "the client is gone or has no backchannel_logout_uri"))
	case !now.Before(deadline):
		attrs = append(attrs, slog.String("cause", "past the retry horizon"))
	default:
		status, err := f.post(ctx, uri, d, now)
		if err != nil && ctx.Err() != nil {
			return released(d, now)
		}
		state, attrs = f.judge(status, err, attrs)
		if state == store.LogoutPending {
			if next = now.Add(f.backoff(d.Attempts)); next.After(deadline) {
				state = store.LogoutAbandoned
			}
		}
	}
	return attempted{LogoutOutcome: store.LogoutOutcome{ID: d.ID, State: state, Next: next}, attrs: attrs}
}

// record writes the outcomes of a claim's attempts in one write, even if
// the follower is stopping: an answer a client gave is not to be asked
// for again after a restart. If it cannot, the claim lapses after the
// lease and the deliveries are sent again (with new Logout Tokens), as
// after a crash. The attempts made are then logged and counted.
func (f *Follower) record(ctx context.Context, claim string, as []attempted) {
	if len(as) == 0 {
		return
	}
	outcomes := make([]store.LogoutOutcome, len(as))
	for i, a := range as {
		outcomes[i] = a.LogoutOutcome
	}
	done, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if err := f.cfg.Store.FinishLogouts(done, claim, f.cfg.Now(), outcomes); err != nil {
		f.log.WarnContext(ctx, "backchannel: cannot record the outcomes of deliveries", "claim", claim, "deliveries", len(as),
			"error", err.Error())
		if !errors.Is(err, store.ErrNotFound) {
			return
		}
	}
	for _, a := range as {
		if !a.released {
			f.report(ctx, a.State, a.Next, a.attrs)
		}
	}
}

// judge says what an answer of status, or the error err, makes of a
// delivery: delivered on 2xx, else pending (to retry).
func (f *Follower) judge(status int, err error, attrs []slog.Attr) (string, []slog.Attr) {
	switch {
	case err != nil:
		return store.LogoutPending, append(attrs, slog.String("cause", err.Error()))
	case status < 200 || status > 299:
		return store.LogoutPending, append(attrs, slog.Int("status", status))
	}
	return store.LogoutDelivered, append(attrs, slog.Int("status", status))
}

// report logs the outcome of an attempt and counts it.
func (f *Follower) report(ctx context.Context, state string, next time.Time, attrs []slog.Attr) {
	outcome, level, msg := OutcomeDelivered, slog.LevelInfo, "backchannel logout delivered"
	switch state {
	case store.LogoutPending:
		outcome, level, msg = OutcomeRetried, slog.LevelWarn, "backchannel logout failed; will retry"
		attrs = append(attrs, slog.Time("next", next))
	case store.LogoutAbandoned:
		outcome, level, msg = OutcomeAbandoned, slog.LevelWarn, "backchannel logout abandoned"
	}
	f.log.LogAttrs(ctx, level, msg, attrs...)
	if f.cfg.Observer != nil {
		f.cfg.Observer.BackchannelLogout(outcome)
	}
}

// uri returns the back-channel logout URI the client has now (an operator
// may have fixed a wrong one since the revocation); "" when the client is
// gone or has none.
func (f *Follower) uri(ctx context.Context, clientID string) (string, error) {
	c, err := f.cfg.Store.GetClient(ctx, clientID)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	return c.BackchannelLogoutURI, err
}

// post sends d's Logout Token, minted for this attempt, to uri, and
// returns the answer's status.
func (f *Follower) post(ctx context.Context, uri string, d store.LogoutDelivery, now time.Time) (int, error) {
	jti, err := token.NewJTI()
	if err != nil {
		return 0, err
	}
	tok, err := f.cfg.Tokens.MintLogoutToken(token.LogoutClaims{
		Subject: d.Subject, Audience: token.Audience{d.ClientID}, SessionID: d.SessionID, JTI: jti,
		IssuedAt: now.Unix(), ExpiresAt: now.Add(f.cfg.TokenTTL).Unix(),
	})
	if err != nil {
		return 0, fmt.Errorf("minting the Logout Token: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri, strings.NewReader(url.Values{"logout_token": {tok}}.Encode()))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := f.http.Do(req)
	if err != nil {
		// Without the URL, which is the client's and may hold a secret
		// in its query: the cause is what the log needs.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswerBytes))
	return resp.StatusCode, nil
}

// backoff is the wait after attempt n failed: Backoff doubled n-1 times,
// at most MaxBackoff, drawn between half of that and all of it.
func (f *Follower) backoff(n int) time.Duration {
	return outbound.Backoff(f.cfg.Backoff, f.cfg.MaxBackoff, n)
}
