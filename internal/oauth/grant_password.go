package oauth

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/tokend/tokend/internal/identity"
	"github.com/tokend/tokend/internal/oautherr"
	"github.com/tokend/tokend/internal/registry"
	"github.com/tokend/tokend/internal/store"
)

// GrantPassword is the resource owner password credentials grant.
const GrantPassword = "password"

// password is the resource owner password credentials grant (RFC 6749
// §4.3): the client sends the user's username and password, checked with
// identity.Passwords, which throttles guesses per user and per address.
type password struct{}

func (password) registration() registry.GrantType {
	return registry.GrantType{Name: GrantPassword, Public: true, Default: true}
}

func (password) enabled(*Endpoints) bool { return true }

func (password) issue(e *Endpoints, w http.ResponseWriter, r *http.Request, c store.Client, form url.Values) error {
	username, err := required(form, "username")
	if err != nil {
		return err
	}
	secret, err := required(form, "password")
	if err != nil {
		return err
	}
	scope, err := scopeParam(form)
	if err != nil {
		return err
	}
	u, err := e.passwords.Check(r.Context(), username, secret, r.RemoteAddr)
	var tooMany *identity.TooManyGuesses
	switch {
	case errors.As(err, &tooMany):
		return oautherr.TooManyFailedAuthentications(tooMany.RetryAfter).WithCause(err)
	case errors.Is(err, identity.ErrWrongPassword):
		return oautherr.InvalidGrant("invalid username or password")
	case err != nil:
		return err
	}
	g := store.Grant{ClientID: c.ID, Subject: u.ID, Username: u.Username, Scope: scope}
	return e.issueNew(w, r, c, g, e.userAccessTTL(c), e.refreshTTL(c))
}
