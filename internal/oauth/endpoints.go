package oauth

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/tokend/tokend/dpop"
	"github.com/tokend/tokend/internal/adminauth"
	"github.com/tokend/tokend/internal/assertion"
	"github.com/tokend/tokend/internal/clientauth"
	"github.com/tokend/tokend/internal/feed"
	"github.com/tokend/tokend/internal/identity"
	"github.com/tokend/tokend/internal/oautherr"
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
	// Admin authorises the admin endpoints (dynamic client registration)
	// and recognises the admin token where it stands in for a client
	// (introspection, the feed); nil refuses both.
	Admin *adminauth.Authorizer
	// AccessTokenTTL and RefreshTokenTTL are the default lifetimes.
	AccessTokenTTL  time.Duration
	RefreshTokenTTL time.Duration
	// RevokeHeaders turns on the WSO2 RevokedAccessToken,
	// RevokedRefreshToken and AuthorizedUser response headers.
	RevokeHeaders bool
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
	// AuthorizationCodes turns on the authorization code grant at the token
	// endpoint (RFC 6749 §4.1.3, with PKCE and OpenID Connect ID Tokens):
	// the exchange of codes that the authorization endpoint of browser
	// sign-in issues. It needs JWT, whose keys sign the ID Tokens.
	AuthorizationCodes bool
	// StatusLists, when set, serves the Token Status Lists at
	// GET /oauth2/statuslists/{id}.
	StatusLists *statuslist.Lists
	// Browser says browser sign-in is served beside these endpoints: the
	// authorization endpoint and RP-Initiated Logout at PathAuthorize and
	// PathEndSession, which package web mounts. The metadata then
	// advertises them, the UserInfo Endpoint and what OpenID Connect
	// Discovery asks of a provider; off, it advertises none of that, so it
	// never names an endpoint nobody serves. The ID Tokens need JWT.
	Browser bool
	// DPoP checks the DPoP proofs of token requests (RFC 9449); nil is
	// dpop.Verifier's defaults. Its Now and Replay default to this
	// configuration's clock and a dpop.Memory; set Nonces to require
	// server nonces.
	DPoP *dpop.Verifier
	// DPoPSharedReplay records each proof's jti in the store as well, so
	// that instances sharing a PostgreSQL refuse a proof replayed to
	// another instance; one process alone (SQLite) needs only its memory.
	DPoPSharedReplay bool
}

// Default token lifetimes, WSO2 Identity Server's: access 3600 s, refresh
// 86400 s.
const (
	DefaultAccessTokenTTL  = time.Hour
	DefaultRefreshTokenTTL = 24 * time.Hour
)

// Endpoints serves the OAuth endpoints.
type Endpoints struct {
	cfg       Config
	log       *slog.Logger
	passwords *identity.Passwords
	dpop      *dpop.Verifier
}

// New returns the endpoints for cfg.
func New(cfg Config) *Endpoints {
	if cfg.AccessTokenTTL == 0 {
		cfg.AccessTokenTTL = DefaultAccessTokenTTL
	}
	if cfg.RefreshTokenTTL == 0 {
		cfg.RefreshTokenTTL = DefaultRefreshTokenTTL
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
	if cfg.Admin == nil {
		cfg.Admin = adminauth.New(adminauth.Config{}) // accepts nobody
	}
	cfg.Issuer = strings.TrimSuffix(cfg.Issuer, "/")
	if cfg.Assertions != nil && len(cfg.Assertions.Audiences) == 0 {
		a := *cfg.Assertions
		a.Audiences = []string{cfg.Issuer + PathToken, cfg.Issuer}
		cfg.Assertions = &a
	}
	e := &Endpoints{cfg: cfg, log: cfg.Logger,
		passwords: &identity.Passwords{Users: cfg.Store, Limiter: cfg.UserLimiter},
		dpop:      dpopVerifier(cfg)}
	return e
}

// Paths of the endpoints; WSO2 IS's where it has one.
const (
	PathToken      = "/oauth2/token"
	PathRevoke     = "/oauth2/revoke"
	PathIntrospect = "/oauth2/introspect"
	PathRegister   = "/api/identity/oauth2/dcr/v1.1/register"
	// PathUserinfo is the UserInfo Endpoint (OpenID Connect Core 1.0 §5.3).
	PathUserinfo = "/oauth2/userinfo"
)

// Paths of browser sign-in, which package web mounts, not this one; they
// are here because the metadata advertises them (Config.Browser). The
// HTTP areas do not import each other, so web has them from the program
// that wires both.
const (
	// PathAuthorize is the authorization endpoint (RFC 6749 §3.1; WSO2
	// IS's path).
	PathAuthorize = "/oauth2/authorize"
	// PathEndSession is the end_session_endpoint of OpenID Connect
	// RP-Initiated Logout 1.0 (WSO2 IS's path).
	PathEndSession = "/oidc/logout"
)

// Mount registers every endpoint on mux.
func (e *Endpoints) Mount(mux *http.ServeMux) {
	e.mountForm(mux, PathToken, e.token, acceptPublicClient, acceptDPoPProofs)
	e.mountForm(mux, PathRevoke, e.revoke, acceptPublicClient, acceptDisabledClient)
	e.mountForm(mux, PathIntrospect, e.introspect, acceptPublicClient, acceptAdminToken)
	if (deviceCode{}).enabled(e) {
		e.mountForm(mux, PathDeviceAuthorize, e.deviceAuthorize, acceptPublicClient)
	}
	e.mountDiscovery(mux)
	e.mountUserinfo(mux)
	e.mountRegister(mux)
	e.mountFeed(mux)
	e.mountStatusLists(mux)
}

// corsAllowHeaders is the Access-Control-Allow-Headers value WSO2 Identity
// Server sends.
const corsAllowHeaders = "authorization,Access-Control-Allow-Origin,Content-Type,SOAPAction,Authorization"

// The token endpoint lets a page send a DPoP proof too, and read the
// server's nonce (RFC 9449 §8); the other endpoints answer exactly as WSO2
// IS does.
const (
	corsAllowHeadersDPoP = corsAllowHeaders + "," + dpop.HeaderName
	corsExposeHeaders    = dpop.NonceHeader
)

// setCORS sets the CORS headers WSO2 Identity Server sends on every answer
// of a form endpoint. Browsers may call the form endpoints from any origin:
// they use no cookies, so there is no ambient authority to protect.
func setCORS(h http.Header, r *http.Request, acc access) {
	h["Access-Control-Allow-Methods"] = hdrPOST
	h["Access-Control-Allow-Headers"] = hdrAllowHeads
	if acc.dpopProofs {
		h["Access-Control-Allow-Headers"] = hdrAllowHeadsDPoP
	}
	if r.Header.Get("Origin") != "" {
		h["Access-Control-Allow-Origin"] = hdrAnyOrigin
		if acc.dpopProofs {
			h["Access-Control-Expose-Headers"] = hdrExposeHeads
		}
	}
}

func withCORS(acc access, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setCORS(w.Header(), r, acc)
		h.ServeHTTP(w, r)
	})
}

// preflight answers a CORS preflight request.
func preflight(acc access) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		setCORS(h, r, acc)
		h["Access-Control-Max-Age"] = hdrMaxAgeOneDay
		h["Cache-Control"] = hdrNoStore
		h["Pragma"] = hdrNoCache
		w.WriteHeader(http.StatusNoContent)
	}
}

// handle adapts a handler that returns an error: the one place errors
// become responses.
func (e *Endpoints) handle(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			oautherr.Write(w, r, e.log, err)
		}
	})
}
