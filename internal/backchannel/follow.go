package backchannel

import (
	"context"
	"errors"

	"github.com/tokend/tokend/internal/outbound"
	"github.com/tokend/tokend/internal/store"
)

// follow queues the deliveries of the log's new events whenever nudged,
// and at every poll, until ctx ends.
func (f *Follower) follow(ctx context.Context) {
	defer f.wg.Done()
	outbound.Loop(ctx, f.log, "backchannel", "follow the revocation log", f.cfg.Poll, f.nudge, func(ctx context.Context) error {
		n, err := f.queueNew(ctx)
		if n > 0 {
			outbound.Signal(f.due)
		}
		return err
	})
}

// queueNew reads the log from the cursor and queues the deliveries of
// what it reads, a batch at a time, moving the cursor past each batch in
// the same transaction. When another instance moved the cursor first, it
// queued that batch: this one reads on from where the cursor is now.
func (f *Follower) queueNew(ctx context.Context) (queued int, err error) {
	for {
		from, err := f.cfg.Store.Cursor(ctx, CursorName)
		if err != nil {
			return queued, err
		}
		evs, err := f.cfg.Store.Events(ctx, from, f.cfg.Batch)
		if err != nil || len(evs) == 0 {
			return queued, err
		}
		ds, err := f.deliveries(ctx, evs)
		if err != nil {
			return queued, err
		}
		switch err := f.cfg.Store.QueueLogouts(ctx, CursorName, from, evs[len(evs)-1].Seq, ds); {
		case errors.Is(err, store.ErrCursorMoved):
			continue
		case err != nil:
			return queued, err
		}
		queued += len(ds)
		if len(evs) < f.cfg.Batch {
			return queued, nil
		}
	}
}

// deliveries are the deliveries evs call for, due at once: one per event
// of a grant (never a subject entry) made in a session whose client has a back-channel logout
// URI, but for a client's own revocation request, which it knows of, and
// for events past the retry horizon, which would be abandoned unsent.
// The store leaves out those of a revocation queued already for the same
// client and session.
func (f *Follower) deliveries(ctx context.Context, evs []store.Event) ([]store.LogoutDelivery, error) {
	now := f.cfg.Now()
	listens := map[string]bool{} // by client ID: has a back-channel logout URI
	var ds []store.LogoutDelivery
	for _, e := range evs {
		if e.SubjectLevel() || e.SessionID == "" || e.Reason == store.ReasonClientRequest || now.Sub(e.Time) >= f.cfg.Horizon {
			continue
		}
		has, known := listens[e.ClientID]
		if !known {
			c, err := f.cfg.Store.GetClient(ctx, e.ClientID)
			switch {
			case errors.Is(err, store.ErrNotFound): // deleted: nowhere to send to
			case err != nil:
				return nil, err
			default:
				has = c.BackchannelLogoutURI != ""
			}
			listens[e.ClientID] = has
		}
		if has {
			ds = append(ds, store.LogoutDelivery{
				ClientID: e.ClientID, SessionID: e.SessionID, Subject: e.Subject, EventSeq: e.Seq,
				RevokedAt: e.Time, Reason: e.Reason, NextAttempt: now, CreatedAt: now,
			})
		}
	}
	return ds, nil
}
