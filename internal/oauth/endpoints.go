package oauth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tokend/tokend/internal/assertion"
	"github.com/tokend/tokend/internal/clientauth"
	"github.com/tokend/tokend/internal/feed"
	"github.com/tokend/tokend/internal/identity"
	"github.com/tokend/tokend/internal/ratelimit"
	"github.com/tokend/tokend/internal/revocation"
	"github.com/tokend/tokend/internal/statuslist"
	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/token"
)

// Config holds what the endpoints depend on. Zero durations take the
// defaults below.
type Config struct {
	// Issuer is the server's issuer identifier (RFC 8414 §2), e.g.
	// https://localhost:9443; endpoint URLs are built from it.
	Issuer string
	Store  store.Store
	Auth   *clientauth.Authenticator
	Engine *revocation.Engine
	// UserLimiter, when not nil, throttles password guessing per username
	// and per address (the password grant; share it with the admin
	// endpoints' HTTP Basic).
	UserLimiter *ratelimit.Limiter
	Logger      *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// AdminToken authorises the admin endpoints as a Bearer token.
	AdminToken string
	// AccessTokenTTL and RefreshTokenTTL are the default lifetimes.
	AccessTokenTTL  time.Duration
	RefreshTokenTTL time.Duration
	// RevokeHeaders turns on the WSO2 RevokedAccessToken,
	// RevokedRefreshToken and AuthorizedUser response headers.
	RevokeHeaders bool
	// RetryAfter is what a 503 asks the client to wait.
	RetryAfter time.Duration
	// JWT mints and verifies JWT access tokens (RFC 9068) for clients
	// whose token format is jwt; nil issues opaque tokens to every client.
	JWT *token.JWTs
	// JWTAudience is the aud of JWT access tokens; the client_id when empty.
	JWTAudience string
	// StatusIndexes allocates each JWT its Token Status List index; nil
	// leaves the status claim out.
	StatusIndexes *statuslist.Allocator
	// Assertions verifies the assertions of the JWT bearer grant (RFC
	// 7523); nil disables the grant. Its Audiences default to the token
	// endpoint and the issuer.
	Assertions *assertion.Verifier
	// OnAuthFailure, when set, is called for every failed client
	// authentication (metrics).
	OnAuthFailure func()
	// GlobalTokenRevocationPath, when set, is advertised in the metadata
	// as global_token_revocation_endpoint (served by package admin).
	GlobalTokenRevocationPath string
	// Feed, when set, serves the revocation feed to resource servers:
	// GET /oauth2/revocations/stream (Server-Sent Events) and
	// GET /oauth2/revocations (polling).
	Feed *feed.Hub
	// StatusLists, when set, serves the Token Status Lists at
	// GET /oauth2/statuslists/{id}.
	StatusLists *statuslist.Lists
}

// Default token lifetimes (issue: access 3600 s, refresh 86400 s).
const (
	DefaultAccessTokenTTL  = time.Hour
	DefaultRefreshTokenTTL = 24 * time.Hour
)

// Endpoints serves the OAuth endpoints.
type Endpoints struct {
	cfg        Config
	log        *slog.Logger
	adminToken [sha256.Size]byte
	passwords  *identity.Passwords
}

// New returns the endpoints for cfg.
func New(cfg Config) *Endpoints {
	if cfg.AccessTokenTTL == 0 {
		cfg.AccessTokenTTL = DefaultAccessTokenTTL
	}
	if cfg.RefreshTokenTTL == 0 {
		cfg.RefreshTokenTTL = DefaultRefreshTokenTTL
	}
	if cfg.RetryAfter == 0 {
		cfg.RetryAfter = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Engine == nil {
		cfg.Engine = &revocation.Engine{Store: cfg.Store, JWT: cfg.JWT, Now: cfg.Now}
	}
	cfg.Issuer = strings.TrimSuffix(cfg.Issuer, "/")
	if cfg.Assertions != nil && len(cfg.Assertions.Audiences) == 0 {
		a := *cfg.Assertions
		a.Audiences = []string{cfg.Issuer + PathToken, cfg.Issuer}
		cfg.Assertions = &a
	}
	e := &Endpoints{cfg: cfg, log: cfg.Logger,
		passwords: &identity.Passwords{Users: cfg.Store, Limiter: cfg.UserLimiter}}
	if cfg.AdminToken != "" {
		e.adminToken = sha256.Sum256([]byte(cfg.AdminToken))
	}
	return e
}

// Paths of the endpoints; WSO2 IS's where it has one.
const (
	PathToken      = "/oauth2/token"
	PathRevoke     = "/oauth2/revoke"
	PathIntrospect = "/oauth2/introspect"
	PathRegister   = "/api/identity/oauth2/dcr/v1.1/register"
)

// Mount registers every endpoint on mux.
func (e *Endpoints) Mount(mux *http.ServeMux) {
	e.mountForm(mux, PathToken, e.token)
	e.mountForm(mux, PathRevoke, e.revoke)
	e.mountForm(mux, PathIntrospect, e.introspect)
	e.mountDiscovery(mux)
	e.mountRegister(mux)
	e.mountFeed(mux)
	e.mountStatusLists(mux)
}

// mountForm mounts a POST form endpoint with its CORS preflight and a 405
// for every other method.
func (e *Endpoints) mountForm(mux *http.ServeMux, path string, h func(http.ResponseWriter, *http.Request) error) {
	mux.Handle("POST "+path, withCORS(e.handle(h)))
	mux.Handle("OPTIONS "+path, http.HandlerFunc(preflight))
	mux.Handle(path, withCORS(e.handle(func(http.ResponseWriter, *http.Request) error {
		return ErrMethodNotAllowed(http.MethodPost)
	})))
}

// corsAllowHeaders is what the seed shows WSO2 IS allowing.
const corsAllowHeaders = "authorization,Access-Control-Allow-Origin,Content-Type,SOAPAction,Authorization"

// setCORS sets the CORS and security headers the seed shows on every answer
// of a form endpoint. Browsers may call the form endpoints from any origin:
// they use no cookies, so there is no ambient authority to protect.
func setCORS(h http.Header, r *http.Request) {
	h["Access-Control-Allow-Methods"] = hdrPOST
	h["Access-Control-Allow-Headers"] = hdrAllowHeads
	if r.Header.Get("Origin") != "" {
		h["Access-Control-Allow-Origin"] = hdrAnyOrigin
	}
}

func withCORS(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setCORS(w.Header(), r)
		h.ServeHTTP(w, r)
	})
}

// preflight answers a CORS preflight request.
func preflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	setCORS(h, r)
	h["Access-Control-Max-Age"] = hdrMaxAgeOneDay
	h["Cache-Control"] = hdrNoStore
	h["Pragma"] = hdrNoCache
	w.WriteHeader(http.StatusNoContent)
}

// handle adapts a handler that returns an error: the one place errors
// become responses.
func (e *Endpoints) handle(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			WriteError(w, r, e.log, e.storeError(err))
		}
	})
}

// storeError maps a store outage to 503 temporarily_unavailable (RFC 7009
// §2.2.1) so that no failure to commit is ever mistaken for success.
func (e *Endpoints) storeError(err error) error {
	var oe *Error
	if errors.As(err, &oe) {
		return err
	}
	if errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		return ErrTemporarilyUnavailable(e.cfg.RetryAfter, err)
	}
	return err
}

// caller is who made an authenticated request: a client, or the admin.
type caller struct {
	client store.Client
	admin  bool
}

// accepts is what an endpoint accepts as its caller besides an enabled
// client.
type accepts uint8

const (
	// acceptAdmin: the admin Bearer token (introspection, the feed).
	acceptAdmin accepts = 1 << iota
	// acceptDisabled: a disabled client with its right credentials. Only
	// revocation accepts it: a disabled client may still revoke what it
	// holds.
	acceptDisabled
)

// authenticate identifies the client of a form request (client
// authentication done once, for every endpoint).
func (e *Endpoints) authenticate(r *http.Request, form url.Values, accept accepts) (caller, error) {
	if accept&acceptAdmin != 0 && e.isAdminBearer(r) {
		return caller{admin: true}, nil
	}
	creds, err := clientauth.Parse(r, form)
	if err != nil {
		return caller{}, e.authError(e.cfg.Auth.Refuse(r.RemoteAddr, err))
	}
	c, err := e.cfg.Auth.Authenticate(r.Context(), creds, r.RemoteAddr, accept&acceptDisabled != 0)
	if err != nil {
		return caller{}, e.authError(err)
	}
	return caller{client: c}, nil
}

func (e *Endpoints) authError(err error) error {
	var f *clientauth.Failure
	switch {
	case errors.Is(err, clientauth.ErrNoCredentials):
		return ErrInvalidClient("client authentication is required").WithCause(err)
	case errors.As(err, &f) && f.RetryAfter > 0:
		return ErrTooManyRequests(f.RetryAfter).WithCause(err)
	case errors.As(err, &f):
		if e.cfg.OnAuthFailure != nil {
			e.cfg.OnAuthFailure()
		}
		return ErrInvalidClient("client authentication failed").WithCause(err)
	default:
		return err
	}
}

// isAdminBearer reports whether r carries the admin token as a Bearer
// token. Both sides are hashed first so the compare is constant-time
// whatever the lengths.
func (e *Endpoints) isAdminBearer(r *http.Request) bool {
	if e.cfg.AdminToken == "" {
		return false
	}
	tok, ok := bearer(r)
	if !ok {
		return false
	}
	got := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(got[:], e.adminToken[:]) == 1
}

// bearer returns the token of an "Authorization: Bearer" header (RFC 6750 §2.1).
func bearer(r *http.Request) (string, bool) {
	const prefix = "bearer "
	h := r.Header.Get("Authorization")
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", false
	}
	return strings.TrimSpace(h[len(prefix):]), true
}
