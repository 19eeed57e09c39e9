package revocation

import (
	"context"
	"errors"

	"github.com/tokend/tokend/internal/store"
)

// RemoveAccess revokes every live grant of the user whose ID is userID for
// the client, and forgets the user's consent to it, in one transaction,
// for user_request by actor: the person removed the app from their
// account page, so it must ask again. Without a remembered consent the
// grants alone are revoked, in one transaction too. An empty userID or
// clientID is ErrNoFilter: the store would take it for no filter.
func (e *Engine) RemoveAccess(ctx context.Context, userID, clientID, actor string) (store.RevokeResult, error) {
	if userID == "" || clientID == "" {
		return store.RevokeResult{}, ErrNoFilter
	}
	rev := store.Revocation{Time: e.now(), Reason: store.ReasonUserRequest, Actor: actor}
	res, err := e.Store.DeleteConsent(ctx, userID, clientID, rev)
	if !errors.Is(err, store.ErrNotFound) {
		return res, err
	}
	return e.Store.RevokeMatching(ctx, store.Filter{Subject: userID, ClientID: clientID}, rev)
}

// ChangeOwnPassword is ChangePassword by the user named username, from
// their browser session keepSession: every live grant of the user is
// revoked and every other session ends, in the same transaction as the
// new password, for password_change by the user, and keepSession goes on
// (as WSO2 does), so the person is not signed out where they changed it.
func (e *Engine) ChangeOwnPassword(ctx context.Context, username, keepSession string, fn func(store.User) (store.User, error)) (store.RevokeResult, error) {
	return e.Store.UpdateUser(ctx, username, fn, &store.Revocation{
		Time: e.now(), Reason: store.ReasonPasswordChange, Actor: username, KeepSession: keepSession,
	})
}
