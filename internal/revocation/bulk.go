package revocation

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tokend/tokend/internal/store"
)

// Reasons are the reasons the revocation log records (store.Reason*). An
// admin's bulk revocation may give any of them; ReasonAdmin is the default.
var Reasons = []string{
	store.ReasonAdmin,
	store.ReasonClientRequest,
	store.ReasonRefreshReuse,
	store.ReasonPasswordChange,
	store.ReasonUserDisabled,
	store.ReasonUserDeleted,
	store.ReasonClientDeleted,
	store.ReasonSecretRotated,
	store.ReasonCodeReuse,
	store.ReasonSessionEnded,
	store.ReasonConsentRevoked,
}

// Errors of a bulk revocation that the caller asked wrongly.
var (
	// ErrNoFilter: neither a subject nor a client was named. Revoking
	// every grant is not something one request may do by accident.
	ErrNoFilter = errors.New("revocation: a bulk revocation needs a subject, a username or a client_id")
	// ErrSubjectAndUsername: both were given; they name the same thing.
	ErrSubjectAndUsername = errors.New("revocation: give a subject or a username, not both")
	// ErrUnknownUser: the username names no user.
	ErrUnknownUser = errors.New("revocation: no such user")
	// ErrUnknownReason: the reason is not one of Reasons.
	ErrUnknownReason = fmt.Errorf("revocation: reason must be one of %s", strings.Join(Reasons, ", "))
)

// Bulk selects the grants of a bulk revocation: every live grant of a
// subject, of a client, or of the pair.
type Bulk struct {
	// Subject is the grants' subject: a user's ID (the "sub" of the user's
	// tokens), a client's ID for its client_credentials grants, or
	// "<sub>@<iss>" for an upstream issuer's subject (JWT bearer grant).
	Subject string
	// Username may be given instead of Subject; it is resolved to the
	// user's ID.
	Username string
	ClientID string
	// Reason is recorded in the log; "" means store.ReasonAdmin.
	Reason string
	// Actor is recorded in the log; "" means "admin".
	Actor string
}

// filter checks b and returns the store filter it selects and its
// revocation reason, resolving a username with users.
func (b Bulk) filter(ctx context.Context, users interface {
	GetUser(ctx context.Context, username string) (store.User, error)
}) (store.Filter, string, error) {
	reason := b.Reason
	if reason == "" {
		reason = store.ReasonAdmin
	}
	if !slices.Contains(Reasons, reason) {
		return store.Filter{}, "", ErrUnknownReason
	}
	f := store.Filter{Subject: b.Subject, ClientID: b.ClientID}
	if b.Username != "" {
		if b.Subject != "" {
			return store.Filter{}, "", ErrSubjectAndUsername
		}
		u, err := users.GetUser(ctx, b.Username)
		if errors.Is(err, store.ErrNotFound) {
			return store.Filter{}, "", fmt.Errorf("%w: %q", ErrUnknownUser, b.Username)
		}
		if err != nil {
			return store.Filter{}, "", fmt.Errorf("revocation: look up user: %w", err)
		}
		f.Subject = u.ID
	}
	if f.Subject == "" && f.ClientID == "" {
		return store.Filter{}, "", ErrNoFilter
	}
	return f, reason, nil
}

// RevokeBulk revokes every live grant that b selects, in one transaction
// with one log event per grant (store.RevokeMatching).
func (e *Engine) RevokeBulk(ctx context.Context, b Bulk) (store.RevokeResult, error) {
	f, reason, err := b.filter(ctx, e.Store)
	if err != nil {
		return store.RevokeResult{}, err
	}
	actor := b.Actor
	if actor == "" {
		actor = "admin"
	}
	res, err := e.Store.RevokeMatching(ctx, f, store.Revocation{Time: e.now(), Reason: reason, Actor: actor})
	if err != nil {
		return store.RevokeResult{}, fmt.Errorf("revocation: revoke matching grants: %w", err)
	}
	return res, nil
}

// IsBadBulk reports whether err refuses a bulk revocation for how it was
// asked (an answer of 400 or 404), rather than a failure of the store.
func IsBadBulk(err error) bool {
	return errors.Is(err, ErrNoFilter) || errors.Is(err, ErrSubjectAndUsername) ||
		errors.Is(err, ErrUnknownUser) || errors.Is(err, ErrUnknownReason)
}
