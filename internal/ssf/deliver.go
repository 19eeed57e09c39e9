package ssf

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/tokend/tokend/internal/outbound"
	"github.com/tokend/tokend/internal/store"
)

// maxAnswerBytes is how much of a receiver's answer is read.
const maxAnswerBytes = 4 << 10

// recordTimeout bounds the recording of an attempt's outcome once the
// transmitter is stopping.
const recordTimeout = 5 * time.Second

// push sends the due SETs whenever some were queued, and at every poll
// (for retries that came due), until ctx ends.
func (t *Transmitter) push(ctx context.Context) {
	defer t.wg.Done()
	outbound.Loop(ctx, t.log, "ssf", "read the SET queue", t.cfg.Poll, t.due, t.pushDue)
}

// pushDue claims runs of the push streams whose heads are due, Workers
// streams at a time, and pushes them, until a claim comes back empty: a
// stream's next run is claimed once this one is recorded.
func (t *Transmitter) pushDue(ctx context.Context) error {
	for ctx.Err() == nil {
		claim := crand.Text()
		now := t.cfg.Now()
		until := now.Add(t.cfg.Lease)
		sets, err := t.cfg.Store.ClaimSETs(ctx, claim, now, until, t.cfg.Workers, t.cfg.Run)
		if err != nil || len(sets) == 0 {
			return err
		}
		var wg sync.WaitGroup
		for _, run := range runsOf(sets) {
			wg.Go(func() { t.pushRun(ctx, claim, until, run) })
		}
		wg.Wait()
	}
	return ctx.Err()
}

// runsOf groups sets, in ID order, by stream, keeping that order.
func runsOf(sets []store.StreamSET) [][]store.StreamSET {
	var runs [][]store.StreamSET
	at := map[string]int{}
	for _, s := range sets {
		i, ok := at[s.StreamID]
		if !ok {
			i = len(runs)
			at[s.StreamID] = i
			runs = append(runs, nil)
		}
		runs[i] = append(runs[i], s)
	}
	return runs
}

// pushRun pushes a stream's run of SETs one at a time, in order, and
// records how each went in one write: a commit per run instead of two
// per SET (a claim and an outcome), which bound a stream to the store's
// fsyncs. It stops at a SET to be retried, which those after it wait for,
// and before an attempt that, with its record, could outlast the claim
// (Lease); it releases the
// SETs it did not attempt. A crash before the record sends the run's
// delivered SETs again, once its claim lapses (at least once, as RFC 8935
// has it; the jti is the same).
func (t *Transmitter) pushRun(ctx context.Context, claim string, until time.Time, run []store.StreamSET) {
	s, err := t.cfg.Store.GetStream(ctx, run[0].StreamID)
	var st stream
	if err == nil {
		st, err = parse(s)
	}
	if err != nil { // gone (its SETs with it) or the store failing: the claim lapses
		return
	}
	outcomes := make([]store.SETOutcome, 0, len(run))
	var tried []string // the outcome of each SET attempted
	stop := false
	for i, set := range run {
		late := i > 0 && t.cfg.Now().Add(t.cfg.Timeout+recordTimeout).After(until) // the first goes, as a single SET would
		if stop || late || ctx.Err() != nil {
			outcomes = append(outcomes, store.SETOutcome{ID: set.ID}) // not attempted: released
			continue
		}
		o := t.attempt(ctx, st, set)
		outcomes = append(outcomes, o.SETOutcome)
		tried = append(tried, o.outcome)
		stop = o.outcome == OutcomeRetried
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	now := t.cfg.Now()
	if err := t.cfg.Store.FinishSETs(rctx, claim, now, outcomes); err != nil {
		t.log.WarnContext(ctx, "ssf: cannot record pushes", "stream", st.ID, "cause", err.Error())
		if !errors.Is(err, store.ErrNotFound) {
			return
		}
	}
	if len(tried) == 0 {
		return
	}
	last := outcomes[len(tried)-1]
	if tried[0] != OutcomeRetried {
		t.active(rctx, st) // the receiver answered: it is there
	}
	t.health(rctx, st, last.State == store.SETPending, last.Error, now, &tried[len(tried)-1])
	if t.cfg.Observer != nil {
		for _, outcome := range tried {
			t.cfg.Observer.SSFPush(outcome)
		}
	}
}

// attempted is how one push went: what to record, and the outcome.
type attempted struct {
	store.SETOutcome
	outcome string
}

// attempt pushes one SET and says how it went.
func (t *Transmitter) attempt(ctx context.Context, st stream, set store.StreamSET) attempted {
	rejected, sendErr := t.send(ctx, st, set)
	now := t.cfg.Now()
	a := attempted{SETOutcome: store.SETOutcome{ID: set.ID, State: store.SETDelivered, Next: now}, outcome: OutcomeDelivered}
	switch {
	case rejected:
		a.State, a.outcome, a.Error = store.SETFailed, OutcomeFailed, sendErr.Error()
	case sendErr != nil:
		a.State, a.outcome, a.Error = store.SETPending, OutcomeRetried, sendErr.Error()
		a.Next = now.Add(t.backoff(set.Attempts))
	}
	level := slog.LevelDebug
	if a.outcome != OutcomeDelivered {
		level = slog.LevelInfo
	}
	t.log.Log(ctx, level, "ssf push", "stream", st.ID, "jti", set.JTI, "outcome", a.outcome, "attempt", set.Attempts,
		"cause", a.Error)
	return a
}

// health keeps the stream's FailingSince, and pauses the stream when its
// receiver has failed for longer than PauseAfter.
func (t *Transmitter) health(ctx context.Context, st stream, failed bool, cause string, now time.Time, outcome *string) {
	if failed == !st.FailingSince.IsZero() && (!failed || now.Sub(st.FailingSince) < t.cfg.PauseAfter) {
		return // nothing changes
	}
	_, err := t.cfg.Store.UpdateStream(ctx, st.ID, func(s store.Stream) (store.Stream, error) {
		cur, err := parse(s)
		if err != nil {
			return s, err
		}
		switch {
		case !failed:
			cur.FailingSince = time.Time{}
		case cur.FailingSince.IsZero():
			cur.FailingSince = now
		case now.Sub(cur.FailingSince) >= t.cfg.PauseAfter && cur.Status == StatusEnabled:
			cur.Status = StatusPaused
			cur.Reason = fmt.Sprintf("push to the receiver failing since %s: %s", cur.FailingSince.UTC().Format(time.RFC3339), cause)
			*outcome = OutcomePaused
			t.log.WarnContext(ctx, "ssf stream paused", "stream", st.ID, "reason", cur.Reason)
		}
		return cur.store()
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.log.WarnContext(ctx, "ssf: cannot record a stream's health", "stream", st.ID, "cause", err.Error())
	}
	if err == nil && *outcome == OutcomePaused {
		t.streamUpdated(ctx, st, now)
	}
}

// streamUpdated queues the stream-updated event of a stream tokend paused
// (SSF 1.0 §8.1.5): the receiver, unreachable now, gets it after the SETs
// held, once the stream is enabled again.
func (t *Transmitter) streamUpdated(ctx context.Context, st stream, now time.Time) {
	s, err := t.cfg.Store.GetStream(ctx, st.ID)
	if err == nil {
		st, err = parse(s)
	}
	var claims []byte
	jti := crand.Text()
	if err == nil {
		sig := signal{typ: EventStreamUpdated, txn: jti, subject: map[string]any{"format": "opaque", "id": st.ID},
			payload: map[string]any{"status": st.Status, "reason": st.Reason}}
		claims, err = t.claims(st, sig, jti, now)
	}
	if err == nil {
		set := store.StreamSET{StreamID: st.ID, JTI: jti, Claims: claims, NextAttempt: now, CreatedAt: now}
		err = t.cfg.Store.QueueSETs(ctx, "", 0, 0, []store.StreamSET{set})
	}
	if err != nil {
		t.log.WarnContext(ctx, "ssf: cannot queue a stream-updated event", "stream", st.ID, "cause", err.Error())
	}
}

// backoff is the wait after the attempt-th failed attempt.
func (t *Transmitter) backoff(attempt int) time.Duration {
	return outbound.Backoff(t.cfg.Backoff, t.cfg.MaxBackoff, attempt)
}

// send POSTs the SET, signed now (RFC 8935 §2). rejected is true when the
// receiver answered 400: it will not take this SET, sent again or not.
func (t *Transmitter) send(ctx context.Context, st stream, set store.StreamSET) (rejected bool, err error) {
	if st.Method != MethodPush || st.EndpointURL == "" {
		return false, errors.New("not a push stream")
	}
	jws, err := t.cfg.Tokens.MintSET(set.Claims)
	if err != nil {
		return false, fmt.Errorf("sign: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, st.EndpointURL, bytes.NewReader([]byte(jws)))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/secevent+jwt")
	req.Header.Set("Accept", "application/json")
	if st.AuthorizationHeader != "" {
		req.Header.Set("Authorization", st.AuthorizationHeader)
	}
	resp, err := t.http.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	switch {
	case resp.StatusCode/100 == 2:
		return false, nil
	case resp.StatusCode == http.StatusBadRequest:
		var pe ReceiveError
		if json.Unmarshal(body, &pe) == nil && pe.Err != "" {
			return true, fmt.Errorf("rejected: %s: %s", pe.Err, pe.Description)
		}
		return true, errors.New("rejected: 400 without an RFC 8935 error")
	}
	return false, fmt.Errorf("answered %d", resp.StatusCode)
}
