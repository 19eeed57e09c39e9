package revocation

import (
	"context"
	"time"

	"github.com/tokend/tokend/internal/store"
)

// RotateRefresh exchanges the refresh token old, presented by caller, for
// tokens (RFC 6749 §6), as store.RotateRefresh does. now is the rotation's
// instant, the new tokens' IssuedAt: a refresh token rotated already that
// is presented again has its grant revoked at now, for refresh_reuse with
// the caller as actor (RFC 9700 §4.14.2), and store.ErrRefreshReused is
// returned.
func (e *Engine) RotateRefresh(ctx context.Context, caller store.Client, old store.Hash, now time.Time, tokens []store.Token) (store.TokenRecord, error) {
	return e.Store.RotateRefresh(ctx, old, now, tokens, store.Revocation{
		Time: now, Reason: store.ReasonRefreshReuse, Actor: caller.ID,
	})
}

// ChangePassword applies fn, which sets the user's new password hash, to
// the stored user named username, and revokes every live grant of the user
// in the same transaction, for password_change by actor: whoever held the
// old password loses what it obtained.
func (e *Engine) ChangePassword(ctx context.Context, username, actor string, fn func(store.User) (store.User, error)) (store.RevokeResult, error) {
	return e.Store.UpdateUser(ctx, username, fn, &store.Revocation{
		Time: e.now(), Reason: store.ReasonPasswordChange, Actor: actor,
	})
}

// DisableUser applies fn, which disables the user, to the stored user
// named username, and revokes every live grant of the user in the same
// transaction, for user_disabled by actor. fn may make other changes too
// (a password): the grants are revoked once, for this reason.
func (e *Engine) DisableUser(ctx context.Context, username, actor string, fn func(store.User) (store.User, error)) (store.RevokeResult, error) {
	return e.Store.UpdateUser(ctx, username, fn, &store.Revocation{
		Time: e.now(), Reason: store.ReasonUserDisabled, Actor: actor,
	})
}

// ChangeUser applies fn to the stored user named username and revokes
// nothing: a change that is neither a password change nor a disable (an
// enable, a new name or email). The store logs, in the same transaction,
// what the change tells the log's followers as subject entries by actor
// (store.SubjectEntries): user_enabled when the user was disabled and no
// longer is, claims_changed when claims tokend releases changed.
func (e *Engine) ChangeUser(ctx context.Context, username, actor string, fn func(store.User) (store.User, error)) (store.RevokeResult, error) {
	return e.Store.UpdateUser(ctx, username, fn, &store.Revocation{Time: e.now(), Actor: actor})
}

// DeleteUser removes the user named username and revokes every grant of
// the user, atomically, for user_deleted by actor.
func (e *Engine) DeleteUser(ctx context.Context, username, actor string) (store.RevokeResult, error) {
	return e.Store.DeleteUser(ctx, username, store.Revocation{
		Time: e.now(), Reason: store.ReasonUserDeleted, Actor: actor,
	})
}

// DeleteClient removes the client and revokes every grant of it,
// atomically, for client_deleted by actor (RFC 7592 §2.3).
func (e *Engine) DeleteClient(ctx context.Context, clientID, actor string) (store.RevokeResult, error) {
	return e.Store.DeleteClient(ctx, clientID, store.Revocation{
		Time: e.now(), Reason: store.ReasonClientDeleted, Actor: actor,
	})
}

// RotateSecret applies fn, which gives the client its new secret, to the
// stored client, and revokes every live grant of the client in the same
// transaction, for secret_rotated by actor: tokens obtained with the old
// secret stop with it.
func (e *Engine) RotateSecret(ctx context.Context, clientID, actor string, fn func(store.Client) (store.Client, error)) (store.RevokeResult, error) {
	return e.Store.UpdateClient(ctx, clientID, fn, &store.Revocation{
		Time: e.now(), Reason: store.ReasonSecretRotated, Actor: actor,
	})
}

// RevokeGlobal revokes every live grant of the user whose ID is subject,
// refresh and access tokens alike, one event per grant, for admin by actor
// (draft-parecki-oauth-global-token-revocation-05 §3.3). An empty subject
// is ErrNoFilter: it names no user, and the store would take it for none.
func (e *Engine) RevokeGlobal(ctx context.Context, subject, actor string) (store.RevokeResult, error) {
	if subject == "" {
		return store.RevokeResult{}, ErrNoFilter
	}
	return e.Store.RevokeMatching(ctx, store.Filter{Subject: subject}, store.Revocation{
		Time: e.now(), Reason: store.ReasonAdmin, Actor: actor,
	})
}
