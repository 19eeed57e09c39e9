package ssf

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tokend/tokend/internal/outbound"
	"github.com/tokend/tokend/internal/store"
)

// activityEvery is the least time between two writes of a stream's
// receiver activity: a receiver that polls every second costs one write
// a minute, not one a poll. The inactivity timeout is counted from the
// last write, so a stream may be paused up to this much early; the
// timeout is days by default.
const activityEvery = time.Minute

// lastActive is when the stream's receiver was last known active: its
// last recorded activity, or the stream's creation.
func (st stream) lastActive() time.Time {
	if st.LastActivity.After(st.CreatedAt) {
		return st.LastActivity
	}
	return st.CreatedAt
}

// inactive reports whether st is enabled and its receiver has not been
// active for the inactivity timeout at now.
func (t *Transmitter) inactive(st stream, now time.Time) bool {
	return t.cfg.InactivityTimeout > 0 && st.Status == StatusEnabled && now.Sub(st.lastActive()) >= t.cfg.InactivityTimeout
}

// active records that st's receiver was active at now: it called the
// management API, polled, or took a pushed SET. It writes only when the
// activity recorded is older than activityEvery; a failure to record is
// logged, not the caller's. The reads that lead here read st anyway, so
// a receiver's call costs no extra read.
func (t *Transmitter) active(ctx context.Context, st stream) {
	now := t.cfg.Now()
	if now.Sub(st.lastActive()) < activityEvery {
		return
	}
	_, err := t.cfg.Store.UpdateStream(ctx, st.ID, func(s store.Stream) (store.Stream, error) {
		cur, err := parse(s)
		if err != nil {
			return s, err
		}
		cur.LastActivity = later(cur.LastActivity, now)
		return cur.store()
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.log.WarnContext(ctx, "ssf: cannot record a receiver's activity", "stream", st.ID, "cause", err.Error())
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// expire pauses the inactive streams (inactive) until ctx ends: it looks
// at every Poll, and reads the streams when a minute has passed on the
// transmitter's clock since it last did, or a quarter of the timeout
// when that is shorter.
func (t *Transmitter) expire(ctx context.Context) {
	defer t.wg.Done()
	if t.cfg.InactivityTimeout <= 0 {
		return
	}
	every := min(time.Minute, t.cfg.InactivityTimeout/4)
	var checked time.Time
	outbound.Loop(ctx, t.log, "ssf", "pause inactive streams", t.cfg.Poll, nil, func(ctx context.Context) error {
		now := t.cfg.Now()
		if now.Sub(checked) < every {
			return nil
		}
		if err := t.pauseInactive(ctx, now); err != nil {
			return err
		}
		checked = now
		return nil
	})
}

// pauseInactive pauses every enabled stream whose receiver has not been
// active for the inactivity timeout (SSF 1.0 §8.1.1 inactivity_timeout
// lets the transmitter pause, disable or delete it). Paused, not
// disabled: nothing revoked meanwhile is lost to a receiver that comes
// back; it sees the status and its reason, enables the stream, and gets
// the SETs held and then the stream-updated event of the pause.
func (t *Transmitter) pauseInactive(ctx context.Context, now time.Time) error {
	all, err := t.cfg.Store.ListStreams(ctx)
	if err != nil {
		return err
	}
	for _, s := range all {
		st, err := parse(s)
		if err != nil {
			return err
		}
		if !t.inactive(st, now) {
			continue
		}
		paused := false
		_, err = t.cfg.Store.UpdateStream(ctx, st.ID, func(s store.Stream) (store.Stream, error) {
			cur, err := parse(s)
			if err != nil || !t.inactive(cur, now) { // active again, or paused, meanwhile
				return s, err
			}
			cur.Status, cur.UpdatedAt = StatusPaused, now
			cur.Reason = fmt.Sprintf("inactivity_timeout: no activity of the receiver for %d s (since %s)",
				int64(t.cfg.InactivityTimeout.Seconds()), cur.lastActive().UTC().Format(time.RFC3339))
			paused = true
			return cur.store()
		})
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if paused {
			t.log.WarnContext(ctx, "ssf stream paused", "stream", st.ID, "cause", "inactivity_timeout")
			t.streamUpdated(ctx, st, now)
		}
	}
	return nil
}
