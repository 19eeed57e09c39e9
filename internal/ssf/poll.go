package ssf

import (
	"context"
	"strings"
	"time"

	"github.com/tokend/tokend/internal/store"
)

// MaxPollEvents bounds the SETs one poll returns, whatever maxEvents says.
const MaxPollEvents = 1000

// PollRequest is the body of a poll (RFC 8936 §2.4).
type PollRequest struct {
	// MaxEvents is how many SETs to return at most; 0 returns none (the
	// poll only acknowledges); absent returns up to MaxPollEvents.
	MaxEvents *int `json:"maxEvents"`
	// ReturnImmediately: answer at once, even with no SET; else wait up
	// to LongPoll for one (long polling).
	ReturnImmediately bool                `json:"returnImmediately"`
	Ack               []string            `json:"ack"`
	SetErrs           map[string]SETError `json:"setErrs"`
}

// SETError is a receiver's error for a SET (RFC 8936 §2.4.4).
type SETError struct {
	Err         string `json:"err"`
	Description string `json:"description"`
}

// PollResponse is a poll's answer (RFC 8936 §2.5): SETs by jti.
type PollResponse struct {
	Sets          map[string]string `json:"sets"`
	MoreAvailable bool              `json:"moreAvailable"`
}

// Poll acknowledges what req acknowledges, then returns the caller's poll
// stream's pending SETs, the oldest first, each signed now. A SET stays
// pending, and comes in every poll, until acknowledged or reported.
func (t *Transmitter) Poll(ctx context.Context, c Caller, id string, req PollRequest) (PollResponse, error) {
	st, err := t.get(ctx, c, id)
	if err != nil {
		return PollResponse{}, err
	}
	if st.Method != MethodPoll {
		return PollResponse{}, invalid("stream %q is delivered by push", id)
	}
	t.active(ctx, st)
	errs := make(map[string]string, len(req.SetErrs))
	for jti, e := range req.SetErrs {
		errs[jti] = strings.TrimSpace(e.Err + ": " + e.Description)
	}
	if err := t.cfg.Store.AckSETs(ctx, id, req.Ack, errs, t.cfg.Now()); err != nil {
		return PollResponse{}, err
	}
	limit := MaxPollEvents
	if req.MaxEvents != nil {
		limit = min(max(*req.MaxEvents, 0), MaxPollEvents)
	}
	out := PollResponse{Sets: map[string]string{}}
	if limit == 0 || st.Status != StatusEnabled {
		return out, nil
	}
	sets, err := t.waitPending(ctx, id, limit+1, !req.ReturnImmediately)
	if err != nil {
		return PollResponse{}, err
	}
	if len(sets) > limit {
		sets, out.MoreAvailable = sets[:limit], true
	}
	for _, s := range sets {
		jws, err := t.cfg.Tokens.MintSET(s.Claims)
		if err != nil {
			return PollResponse{}, err
		}
		out.Sets[s.JTI] = jws
	}
	return out, nil
}

// waitPending reads the stream's pending SETs; when there are none and
// wait is set, it reads again whenever SETs are queued here, and at every
// Poll for those another instance queued, until LongPoll has passed; but
// not when LongPolls polls wait already.
func (t *Transmitter) waitPending(ctx context.Context, id string, limit int, wait bool) ([]store.StreamSET, error) {
	deadline := time.NewTimer(t.cfg.LongPoll)
	defer deadline.Stop()
	tick := time.NewTicker(t.cfg.Poll)
	defer tick.Stop()
	holding := false
	defer func() {
		if holding {
			<-t.waiting
		}
	}()
	for {
		woken := t.woken()
		sets, err := t.cfg.Store.PendingSETs(ctx, id, limit)
		if err != nil || len(sets) > 0 || !wait {
			return sets, err
		}
		if !holding {
			select {
			case t.waiting <- struct{}{}:
				holding = true
			default: // LongPolls are waiting already: answer now
				return sets, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-deadline.C:
			return nil, nil
		case <-woken:
		case <-tick.C:
		}
	}
}

// StreamStats are a stream's figures, for the metrics.
type StreamStats struct {
	ID                         string
	Pending, Delivered, Failed int64
	// Lag is the age of the oldest pending SET; 0 when none is.
	Lag time.Duration
}

// Stats returns every stream's figures.
func (t *Transmitter) Stats(ctx context.Context) ([]StreamStats, error) {
	all, err := t.cfg.Store.ListStreams(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]StreamStats, 0, len(all))
	for _, s := range all {
		ss := StreamStats{ID: s.ID}
		for state, n := range map[string]*int64{store.SETPending: &ss.Pending, store.SETDelivered: &ss.Delivered, store.SETFailed: &ss.Failed} {
			if *n, err = t.cfg.Store.CountSETs(ctx, s.ID, state); err != nil {
				return nil, err
			}
		}
		if ss.Pending > 0 {
			head, err := t.cfg.Store.PendingSETs(ctx, s.ID, 1)
			if err != nil {
				return nil, err
			}
			if len(head) == 1 {
				ss.Lag = t.cfg.Now().Sub(head[0].CreatedAt)
			}
		}
		out = append(out, ss)
	}
	return out, nil
}
