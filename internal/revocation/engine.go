package revocation

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/token"
)

// ErrNotOwner: the token was issued to another client. RFC 7009 §2.1 has
// the server refuse such a request; the token is left untouched.
var ErrNotOwner = errors.New("revocation: token was issued to another client")

// Engine revokes tokens. It has one method per cause of a revocation:
// a client's request (RevokeToken), a reused refresh token
// (RotateRefresh), a password change, a disabled or deleted user, a
// deleted client, a rotated secret, an admin's bulk revocation (RevokeBulk),
// a global token revocation (RevokeGlobal), a sign-out (EndSession), a
// withdrawn consent (ForgetConsent) and a reused authorization code
// (ExchangeAuthCode). Each is one store call
// that makes the change and revokes with it, appending one log event per
// revoked grant with the cause's reason, the actor the caller names and
// the time of the engine's clock (RotateRefresh and ExchangeAuthCode: the
// exchange's).
//
// The methods other than RevokeToken and RevokeBulk return the store's
// errors, and those of an update function, unwrapped: callers tell
// store.ErrNotFound, their own validation errors and the store's failures
// apart by them, and report them as they are.
type Engine struct {
	Store store.Store
	// JWT verifies JWT access tokens before any store access; nil treats
	// every JWT as unknown.
	JWT *token.JWTs
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Outcome is what a revocation request did.
type Outcome struct {
	// Revoked is true when this request revoked the grant; false for an
	// unknown, expired or already revoked token (RFC 7009 §2.2: still a
	// success for the caller).
	Revoked bool
	// Kind is the kind of the presented token, when it was found.
	Kind store.TokenKind
	// Token is the token's record, when it was found.
	Token store.TokenRecord
	// Result is what the store revoked.
	Result store.RevokeResult
}

// Recognise reports the kind of a token tokend issued, from the token
// alone: an opaque token by its prefix and checksum, a JWT access token by
// its signature and issuer (jwts may be nil: no JWTs). ok is false for
// anything else, which callers answer as unknown without a store read.
func Recognise(jwts *token.JWTs, raw string) (kind store.TokenKind, ok bool) {
	if kind, ok := token.Parse(raw); ok {
		return kind, true
	}
	if jwts == nil || !token.LooksLikeJWT(raw) {
		return "", false
	}
	if _, err := jwts.Verify(raw); err != nil {
		return "", false
	}
	return store.AccessToken, true
}

// At returns a copy of e whose clock is stopped at t: for a change that
// stamps what it updates with t and logs its revocation at that instant.
func (e *Engine) At(t time.Time) *Engine {
	at := *e
	at.Now = func() time.Time { return t }
	return &at
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// RevokeToken revokes the grant of raw on behalf of caller (RFC 7009 §2.1).
//
// The opaque format names its own kind, so one lookup by hash finds the
// token whatever the hint: token_type_hint only ever saves a lookup, and
// here there is none to save. A token that fails its checksum, and a JWT
// that is forged, signed by an unknown key or not ours, is answered without
// touching the store.
func (e *Engine) RevokeToken(ctx context.Context, caller store.Client, raw string) (Outcome, error) {
	kind, ok := Recognise(e.JWT, raw)
	if !ok {
		return Outcome{}, nil
	}
	now := e.now()
	rec, res, err := e.Store.RevokeToken(ctx, store.HashToken(raw), kind, caller.ID, store.Revocation{
		Time:   now,
		Reason: store.ReasonClientRequest,
		Actor:  caller.ID,
	})
	if errors.Is(err, store.ErrNotFound) {
		return Outcome{}, nil
	}
	if err != nil {
		return Outcome{}, fmt.Errorf("revocation: revoke token: %w", err)
	}
	if rec.ClientID != caller.ID {
		return Outcome{}, ErrNotOwner
	}
	if rec.Revoked {
		return Outcome{Kind: kind, Token: rec}, nil
	}
	// An expired token is answered as an invalid one (RFC 7009 §2.2: no
	// Revoked headers), but its grant is revoked all the same: whoever
	// revokes an old access token wants the refresh token that came with
	// it stopped too.
	expired := !now.Before(rec.ExpiresAt)
	return Outcome{Revoked: res.Grants > 0 && !expired, Kind: kind, Token: rec, Result: res}, nil
}
