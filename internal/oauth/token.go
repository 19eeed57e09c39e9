package oauth

import (
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/tokend/tokend/internal/oautherr"
	"github.com/tokend/tokend/internal/registry"
	"github.com/tokend/tokend/internal/store"
)

// A grant is one way the token endpoint issues tokens (RFC 6749 §4), one
// type per file. Adding a grant is a file with its type and a line in
// grants.
type grant interface {
	// registration is its grant_type value and who may be registered for
	// it: read by dynamic client registration and the CLI (Registration)
	// and by discovery.
	registration() registry.GrantType
	// enabled reports whether the server's configuration offers it.
	enabled(e *Endpoints) bool
	// issue answers a token request of client c, authenticated and
	// registered for the grant.
	issue(e *Endpoints, w http.ResponseWriter, r *http.Request, c store.Client, form url.Values) error
}

// grants is every grant the token endpoint knows, in the order discovery
// lists them.
var grants = []grant{
	authorizationCode{},
	clientCredentials{},
	password{},
	refreshToken{},
	jwtBearer{},
	deviceCode{},
	tokenExchange{},
}

// GrantTypes returns the grants a client may be registered for.
func GrantTypes() []registry.GrantType {
	out := make([]registry.GrantType, len(grants))
	for i, g := range grants {
		out[i] = g.registration()
	}
	return out
}

// Registration validates client registrations against the grants the token
// endpoint knows: dynamic client registration and the CLI both use it.
var Registration = registry.Rules{Grants: GrantTypes()}

// token is the token endpoint (RFC 6749 §3.2): it dispatches on grant_type.
func (e *Endpoints) token(w http.ResponseWriter, r *http.Request, req request) error {
	name, err := required(req.form, "grant_type")
	if err != nil {
		return err
	}
	i := slices.IndexFunc(grants, func(g grant) bool { return g.registration().Name == name })
	if i < 0 {
		return oautherr.UnsupportedGrantType("grant type %q is not supported", name)
	}
	g := grants[i]
	if !g.enabled(e) {
		return oautherr.UnsupportedGrantType("the %s grant is not enabled", name)
	}
	c := req.client
	if !slices.Contains(c.GrantTypes, name) {
		return oautherr.UnauthorizedClient("the client may not use the %s grant", name)
	}
	r, err = e.checkProof(r, c)
	if err != nil {
		return err
	}
	e.setNonce(w)
	return g.issue(e, w, r, c, req.form)
}

// userAccessTTL is the lifetime of an access token issued to client c on a
// user's behalf.
func (e *Endpoints) userAccessTTL(c store.Client) time.Duration {
	return firstNonZero(c.AccessTokenTTL, e.cfg.AccessTokenTTL)
}

// refreshTTL is the lifetime of the refresh token issued with an access
// token to client c: none unless c may use the refresh_token grant.
func (e *Endpoints) refreshTTL(c store.Client) time.Duration {
	if !slices.Contains(c.GrantTypes, GrantRefreshToken) {
		return 0
	}
	return firstNonZero(c.RefreshTokenTTL, e.cfg.RefreshTokenTTL)
}
