package ssf

import (
	"context"
	"errors"

	"github.com/tokend/tokend/internal/outbound"
	"github.com/tokend/tokend/internal/store"
)

// follow queues the SETs of the log's new events whenever nudged, and at
// every poll, until ctx ends.
func (t *Transmitter) follow(ctx context.Context) {
	defer t.wg.Done()
	outbound.Loop(ctx, t.log, "ssf", "follow the revocation log", t.cfg.Poll, t.nudge, func(ctx context.Context) error {
		n, err := t.queueNew(ctx)
		if n > 0 {
			t.queued()
		}
		return err
	})
}

// queueNew reads the log from the cursor and queues the SETs of what it
// reads, a batch at a time, moving the cursor past each batch in the same
// transaction. When another instance moved the cursor first, it queued
// that batch: this one reads on from where the cursor is now.
func (t *Transmitter) queueNew(ctx context.Context) (queued int, err error) {
	for {
		from, err := t.cfg.Store.Cursor(ctx, CursorName)
		if err != nil {
			return queued, err
		}
		evs, err := t.cfg.Store.Events(ctx, from, t.cfg.Batch)
		if err != nil || len(evs) == 0 {
			return queued, err
		}
		sets, err := t.setsFor(ctx, evs)
		if err != nil {
			return queued, err
		}
		switch err := t.cfg.Store.QueueSETs(ctx, CursorName, from, evs[len(evs)-1].Seq, sets); {
		case errors.Is(err, store.ErrCursorMoved):
			continue
		case err != nil:
			return queued, err
		}
		queued += len(sets)
		if len(evs) < t.cfg.Batch {
			return queued, nil
		}
	}
}

// setsFor are the SETs evs call for on every stream that is not
// disabled. Signals of one revocation that several events carry are
// queued once per stream: their jti is the same.
func (t *Transmitter) setsFor(ctx context.Context, evs []store.Event) ([]store.StreamSET, error) {
	all, err := t.cfg.Store.ListStreams(ctx)
	if err != nil || len(all) == 0 {
		return nil, err
	}
	streams := make([]stream, 0, len(all))
	for _, s := range all {
		st, err := parse(s)
		if err != nil {
			return nil, err
		}
		if st.Status != StatusDisabled {
			streams = append(streams, st)
		}
	}
	now := t.cfg.Now()
	users := map[string]*store.User{}
	seen := map[string]bool{}
	var sets []store.StreamSET
	for _, ev := range evs {
		sigs, err := t.signals(ctx, ev, users)
		if err != nil {
			return nil, err
		}
		for _, sig := range sigs {
			for _, st := range streams {
				jti := jtiOf(st.ID, sig.typ, sig.key)
				if seen[jti] || !st.wants(sig, ev.Time) {
					continue
				}
				seen[jti] = true
				claims, err := t.claims(st, sig, jti, now)
				if err != nil {
					return nil, err
				}
				sets = append(sets, store.StreamSET{StreamID: st.ID, JTI: jti, EventSeq: sig.seq, Claims: claims,
					NextAttempt: now, CreatedAt: now})
			}
		}
	}
	return sets, nil
}
