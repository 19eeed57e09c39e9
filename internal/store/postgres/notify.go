package postgres

import (
	"context"
	"fmt"
	"log/slog"
)

// notifyChannel is the LISTEN/NOTIFY channel on which instances sharing a
// database tell each other that the revocation log has grown.
const notifyChannel = "tokend_revocations"

// Notify tells the other instances listening on the database that a
// revocation has committed, so their feeds read the log at once instead of
// at their next poll. It returns at once: notifications are sent by one
// goroutine, and a burst of revocations while one is being sent becomes a
// single further notification (each one only means "read the log").
//
// NOTIFY is sent after the revocation's own transaction, never inside it:
// a notifying transaction takes a database-wide lock at commit, which would
// serialise every revocation.
func (s *Store) Notify() {
	s.notifyOnce.Do(func() {
		s.notifyCh = make(chan struct{}, 1)
		go s.sendNotifications()
	})
	select {
	case s.notifyCh <- struct{}{}:
	default: // one is pending already; it covers this revocation too
	}
}

// NotifyNow sends the notification Notify would, and returns once it is
// sent: for a short-lived process (the CLI) that would exit before
// Notify's goroutine ran.
func (s *Store) NotifyNow(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, "SELECT pg_notify($1, '')", notifyChannel)
	return err
}

func (s *Store) sendNotifications() {
	for {
		select {
		case <-s.stop:
			return
		case <-s.notifyCh:
		}
		if _, err := s.pool.Exec(context.Background(), "SELECT pg_notify($1, '')", notifyChannel); err != nil {
			// Listeners still poll the log, so a lost notification only
			// delays them.
			s.log.Debug("postgres: notify", slog.String("cause", err.Error()))
		}
	}
}

// Listen calls nudge for every notification on the channel until ctx ends
// or the connection fails (feed.Notifier). The caller restarts it and
// catches up from the log's sequence number, so a dropped connection loses
// nothing.
func (s *Store) Listen(ctx context.Context, nudge func()) error {
	pooled, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: listen: %w", err)
	}
	// The connection keeps LISTEN state: take it out of the pool for good.
	conn := pooled.Hijack()
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		return fmt.Errorf("postgres: listen: %w", err)
	}
	nudge() // events may have landed while we were not listening
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("postgres: listen: %w", err)
		}
		nudge()
	}
}
