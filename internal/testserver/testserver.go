// Package testserver runs a whole tokend, the OAuth endpoints with the
// admin API, SCIM and browser sign-in, the JWT bearer grant for issuers a
// test trusts and the authorization code grant, over real HTTP on a real
// SQLite file, with a clock the test sets. It is for tests of the
// revocation lifecycle across packages; each package's own harness stays
// in its _test files.
package testserver

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokend/tokend/internal/admin"
	"github.com/tokend/tokend/internal/adminauth"
	"github.com/tokend/tokend/internal/assertion"
	"github.com/tokend/tokend/internal/clientauth"
	"github.com/tokend/tokend/internal/feed"
	"github.com/tokend/tokend/internal/identity"
	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/oautherr"
	"github.com/tokend/tokend/internal/ratelimit"
	"github.com/tokend/tokend/internal/registry"
	"github.com/tokend/tokend/internal/revocation"
	"github.com/tokend/tokend/internal/scim"
	"github.com/tokend/tokend/internal/server"
	"github.com/tokend/tokend/internal/ssf"
	"github.com/tokend/tokend/internal/ssfhttp"
	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/store/sqlite"
	"github.com/tokend/tokend/internal/token"
	"github.com/tokend/tokend/internal/web"
)

// AdminToken is the server's admin token.
const AdminToken = "testserver-admin-token-0123456789"

// AdminBearer is the Authorization header of the admin token.
const AdminBearer = "Authorization: Bearer " + AdminToken

// FailLimit is how many failed authentications a username, a client or an
// address may make in a minute, unless WithFailLimit says otherwise.
const FailLimit = 5

// Option changes how New sets the server up.
type Option func(*options)

type options struct {
	failLimit int
	ssf       func(*ssf.Config) // nil: no Shared Signals transmitter
}

// WithFailLimit sets how many failed authentications a key may make in a
// minute, for tests that make many on purpose.
func WithFailLimit(n int) Option { return func(o *options) { o.failLimit = n } }

// WithSSF runs the Shared Signals transmitter (packages ssf and ssfhttp)
// on the server's clock, polling the log every 10 ms; edit changes its
// configuration before it starts (a push backoff, PauseAfter).
func WithSSF(edit func(*ssf.Config)) Option {
	return func(o *options) {
		o.ssf = edit
		if edit == nil {
			o.ssf = func(*ssf.Config) {}
		}
	}
}

// Clock is a settable time source.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Server is a running tokend.
type Server struct {
	t     testing.TB
	srv   *httptest.Server
	Store *sqlite.Store
	Clock *Clock
	// JWT signs the server's ID Tokens and JWT access tokens.
	JWT *token.JWTs
	// URL is the server's base URL, also its issuer.
	URL string
	// SSF is the Shared Signals transmitter, nil without WithSSF.
	SSF *ssf.Transmitter
}

// New starts a server; it stops when the test ends.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	o := options{failLimit: FailLimit}
	for _, opt := range opts {
		opt(&o)
	}
	dbPath := filepath.Join(t.TempDir(), "tokend.db")
	MigratedDatabase(t, dbPath)
	st, err := sqlite.Open(dbPath, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	clk := &Clock{now: time.Now().Truncate(time.Second)}
	srv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srv.Listener.Addr().String()
	users := ratelimit.NewLimiter(o.failLimit, time.Minute, clk.Now)
	authz := adminauth.New(adminauth.Config{Token: AdminToken, Users: st, Limiter: users})
	keys, err := token.OpenKeyring(filepath.Join(t.TempDir(), "keys"), token.ES256, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	jwts := &token.JWTs{Keys: keys, Issuer: issuer}
	mux := http.NewServeMux()
	oauth.New(oauth.Config{
		Issuer: issuer,
		Store:  st,
		Auth: &clientauth.Authenticator{
			Clients:  st,
			Verifier: identity.NewSecretVerifier(time.Minute, clk.Now),
			Limiter:  ratelimit.NewLimiter(o.failLimit, time.Minute, clk.Now),
		},
		UserLimiter: users,
		Now:         clk.Now,
		Admin:       authz,
		Assertions:  &assertion.Verifier{Issuers: st, Now: clk.Now},
		JWT:         jwts,
		Browser:     true,

		AuthorizationCodes: true,
	}).Mount(mux)
	// The console's live log follows the revocation log through a hub,
	// as serve's does; it polls, nudged by no one.
	hub := feed.New(feed.Config{Source: st})
	hubCtx, stopHub := context.WithCancel(context.Background())
	if err := hub.Start(hubCtx); err != nil {
		stopHub()
		t.Fatal(err)
	}
	web.New(web.Config{Issuer: issuer, AuthorizePath: oauth.PathAuthorize, EndSessionPath: oauth.PathEndSession,
		Store: st, JWT: jwts, Feed: hub, UserLimiter: users, Now: clk.Now}).Mount(mux)
	admin.New(admin.Config{Store: st, Auth: authz, Issuer: issuer, Now: clk.Now}).Mount(mux)
	scim.New(scim.Config{Store: st, Auth: authz, BaseURL: issuer, Now: clk.Now}).Mount(mux)
	var tr *ssf.Transmitter
	stopSSF := func() {}
	if o.ssf != nil {
		tr, stopSSF = startSSF(st, jwts, authz, clk, issuer, mux, o.ssf)
	}
	srv.Config.Handler = server.Handler(server.Config{Ready: st.Ping}, mux)
	srv.Start()
	t.Cleanup(func() {
		stopHub()
		hub.Wait()
		srv.Close()
		stopSSF()
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return &Server{t: t, srv: srv, Store: st, Clock: clk, JWT: jwts, URL: issuer, SSF: tr}
}

// startSSF starts a transmitter on mux and returns it with its stop.
func startSSF(st *sqlite.Store, jwts *token.JWTs, authz *adminauth.Authorizer, clk *Clock, issuer string, mux *http.ServeMux,
	edit func(*ssf.Config)) (*ssf.Transmitter, func()) {
	cfg := ssf.Config{Store: st, Tokens: jwts, Issuer: issuer, Now: clk.Now, Poll: 10 * time.Millisecond,
		PollEndpoint: func(id string) string { return ssfhttp.PollEndpoint(issuer, id) }}
	edit(&cfg)
	tr := ssf.New(cfg)
	receiver := &ssf.Receiver{Issuers: st, Audiences: []string{issuer}, Engine: &revocation.Engine{Store: st, Now: clk.Now},
		Now: clk.Now}
	ssfhttp.New(ssfhttp.Config{Transmitter: tr, Receiver: receiver, Store: st, Auth: authz, Issuer: issuer,
		JWKSPath: oauth.PathJWKS, Now: clk.Now}).Mount(mux)
	ctx, cancel := context.WithCancel(context.Background())
	tr.Start(ctx)
	return tr, func() { cancel(); tr.Wait() }
}

// Response is an answer, read whole.
type Response struct {
	Status int
	Header http.Header
	Body   string
}

// JSON decodes the body into v, failing the test if it is not JSON.
func (r Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.Body), v); err != nil {
		t.Fatalf("body %q is not JSON: %v", r.Body, err)
	}
}

// Map decodes the body as a JSON object.
func (r Response) Map(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.JSON(t, &m)
	return m
}

// Do sends a request; headers are "Name: value" strings, empty ones
// skipped. A body is sent as application/json unless a Content-Type
// header says otherwise.
func (s *Server) Do(method, path, body string, headers ...string) Response {
	s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(s.t.Context(), method, s.URL+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, hv := range headers {
		if hv == "" {
			continue
		}
		k, v, _ := strings.Cut(hv, ":")
		req.Header.Set(k, strings.TrimSpace(v))
	}
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

// Post sends a form.
func (s *Server) Post(path, form string, headers ...string) Response {
	s.t.Helper()
	return s.Do(http.MethodPost, path, form, append([]string{"Content-Type: application/x-www-form-urlencoded"}, headers...)...)
}

// Basic is the Authorization header of HTTP Basic credentials.
func Basic(id, secret string) string {
	return "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
}

// Client registers a confidential client for every grant this server
// issues, and returns its id and secret.
func (s *Server) Client(name string) (id, secret string) {
	s.t.Helper()
	c, secret, err := oauth.Registration.New(registry.Spec{
		Name:       name,
		GrantTypes: []string{oauth.GrantClientCredentials, oauth.GrantPassword, oauth.GrantRefreshToken, oauth.GrantJWTBearer},
	}, s.Clock.Now())
	if err != nil {
		s.t.Fatal(err)
	}
	if err := s.Store.CreateClient(s.t.Context(), c); err != nil {
		s.t.Fatal(err)
	}
	return c.ID, secret
}

// CodeClient registers a client of the authorization code grant (and
// refresh_token) with the redirect URIs: public (no secret, secret "")
// or confidential.
func (s *Server) CodeClient(name string, public bool, redirectURIs ...string) (id, secret string) {
	s.t.Helper()
	spec := registry.Spec{Name: name, RedirectURIs: redirectURIs,
		GrantTypes: []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken}}
	if public {
		spec.AuthMethod = registry.AuthNone
	}
	c, secret, err := oauth.Registration.New(spec, s.Clock.Now())
	if err != nil {
		s.t.Fatal(err)
	}
	if err := s.Store.CreateClient(s.t.Context(), c); err != nil {
		s.t.Fatal(err)
	}
	return c.ID, secret
}

// Password is the password of the users User makes.
const Password = "correct horse battery"

// User adds a user with Password and returns it.
func (s *Server) User(name string, isAdmin bool) store.User {
	s.t.Helper()
	u, err := identity.NewUser(name, Password, isAdmin, s.Clock.Now())
	if err != nil {
		s.t.Fatal(err)
	}
	if err := s.Store.CreateUser(s.t.Context(), u); err != nil {
		s.t.Fatal(err)
	}
	return u
}

// Tokens are an access and a refresh token of one grant, with the client
// they were issued to.
type Tokens struct {
	ClientID, Secret string
	Access, Refresh  string
}

// PasswordTokens signs user in at the client with the password grant.
func (s *Server) PasswordTokens(clientID, secret, user string) Tokens {
	s.t.Helper()
	return s.token(clientID, secret, "grant_type=password&username="+url.QueryEscape(user)+"&password="+url.QueryEscape(Password))
}

// Issuer is an upstream issuer of JWT bearer assertions (RFC 7523) that
// the server trusts, with an ES256 key.
type Issuer struct {
	s   *Server
	ID  string // the issuer identifier, its assertions' iss
	key *ecdsa.PrivateKey
	n   int
}

// TrustIssuer registers the issuer iss with a fresh key.
func (s *Server) TrustIssuer(iss string) *Issuer {
	s.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		s.t.Fatal(err)
	}
	set, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: string(jose.ES256), Use: "sig"}}})
	if err != nil {
		s.t.Fatal(err)
	}
	if err := s.Store.CreateIssuer(s.t.Context(), store.Issuer{Issuer: iss, JWKS: set, CreatedAt: s.Clock.Now()}); err != nil {
		s.t.Fatal(err)
	}
	return &Issuer{s: s, ID: iss, key: key}
}

// Assertion signs an assertion about sub for this server's token
// endpoint, valid for five minutes, with a jti never used before.
func (i *Issuer) Assertion(sub string) string {
	i.s.t.Helper()
	i.n++
	now := i.s.Clock.Now()
	claims, err := json.Marshal(map[string]any{"iss": i.ID, "sub": sub, "aud": i.s.URL + oauth.PathToken,
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "jti": fmt.Sprintf("jti-%d", i.n)})
	if err != nil {
		i.s.t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: i.key, KeyID: "k1"}}, nil)
	if err != nil {
		i.s.t.Fatal(err)
	}
	jws, err := signer.Sign(claims)
	if err != nil {
		i.s.t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		i.s.t.Fatal(err)
	}
	return out
}

// AssertionTokens runs the JWT bearer grant (RFC 7523 §2.1) at the client
// with an assertion from iss about sub.
func (s *Server) AssertionTokens(clientID, secret string, iss *Issuer, sub string) Tokens {
	s.t.Helper()
	return s.token(clientID, secret, "grant_type="+url.QueryEscape(oauth.GrantJWTBearer)+"&assertion="+url.QueryEscape(iss.Assertion(sub)))
}

// ClientTokens runs the client_credentials grant.
func (s *Server) ClientTokens(clientID, secret string) Tokens {
	s.t.Helper()
	return s.token(clientID, secret, "grant_type=client_credentials")
}

func (s *Server) token(clientID, secret, form string) Tokens {
	s.t.Helper()
	r := s.Post(oauth.PathToken, form, Basic(clientID, secret))
	if r.Status != http.StatusOK {
		s.t.Fatalf("token: status %d, body %s", r.Status, r.Body)
	}
	var body struct {
		Access  string `json:"access_token"`
		Refresh string `json:"refresh_token"`
	}
	r.JSON(s.t, &body)
	return Tokens{ClientID: clientID, Secret: secret, Access: body.Access, Refresh: body.Refresh}
}

// Active introspects tok with the admin token.
func (s *Server) Active(tok string) bool {
	s.t.Helper()
	r := s.Post(oauth.PathIntrospect, "token="+url.QueryEscape(tok), AdminBearer)
	if r.Status != http.StatusOK {
		s.t.Fatalf("introspect: status %d, body %s", r.Status, r.Body)
	}
	return r.Map(s.t)["active"] == true
}

// Refresh presents tk's refresh token at the token endpoint with tk's
// client and returns the answer; it does not fail the test.
func (s *Server) Refresh(tk Tokens) Response {
	s.t.Helper()
	return s.Post(oauth.PathToken, "grant_type=refresh_token&refresh_token="+url.QueryEscape(tk.Refresh), Basic(tk.ClientID, tk.Secret))
}

// Events reads the whole revocation log through GET /admin/revocations.
func (s *Server) Events() []admin.Event {
	s.t.Helper()
	r := s.Do(http.MethodGet, admin.PathRevocations+"?limit=1000", "", AdminBearer)
	if r.Status != http.StatusOK {
		s.t.Fatalf("events: status %d, body %s", r.Status, r.Body)
	}
	var evs []admin.Event
	r.JSON(s.t, &evs)
	return evs
}

// CheckRevoked fails the test unless every token of tks is revoked: each
// introspects inactive, the store has its grant revoked, and its refresh
// token is refused at the token endpoint.
func (s *Server) CheckRevoked(t testing.TB, tks ...Tokens) {
	t.Helper()
	for _, tk := range tks {
		for _, tok := range []string{tk.Access, tk.Refresh} {
			if tok == "" {
				continue
			}
			if s.Active(tok) {
				t.Errorf("token of client %s introspects active; want inactive", tk.ClientID)
			}
			rec, err := s.Store.LookupToken(t.Context(), store.HashToken(tok))
			if err != nil || !rec.Revoked {
				t.Errorf("token of client %s: stored revoked = %v (err %v); want true", tk.ClientID, rec.Revoked, err)
			}
		}
		if tk.Refresh == "" {
			continue
		}
		r := s.Refresh(tk)
		code, _ := r.Map(t)["error"].(string)
		if r.Status != http.StatusBadRequest && r.Status != http.StatusUnauthorized || code != oautherr.CodeInvalidGrant && code != oautherr.CodeInvalidClient {
			t.Errorf("refresh of a revoked grant of client %s: %d %s; want 400 invalid_grant (or 401 invalid_client for a deleted client)", tk.ClientID, r.Status, r.Body)
		}
	}
}

// CheckLive fails the test unless every token of tks introspects active.
func (s *Server) CheckLive(t testing.TB, tks ...Tokens) {
	t.Helper()
	for _, tk := range tks {
		for _, tok := range []string{tk.Access, tk.Refresh} {
			if tok != "" && !s.Active(tok) {
				t.Errorf("token of client %s introspects inactive; want active (untouched)", tk.ClientID)
			}
		}
	}
}
