package store

import (
	"context"
	"errors"
	"time"
)

// ErrCursorMoved: a cursor was not where the caller read it, because
// another follower of the log moved it meanwhile; nothing was written.
var ErrCursorMoved = errors.New("store: cursor moved")

// The states of a LogoutDelivery.
const (
	LogoutPending   = "pending"   // to send, at NextAttempt
	LogoutDelivered = "delivered" // the client answered 2xx
	LogoutAbandoned = "abandoned" // given up: past the retry horizon, or the client has no URI any more
)

// LogoutDelivery is one Logout Token to send (OpenID Connect Back-Channel
// Logout 1.0): client ClientID is to learn that its grants in session
// SessionID, of Subject, were revoked by the revocation that logged event
// EventSeq.
type LogoutDelivery struct {
	ID        int64 // given by QueueLogouts
	ClientID  string
	SessionID string
	Subject   string
	EventSeq  int64
	// RevokedAt and Reason are the revocation's: with ClientID and
	// SessionID they say which revocation this is, of which a client is
	// told once per session however many of its grants it revoked.
	RevokedAt time.Time
	Reason    string
	State     string // LogoutPending, LogoutDelivered or LogoutAbandoned
	// Attempts counts the claims of the delivery: the attempts begun.
	Attempts    int
	NextAttempt time.Time // when it is due, while pending
	// Claim names the ClaimLogouts call that holds the delivery, until
	// ClaimedUntil; "" when none does.
	Claim        string
	ClaimedUntil time.Time
	CreatedAt    time.Time
	FinishedAt   time.Time // when it was delivered or abandoned; zero while pending
}

// LogoutOutcome is how the attempt at one claimed delivery ended, for
// FinishLogouts: State LogoutDelivered or LogoutAbandoned finishes it,
// LogoutPending makes it due again at Next.
type LogoutOutcome struct {
	ID    int64
	State string
	Next  time.Time
}

// Logouts keeps what back-channel logout needs to survive a restart and
// to run on several instances sharing one database: the position of each
// follower of the revocation log (a cursor, by name), and the Logout
// Tokens still to deliver.
type Logouts interface {
	// Cursor returns the position of the follower name: the Seq of the
	// last event it has handled, 0 when it has handled none.
	Cursor(ctx context.Context, name string) (int64, error)
	// QueueLogouts moves cursor name from from to to, and queues ds as
	// pending deliveries due at their NextAttempt, in one transaction. If
	// the cursor is not at from (0 for one never moved), it writes nothing
	// and returns ErrCursorMoved: another follower handled those events.
	// A delivery of the same ClientID, SessionID, RevokedAt and Reason as
	// one queued already is left out.
	QueueLogouts(ctx context.Context, name string, from, to int64, ds []LogoutDelivery) error
	// ClaimLogouts claims up to limit pending deliveries due at now that
	// no claim holds at now, the earliest due first: each is held by
	// claim until until, and counts one more attempt. A claim whose
	// holder dies lapses at until, and the delivery is claimed again.
	ClaimLogouts(ctx context.Context, claim string, now, until time.Time, limit int) ([]LogoutDelivery, error)
	// FinishLogout records how the attempt at delivery id under claim
	// ended: state LogoutDelivered or LogoutAbandoned finishes it at at;
	// LogoutPending makes it due again at next. Either way the claim is
	// released. ErrNotFound when claim does not hold the delivery (it
	// lapsed, and another claim took it).
	FinishLogout(ctx context.Context, id int64, claim, state string, at, next time.Time) error
	// FinishLogouts records, in one write, how the attempts at deliveries
	// held by claim ended, as FinishLogout does for one, at at. Each
	// claim is released. ErrNotFound when one of them is no longer held
	// by claim (its claim lapsed, and another may hold it); the others
	// are recorded.
	FinishLogouts(ctx context.Context, claim string, at time.Time, outcomes []LogoutOutcome) error
	// GetLogout returns the delivery id, or ErrNotFound.
	GetLogout(ctx context.Context, id int64) (LogoutDelivery, error)
	// CountLogouts counts the deliveries in state.
	CountLogouts(ctx context.Context, state string) (int64, error)
	// DeleteFinishedLogouts deletes up to limit deliveries delivered or
	// abandoned before before.
	DeleteFinishedLogouts(ctx context.Context, before time.Time, limit int) (int, error)
}
