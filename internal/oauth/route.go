package oauth

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/tokend/tokend/internal/clientauth"
	"github.com/tokend/tokend/internal/oautherr"
	"github.com/tokend/tokend/internal/store"
)

// request is what a form endpoint's handler receives: the form, parsed
// strictly, and the caller, authenticated once by the route.
type request struct {
	form url.Values
	// client is the authenticated client; the zero Client when admin.
	client store.Client
	// admin: the admin token stood in for a client (acceptAdminToken).
	admin bool
}

// formHandler is a form endpoint's handler.
type formHandler func(w http.ResponseWriter, r *http.Request, req request) error

// access is who a route accepts besides an enabled confidential client
// with its right credentials; routeOptions set it.
type access struct {
	publicClients   bool
	disabledClients bool
	adminToken      bool
	dpopProofs      bool
}

// routeOption names one more kind of caller a form route accepts.
type routeOption func(*access)

// acceptPublicClient: a public client (token_endpoint_auth_method none),
// which names itself with client_id and proves nothing more.
func acceptPublicClient(a *access) { a.publicClients = true }

// acceptDisabledClient: a disabled client with its right credentials. A
// disabled client may still revoke what it holds, so only revocation
// accepts it.
func acceptDisabledClient(a *access) { a.disabledClients = true }

// acceptDPoPProofs: a page of another origin may send a DPoP header
// (the token endpoint, RFC 9449 §5) and read DPoP-Nonce: CORS allows it.
func acceptDPoPProofs(a *access) { a.dpopProofs = true }

// acceptAdminToken: the admin token as a Bearer token, standing in for a
// client (introspection, the feed).
func acceptAdminToken(a *access) { a.adminToken = true }

// mountForm mounts a POST form endpoint with its CORS preflight and a 405
// for every other method. The route parses the form and authenticates the
// caller before h runs: client authentication is done here, once, for
// every form endpoint.
func (e *Endpoints) mountForm(mux *http.ServeMux, path string, h formHandler, opts ...routeOption) {
	var acc access
	for _, o := range opts {
		o(&acc)
	}
	mux.Handle("POST "+path, withCORS(acc, e.handle(func(w http.ResponseWriter, r *http.Request) error {
		form, err := parseForm(w, r)
		if err != nil {
			return err
		}
		req, err := e.authenticate(r, form, acc)
		if err != nil {
			return err
		}
		return h(w, r, req)
	})))
	mux.Handle("OPTIONS "+path, preflight(acc))
	mux.Handle(path, withCORS(acc, e.handle(func(http.ResponseWriter, *http.Request) error {
		return oautherr.MethodNotAllowed(http.MethodPost)
	})))
}

// authenticate identifies the caller of r, whose form is form, as acc
// allows.
func (e *Endpoints) authenticate(r *http.Request, form url.Values, acc access) (request, error) {
	if acc.adminToken && e.cfg.Admin.IsAdminToken(r) {
		return request{form: form, admin: true}, nil
	}
	creds, err := clientauth.Parse(r, form)
	if err != nil {
		return request{}, e.authError(e.cfg.Auth.Refuse(r.RemoteAddr, err))
	}
	c, err := e.cfg.Auth.Authenticate(r.Context(), creds, r.RemoteAddr, acc.disabledClients)
	if err != nil {
		return request{}, e.authError(err)
	}
	if c.Public() && !acc.publicClients {
		return request{}, oautherr.InvalidClient("a public client may not call this endpoint")
	}
	return request{form: form, client: c}, nil
}

func (e *Endpoints) authError(err error) error {
	var f *clientauth.Failure
	switch {
	case errors.Is(err, clientauth.ErrNoCredentials):
		return oautherr.InvalidClient("client authentication is required").WithCause(err)
	case errors.As(err, &f) && f.RetryAfter > 0:
		return oautherr.TooManyFailedAuthentications(f.RetryAfter).WithCause(err)
	case errors.As(err, &f):
		if e.cfg.OnAuthFailure != nil {
			e.cfg.OnAuthFailure()
		}
		return oautherr.InvalidClient("client authentication failed").WithCause(err)
	default:
		return err
	}
}
