package oauth

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/tokend/tokend/internal/oautherr"
	"github.com/tokend/tokend/internal/registry"
	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/token"
)

// GrantRefreshToken is the refresh of RFC 6749 §6.
const GrantRefreshToken = "refresh_token"

// refreshToken is the refresh grant: it exchanges a refresh token for a
// new access token and a new refresh token (RFC 6749 §6); the presented
// one is rotated out, and presenting it again revokes the whole grant
// (RFC 9700 §4.14.2).
type refreshToken struct{}

func (refreshToken) registration() registry.GrantType {
	return registry.GrantType{Name: GrantRefreshToken, Public: true, Default: true}
}

func (refreshToken) enabled(*Endpoints) bool { return true }

func (refreshToken) issue(e *Endpoints, w http.ResponseWriter, r *http.Request, c store.Client, form url.Values) error {
	raw, err := required(form, "refresh_token")
	if err != nil {
		return err
	}
	if kind, ok := token.Parse(raw); !ok || kind != store.RefreshToken {
		return oautherr.InvalidGrant("invalid refresh token")
	}
	h := store.HashToken(raw)
	// Only what never changes of the token is used here: the grant's
	// client, subject, username, scope, DPoP key and ID, which the new
	// tokens are minted for. Whether it may still be exchanged (rotated
	// already: reuse; revoked; expired) RotateRefresh decides in its own
	// transaction, so the facts may come from memory (LookupTokenFacts).
	rec, err := e.cfg.Store.LookupTokenFacts(r.Context(), h)
	if errors.Is(err, store.ErrNotFound) {
		return oautherr.InvalidGrant("invalid refresh token")
	}
	if err != nil {
		return err
	}
	if rec.ClientID != c.ID {
		return oautherr.InvalidGrant("the refresh token was not issued to this client")
	}
	if err := refreshBinding(r.Context(), c, rec); err != nil {
		return err
	}
	if form.Has("scope") {
		if err := withinScope(rec.Scope, form.Get("scope")); err != nil {
			return err
		}
	}
	now := e.cfg.Now()
	ttl := firstNonZero(c.AccessTokenTTL, e.cfg.AccessTokenTTL)
	if rec.Subject == rec.ClientID { // the client's own grant
		ttl = firstNonZero(c.AppAccessTokenTTL, e.cfg.AccessTokenTTL)
	}
	g := store.Grant{ID: rec.GrantID, ClientID: rec.ClientID, Subject: rec.Subject, Username: rec.Username, Scope: rec.Scope, JKT: rec.JKT}
	resp, tokens, err := e.mintPair(r.Context(), c, g, now, ttl, firstNonZero(c.RefreshTokenTTL, e.cfg.RefreshTokenTTL))
	if err != nil {
		return err
	}
	_, err = e.cfg.Engine.RotateRefresh(r.Context(), c, h, now, tokens)
	switch {
	case errors.Is(err, store.ErrRefreshReused):
		return oautherr.InvalidGrant("the refresh token was already used; its grant has been revoked").WithCause(err)
	case errors.Is(err, store.ErrNotFound):
		return oautherr.InvalidGrant("invalid refresh token")
	case err != nil:
		return fmt.Errorf("oauth: rotate refresh token: %w", err)
	}
	// Scope is kept per grant: a refresh never widens it, and the new
	// tokens carry the grant's scope, which is what introspection reports.
	resp.Scope = rec.Scope
	return writeJSON(w, http.StatusOK, resp)
}
