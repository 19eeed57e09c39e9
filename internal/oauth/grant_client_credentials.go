package oauth

import (
	"net/http"
	"net/url"

	"github.com/tokend/tokend/internal/oautherr"
	"github.com/tokend/tokend/internal/registry"
	"github.com/tokend/tokend/internal/store"
)

// GrantClientCredentials is the client credentials grant (RFC 6749 §4.4).
const GrantClientCredentials = "client_credentials"

// clientCredentials issues an access token for the client itself; no
// refresh token (RFC 6749 §4.4.3).
type clientCredentials struct{}

func (clientCredentials) registration() registry.GrantType {
	return registry.GrantType{Name: GrantClientCredentials, Default: true}
}

func (clientCredentials) enabled(*Endpoints) bool { return true }

func (clientCredentials) issue(e *Endpoints, w http.ResponseWriter, r *http.Request, c store.Client, form url.Values) error {
	if c.Public() {
		return oautherr.UnauthorizedClient("a public client may not use the client_credentials grant")
	}
	scope, err := scopeParam(form)
	if err != nil {
		return err
	}
	ttl := firstNonZero(c.AppAccessTokenTTL, e.cfg.AccessTokenTTL)
	g := store.Grant{ClientID: c.ID, Subject: c.ID, Scope: scope}
	return e.issueNew(w, r, c, g, ttl, 0)
}
