package store

import (
	"context"
	"time"
)

// The states of a StreamSET.
const (
	SETPending   = "pending"   // to deliver: pushed at NextAttempt, or handed to the next poll
	SETDelivered = "delivered" // the receiver answered 202 (push) or acknowledged it (poll)
	SETFailed    = "failed"    // the receiver reported an error for it (RFC 8936 setErrs)
)

// Stream is one Shared Signals event stream (SSF 1.0 §8.1.1) as the store
// keeps it: what the transmitter selects and delivers by is in columns,
// the rest of its configuration is Config, JSON that package ssf owns.
type Stream struct {
	ID string
	// Owner is the client whose access token created the stream; "" for
	// one an admin created.
	Owner string
	// Method is the delivery method's URI: urn:ietf:rfc:8935 (push) or
	// urn:ietf:rfc:8936 (poll).
	Method string
	// Status is enabled, paused or disabled (SSF 1.0 §8.1.2); Reason
	// says why, "" when none was given.
	Status    string
	Reason    string
	Config    []byte
	CreatedAt time.Time
	UpdatedAt time.Time
}

// StreamSET is one Security Event Token (RFC 8417) queued for a stream:
// its claims, unsigned, signed anew at each attempt with the key active
// then; its jti, which the receiver acknowledges, stays.
type StreamSET struct {
	ID       int64 // given by QueueSETs; the stream's SETs go out in its order
	StreamID string
	JTI      string
	EventSeq int64 // the revocation log's event it came from; 0 for none (verification)
	Claims   []byte
	State    string // SETPending, SETDelivered or SETFailed
	// Attempts counts the push attempts begun.
	Attempts     int
	NextAttempt  time.Time
	Claim        string // the ClaimSETs call holding it until ClaimedUntil; "" for none
	ClaimedUntil time.Time
	// Error is the last failure: the receiver's error of a poll's setErrs
	// or of a push's 400, or why a push failed.
	Error      string
	CreatedAt  time.Time
	FinishedAt time.Time // when it was delivered or failed; zero while pending
}

// SETOutcome is how the push of one claimed SET ended, for FinishSETs.
type SETOutcome struct {
	ID    int64
	State string // SETDelivered, SETFailed, SETPending (retried at Next), or "" (not attempted)
	Next  time.Time
	Error string
}

// Streams keeps the Shared Signals transmitter's streams and the SETs
// queued for them, so that neither a restart nor a crash loses one.
type Streams interface {
	CreateStream(ctx context.Context, s Stream) error // ErrAlreadyExists
	GetStream(ctx context.Context, id string) (Stream, error)
	// ListStreams returns the streams by ID.
	ListStreams(ctx context.Context) ([]Stream, error)
	// UpdateStream applies fn to the stored stream in one transaction and
	// returns what it stored. ErrNotFound when there is none.
	UpdateStream(ctx context.Context, id string, fn func(Stream) (Stream, error)) (Stream, error)
	// DeleteStream deletes the stream and its SETs. ErrNotFound when
	// there is none.
	DeleteStream(ctx context.Context, id string) error
	// QueueSETs moves cursor name from from to to and queues sets as
	// pending, in one transaction, as QueueLogouts does (ErrCursorMoved);
	// with name "" it queues sets alone. A SET whose stream already has
	// its jti, or that names a stream that is gone, is left out.
	QueueSETs(ctx context.Context, name string, from, to int64, sets []StreamSET) error
	// PendingSETs returns up to limit pending SETs of the stream, the
	// oldest first.
	PendingSETs(ctx context.Context, streamID string, limit int) ([]StreamSET, error)
	// AckSETs finishes pending SETs of the stream at at: those whose jti
	// is in acks are delivered, those in errs failed with errs' text.
	// Unknown and finished jtis are ignored (RFC 8936 §2.4: an
	// acknowledgement may come twice).
	AckSETs(ctx context.Context, streamID string, acks []string, errs map[string]string, at time.Time) error
	// ClaimSETs claims, of up to limit enabled push streams whose oldest
	// pending SET is due at now and held by no claim, that SET and the
	// pending ones after it, up to perStream in all: a run, which one
	// claimer pushes in order, so that a stream's SETs go out in order
	// and its next run is claimed only once this one is finished. Each is
	// held by claim until until and counts one more attempt. They come
	// in the order of their IDs.
	ClaimSETs(ctx context.Context, claim string, now, until time.Time, limit, perStream int) ([]StreamSET, error)
	// FinishSETs records, in one write, how the push attempts of SETs held
	// by claim ended, as FinishLogout does for one: SETDelivered or
	// SETFailed finishes it at at, SETPending makes it due again at Next
	// with Error as its Error, and "" (not attempted: an earlier SET of
	// its run is to be retried first) releases it, its attempt uncounted.
	// ErrNotFound when one of them is no longer held by claim (its claim
	// lapsed, and another may hold it); the others are recorded.
	FinishSETs(ctx context.Context, claim string, at time.Time, outcomes []SETOutcome) error
	// CountSETs counts the SETs of the stream in state.
	CountSETs(ctx context.Context, streamID, state string) (int64, error)
	// DeleteFinishedSETs deletes up to limit SETs finished before before.
	DeleteFinishedSETs(ctx context.Context, before time.Time, limit int) (int, error)
}
