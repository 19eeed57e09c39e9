package oauth

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/tokend/tokend/internal/oautherr"
	"github.com/tokend/tokend/internal/registry"
	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/token"
)

// GrantAuthorizationCode is the authorization code grant of RFC 6749 §4.1.
const GrantAuthorizationCode = "authorization_code"

// scopeOpenID is the scope value of an OpenID Connect request (OpenID
// Connect Core 1.0 §3.1.2.1).
const scopeOpenID = "openid"

// authorizationCode exchanges a code from the authorization endpoint for
// tokens (RFC 6749 §4.1.3). The code is single-use and bound to its client,
// its redirect URI and its PKCE challenge (RFC 7636 §4.6); presented twice,
// it is refused and the grant it produced is revoked (RFC 6749 §4.1.2).
// With the openid scope the answer carries an ID Token, and a refresh token
// only when offline_access was granted (OpenID Connect Core 1.0 §11);
// without it, a client registered for refresh_token gets one as with every
// other grant. Either way the grant belongs to the code's session and ends
// with it, unless it is an offline one.
type authorizationCode struct{}

func (authorizationCode) registration() registry.GrantType {
	return registry.GrantType{Name: GrantAuthorizationCode, Public: true}
}

func (authorizationCode) enabled(e *Endpoints) bool {
	return e.cfg.AuthorizationCodes && e.cfg.JWT != nil
}

func (authorizationCode) issue(e *Endpoints, w http.ResponseWriter, r *http.Request, c store.Client, form url.Values) error {
	code, err := e.redeemable(r, c, form)
	if err != nil {
		return err
	}
	now := e.cfg.Now()
	g := store.Grant{ClientID: c.ID, Subject: code.UserID, Username: code.Username,
		Scope: code.Scope, SessionID: code.SessionID}
	refreshTTL := e.refreshTTL(c)
	if store.ScopeHas(g.Scope, scopeOpenID) && !g.Offline() {
		refreshTTL = 0
	}
	ttl := e.userAccessTTL(c)
	g, resp, tokens, err := e.mintGrant(r.Context(), c, g, now, ttl, refreshTTL)
	if err != nil {
		return err
	}
	if store.ScopeHas(g.Scope, scopeOpenID) {
		if resp.IDToken, err = e.idToken(c, code, resp.AccessToken, now, ttl); err != nil {
			return err
		}
	}
	_, err = e.cfg.Engine.ExchangeAuthCode(r.Context(), c, store.HashToken(form.Get("code")), now, g, tokens)
	switch {
	case errors.Is(err, store.ErrCodeReused):
		return oautherr.InvalidGrant("the authorization code was already used; the tokens issued with it have been revoked").WithCause(err)
	case errors.Is(err, store.ErrNotFound):
		return oautherr.InvalidGrant("invalid authorization code")
	case err != nil:
		return fmt.Errorf("oauth: exchange authorization code: %w", err)
	}
	return writeJSON(w, http.StatusOK, resp)
}

// redeemable returns the code the request presents, once it is known to be
// unexpired, issued to c for the redirect_uri the request repeats (RFC 6749
// §4.1.3), matched by the request's code_verifier (RFC 7636 §4.6), and,
// when the authorization request bound it with dpop_jkt, presented with a
// DPoP proof of that key (RFC 9449 §10).
// Every refusal is invalid_grant, without saying which check failed.
func (e *Endpoints) redeemable(r *http.Request, c store.Client, form url.Values) (store.AuthCode, error) {
	raw, err := required(form, "code")
	if err != nil {
		return store.AuthCode{}, err
	}
	code, err := e.cfg.Store.GetAuthCode(r.Context(), store.HashToken(raw), e.cfg.Now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.AuthCode{}, oautherr.InvalidGrant("invalid authorization code")
	case err != nil:
		return store.AuthCode{}, err
	}
	if code.ClientID != c.ID || code.RedirectURI != form.Get("redirect_uri") {
		return store.AuthCode{}, oautherr.InvalidGrant("invalid authorization code")
	}
	if !verifierMatches(form.Get("code_verifier"), code.CodeChallenge) {
		return store.AuthCode{}, oautherr.InvalidGrant("the code_verifier does not match the code_challenge")
	}
	if code.JKT != "" {
		if p := proofOf(r.Context()); p == nil || p.JKT != code.JKT {
			return store.AuthCode{}, oautherr.InvalidGrant("the authorization code is bound to a DPoP key (dpop_jkt): the DPoP proof must be made with that key")
		}
	}
	return code, nil
}

// idToken mints the ID Token of a code's grant (OpenID Connect Core 1.0
// §3.1.3.3): for the code's user and client, with the request's nonce, the
// session's sid and the time the user authenticated, and the at_hash of
// the access token issued with it.
func (e *Endpoints) idToken(c store.Client, code store.AuthCode, accessToken string, now time.Time, ttl time.Duration) (string, error) {
	return e.cfg.JWT.MintIDToken(token.IDClaims{
		Subject:         code.UserID,
		Audience:        token.Audience{c.ID},
		IssuedAt:        now.Unix(),
		ExpiresAt:       now.Add(ttl).Unix(),
		AuthTime:        code.AuthTime.Unix(),
		Nonce:           code.Nonce,
		SessionID:       code.SessionID,
		AccessTokenHash: token.AccessTokenHash(e.cfg.JWT.Alg(), accessToken),
		AMR:             []string{"pwd"},
	})
}
