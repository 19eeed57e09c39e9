package revocation

import (
	"context"
	"time"

	"github.com/tokend/tokend/internal/store"
)

// EndSession ends the browser session sid (sign-out) and revokes, in the
// same transaction, every live grant made in it whose scope lacks
// offline_access, for session_ended by actor: the offline ones outlive the
// session (OpenID Connect Core §11).
func (e *Engine) EndSession(ctx context.Context, sid, actor string) (store.RevokeResult, error) {
	now := e.now()
	return e.Store.EndSession(ctx, sid, now, store.Revocation{
		Time: now, Reason: store.ReasonSessionEnded, Actor: actor,
	})
}

// ForgetConsent forgets the user's consent to the client and revokes, in
// the same transaction, every live grant of the client for the user, for
// consent_revoked by actor: what the consent allowed stops with it.
func (e *Engine) ForgetConsent(ctx context.Context, userID, clientID, actor string) (store.RevokeResult, error) {
	return e.Store.DeleteConsent(ctx, userID, clientID, store.Revocation{
		Time: e.now(), Reason: store.ReasonConsentRevoked, Actor: actor,
	})
}

// ExchangeAuthCode exchanges the authorization code with hash h, presented
// by caller, for grant and its tokens (RFC 6749 §4.1.3), as
// store.ExchangeAuthCode does. now is the exchange's instant, the tokens'
// IssuedAt: a code exchanged already has the grant it produced revoked at
// now, for code_reuse with the caller as actor (RFC 6749 §4.1.2), and
// store.ErrCodeReused is returned.
func (e *Engine) ExchangeAuthCode(ctx context.Context, caller store.Client, h store.Hash, now time.Time, grant store.Grant, tokens []store.Token) (store.AuthCode, error) {
	return e.Store.ExchangeAuthCode(ctx, h, now, grant, tokens, store.Revocation{
		Time: now, Reason: store.ReasonCodeReuse, Actor: caller.ID,
	})
}
