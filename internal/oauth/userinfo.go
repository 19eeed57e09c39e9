package oauth

import (
	"errors"
	"mime"
	"net/http"
	"strings"

	"github.com/tokend/tokend/dpop"
	"github.com/tokend/tokend/internal/oautherr"
	"github.com/tokend/tokend/internal/store"
)

// Scope values that release claims at the UserInfo Endpoint (OpenID
// Connect Core 1.0 §5.4).
const (
	scopeProfile = "profile"
	scopeEmail   = "email"
)

// accessTokenParam is the form parameter of RFC 6750 §2.2.
const accessTokenParam = "access_token"

// userinfoClaims is a UserInfo Response (OpenID Connect Core 1.0 §5.3.2):
// sub always, the other claims when the token's scope releases them and
// the user has them.
type userinfoClaims struct {
	Subject           string `json:"sub"`
	PreferredUsername string `json:"preferred_username,omitempty"`
	Name              string `json:"name,omitempty"`
	GivenName         string `json:"given_name,omitempty"`
	FamilyName        string `json:"family_name,omitempty"`
	Email             string `json:"email,omitempty"`
	// EmailVerified goes with Email, and only with it: false says the
	// address was not verified, which means nothing without one.
	EmailVerified *bool `json:"email_verified,omitempty"`
}

func (e *Endpoints) mountUserinfo(mux *http.ServeMux) {
	h := e.handle(e.userinfo)
	mux.Handle("GET "+PathUserinfo, h)
	mux.Handle("POST "+PathUserinfo, h)
	mux.Handle(PathUserinfo, e.handle(func(http.ResponseWriter, *http.Request) error {
		return oautherr.MethodNotAllowed("GET, POST")
	}))
}

// userinfo is the UserInfo Endpoint: the claims about the user an access
// token was issued for, with the openid scope. The token is the one
// lookup introspection makes (activeToken), so a revoked token fails at
// once. Refusals are RFC 6750 §3's: 401 invalid_token for a token that is
// missing, unknown, expired, revoked, of a disabled client or not issued
// for a user still enabled; 403 insufficient_scope without openid.
func (e *Endpoints) userinfo(w http.ResponseWriter, r *http.Request) error {
	raw, scheme, err := bearerToken(w, r)
	if err != nil {
		return err
	}
	rec, ok, err := e.activeToken(r.Context(), raw)
	if err != nil {
		return err
	}
	if !ok || rec.Kind != store.AccessToken {
		return invalidToken("the access token is invalid, expired or revoked")
	}
	if err := e.checkBinding(r, scheme, raw, rec); err != nil {
		return err
	}
	if rec.Username == "" {
		return invalidToken("the access token was not issued for a user")
	}
	enabled, err := e.clientEnabled(r.Context(), rec.ClientID)
	if err != nil {
		return err
	}
	if !enabled {
		return invalidToken("the access token is invalid, expired or revoked")
	}
	if !store.ScopeHas(rec.Scope, scopeOpenID) {
		return insufficientScope(scopeOpenID)
	}
	u, err := e.cfg.Store.GetUserByID(r.Context(), rec.Subject)
	if errors.Is(err, store.ErrNotFound) || err == nil && u.Disabled {
		// Deleting or disabling a user revokes the user's grants; this
		// only covers the instant between the lookup and the change.
		return invalidToken("the access token is invalid, expired or revoked")
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, claimsOf(u, rec.Scope))
}

// claimsOf returns the claims about u that scope releases (OpenID Connect
// Core 1.0 §5.4): with profile the names, with email the address; each
// only when the user has it.
func claimsOf(u store.User, scope string) userinfoClaims {
	c := userinfoClaims{Subject: u.ID}
	if store.ScopeHas(scope, scopeProfile) {
		c.PreferredUsername, c.Name, c.GivenName, c.FamilyName = u.Username, u.Name, u.GivenName, u.FamilyName
	}
	if store.ScopeHas(scope, scopeEmail) && u.Email != "" {
		verified := u.EmailVerified
		c.Email, c.EmailVerified = u.Email, &verified
	}
	return c
}

// bearerToken returns the access token of a request to a protected
// resource: in the Authorization header (RFC 6750 §2.1) or, on a POST, in
// the access_token form parameter (§2.2). A token in the URL (§2.3) is
// refused, as proxies and logs keep URLs; so is a token sent two ways
// (§3.1, invalid_request).
//
// A DPoP-bound token comes in the header with the DPoP scheme (RFC 9449
// §7.1): scheme says which, "Bearer" for the form parameter.
func bearerToken(w http.ResponseWriter, r *http.Request) (token, scheme string, err error) {
	if r.URL.Query().Has(accessTokenParam) {
		return "", "", bearerError(oautherr.InvalidRequest("the access token must not be sent in the URL"))
	}
	var inHeader, inForm string
	scheme = "Bearer"
	if s, cred, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && (strings.EqualFold(s, "Bearer") || strings.EqualFold(s, dpop.Scheme)) {
		inHeader = strings.TrimSpace(cred)
		if strings.EqualFold(s, dpop.Scheme) {
			scheme = dpop.Scheme
		}
	}
	if r.Method == http.MethodPost {
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" {
			form, err := parseForm(w, r)
			if err != nil {
				return "", "", bearerError(err)
			}
			inForm = form.Get(accessTokenParam)
		}
	}
	switch {
	case inHeader != "" && inForm != "":
		return "", "", bearerError(oautherr.InvalidRequest("the access token must be sent one way only"))
	case inHeader != "":
		return inHeader, scheme, nil
	case inForm != "":
		return inForm, "Bearer", nil
	}
	// No token, or another scheme: RFC 6750 §3.1 asks for a challenge
	// without an error code.
	return "", "", oautherr.Unauthorized(bearerChallenge)
}

// bearerChallenge is the WWW-Authenticate value of a request to a
// protected resource without an access token.
const bearerChallenge = `Bearer realm="tokend"`

// bearerError adds to err, an *oautherr.Error or an error oautherr.From
// maps, the Bearer challenge that names its code (RFC 6750 §3).
func bearerError(err error) error {
	var oe *oautherr.Error
	if !errors.As(err, &oe) {
		return err
	}
	c := *oe
	c.Header = http.Header{}
	for k, vs := range oe.Header {
		if http.CanonicalHeaderKey(k) != "Www-Authenticate" {
			c.Header[k] = vs
		}
	}
	c.Header["WWW-Authenticate"] = []string{bearerChallenge + `, error="` + c.Code + `"`}
	return &c
}

// invalidToken: the access token is missing, unknown, expired, revoked or
// not good for this resource (RFC 6750 §3.1).
func invalidToken(desc string) error {
	return bearerError(oautherr.New(oautherr.CodeInvalidToken, http.StatusUnauthorized, "%s", desc))
}

// insufficientScope: the access token lacks scope (RFC 6750 §3.1).
func insufficientScope(scope string) error {
	e := oautherr.New(oautherr.CodeInsufficientScope, http.StatusForbidden, "the access token's scope lacks %s", scope)
	e.Header = http.Header{"WWW-Authenticate": {bearerChallenge + `, error="` + e.Code + `", scope="` + scope + `"`}}
	return e
}
