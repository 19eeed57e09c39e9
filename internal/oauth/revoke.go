package oauth

import (
	"errors"
	"net/http"

	"github.com/tokend/tokend/internal/oautherr"
	"github.com/tokend/tokend/internal/revocation"
	"github.com/tokend/tokend/internal/store"
)

// revoke is the token revocation endpoint (RFC 7009 §2), answering as WSO2
// IS's /oauth2/revoke does:
//
//   - 200 with an empty body when the token was revoked, and also when it was
//     unknown, malformed, expired or already revoked (RFC 7009 §2.2: the
//     client cannot act on the difference, and an attacker learns nothing).
//   - When a grant was revoked, RevokedAccessToken or RevokedRefreshToken
//     echoes the token the caller sent and AuthorizedUser names the grant's
//     subject. Only hashes are stored, so the other token of the pair
//     cannot be echoed. A public client is never sent RevokedRefreshToken.
//   - token_type_hint is accepted and ignored: the token names its own kind.
//   - A token of another client is refused with unauthorized_client and
//     left active.
func (e *Endpoints) revoke(w http.ResponseWriter, r *http.Request, req request) error {
	raw, err := required(req.form, "token")
	if err != nil {
		return err
	}
	out, err := e.cfg.Engine.RevokeToken(r.Context(), req.client, raw)
	if errors.Is(err, revocation.ErrNotOwner) {
		return oautherr.UnauthorizedClient("the token was not issued to this client").WithCause(err)
	}
	if err != nil {
		return err
	}

	h := w.Header()
	if out.Revoked && e.cfg.RevokeHeaders {
		// Assigned to the map, not with Set, so the names go out spelt as
		// WSO2 IS spells them (Set would send "Revokedaccesstoken"); HTTP
		// header names are case-insensitive, but scripts grep for these.
		switch {
		case out.Kind == store.AccessToken:
			h["RevokedAccessToken"] = []string{raw}
		case !req.client.Public():
			h["RevokedRefreshToken"] = []string{raw}
		}
		h["AuthorizedUser"] = []string{authorizedUser(out.Token)}
	}
	// WSO2 IS answers an empty text/html body; clients match on it.
	noStore(h, hdrHTML)
	w.WriteHeader(http.StatusOK)
	return nil
}

// authorizedUser is the grant's resource owner as WSO2 reports it: the
// username, or the client itself for client_credentials.
func authorizedUser(t store.TokenRecord) string {
	if t.Username != "" {
		return t.Username
	}
	return t.Subject
}
