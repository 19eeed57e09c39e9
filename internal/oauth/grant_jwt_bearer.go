package oauth

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/tokend/tokend/internal/assertion"
	"github.com/tokend/tokend/internal/oautherr"
	"github.com/tokend/tokend/internal/registry"
	"github.com/tokend/tokend/internal/store"
)

// GrantJWTBearer is the JWT bearer grant of RFC 7523 §2.1.
const GrantJWTBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// jwtBearer is the JWT bearer grant (RFC 7523 §2.1): a trusted issuer's
// signed assertion about a subject is exchanged for tokens for that
// subject. Public clients may use it without a secret. Each refusal is
// invalid_grant with the precise reason (RFC 7523 §3.1).
type jwtBearer struct{}

func (jwtBearer) registration() registry.GrantType {
	return registry.GrantType{Name: GrantJWTBearer, Public: true}
}

// enabled: only when the server trusts issuers' assertions.
func (jwtBearer) enabled(e *Endpoints) bool { return e.cfg.Assertions != nil }

func (jwtBearer) issue(e *Endpoints, w http.ResponseWriter, r *http.Request, c store.Client, form url.Values) error {
	raw, err := required(form, "assertion")
	if err != nil {
		return err
	}
	scope, err := scopeParam(form)
	if err != nil {
		return err
	}
	a, err := e.cfg.Assertions.Verify(r.Context(), raw)
	var refused *assertion.Error
	if errors.As(err, &refused) {
		return oautherr.InvalidGrant("%s", refused.Reason).WithCause(err)
	}
	if err != nil {
		return err
	}
	// The grant's subject is qualified by its issuer, and it has no
	// username: a username is only ever a local user's (RFC 7662 §2.2
	// username, the JWT's username claim), so the upstream subject "alice"
	// is never taken for, nor revoked with, the local user alice.
	g := store.Grant{ClientID: c.ID, Subject: a.GrantSubject(), Scope: scope}
	return e.issueNew(w, r, c, g, e.userAccessTTL(c), e.refreshTTL(c))
}
