package oauth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/adminauth"
	"github.com/tokend/tokend/internal/clientauth"
	"github.com/tokend/tokend/internal/identity"
	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/ratelimit"
	"github.com/tokend/tokend/internal/registry"
	"github.com/tokend/tokend/internal/server"
	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/store/sqlite"
	"github.com/tokend/tokend/internal/testserver"
	"github.com/tokend/tokend/internal/token"
)

const testAdminToken = "test-admin-token-0123456789"

// clock is a settable time source, so expiry is tested without sleeping.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// harness is a tokend server over real HTTP on a real SQLite file.
type harness struct {
	t     testing.TB
	srv   *httptest.Server
	store *sqlite.Store
	clock *clock
	cfg   oauth.Config
}

// cfgJWT is the harness's JWT minter and verifier (withJWT).
func (h *harness) cfgJWT() *token.JWTs { return h.cfg.JWT }

// countingStore counts token lookups and revocations of one token, to
// show which requests never reach the store.
type countingStore struct {
	store.Store
	lookups     atomic.Int64
	facts       atomic.Int64 // LookupTokenFacts
	revocations atomic.Int64
}

func (c *countingStore) LookupToken(ctx context.Context, h store.Hash) (store.TokenRecord, error) {
	c.lookups.Add(1)
	return c.Store.LookupToken(ctx, h)
}

func (c *countingStore) LookupTokenFacts(ctx context.Context, h store.Hash) (store.TokenRecord, error) {
	c.facts.Add(1)
	return c.Store.LookupTokenFacts(ctx, h)
}

func (c *countingStore) RevokeToken(ctx context.Context, h store.Hash, kind store.TokenKind, clientID string, rev store.Revocation) (store.TokenRecord, store.RevokeResult, error) {
	c.revocations.Add(1)
	return c.Store.RevokeToken(ctx, h, kind, clientID, rev)
}

type harnessOption func(*oauth.Config)

func withoutRevokeHeaders(c *oauth.Config) { c.RevokeHeaders = false }

func newHarness(t testing.TB, opts ...harnessOption) *harness {
	t.Helper()
	// A copy of a database migrated once per process: the migrations are
	// tested in internal/store/sqlite, and were most of each harness's CPU.
	path := filepath.Join(t.TempDir(), "tokend.db")
	testserver.MigratedDatabase(t, path)
	st, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: time.Now().Truncate(time.Second)}
	srv := httptest.NewUnstartedServer(nil)
	users := ratelimit.NewLimiter(5, time.Minute, clk.Now)
	cfg := oauth.Config{
		Issuer: "http://" + srv.Listener.Addr().String(),
		Store:  st,
		Auth: &clientauth.Authenticator{
			Clients:  st,
			Verifier: identity.NewSecretVerifier(time.Minute, clk.Now),
			Limiter:  ratelimit.NewLimiter(5, time.Minute, clk.Now),
		},
		UserLimiter:   users,
		Now:           clk.Now,
		Admin:         adminauth.New(adminauth.Config{Token: testAdminToken, Users: st, Limiter: users}),
		RevokeHeaders: true,
	}
	for _, o := range opts {
		o(&cfg)
	}
	mux := http.NewServeMux()
	oauth.New(cfg).Mount(mux)
	srv.Config.Handler = server.Handler(server.Config{Ready: st.Ping}, mux)
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return &harness{t: t, srv: srv, store: st, clock: clk, cfg: cfg}
}

// client registers a client and returns its id and secret.
func (h *harness) client(spec registry.Spec) (id, secret string) {
	h.t.Helper()
	c, secret, err := oauth.Registration.New(spec, h.clock.Now())
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.store.CreateClient(h.t.Context(), c); err != nil {
		h.t.Fatal(err)
	}
	return c.ID, secret
}

func (h *harness) user(name, password string) {
	h.t.Helper()
	u, err := identity.NewUser(name, password, false, h.clock.Now())
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.store.CreateUser(h.t.Context(), u); err != nil {
		h.t.Fatal(err)
	}
}

type response struct {
	status int
	header http.Header
	body   string
	closed bool // the server closes the connection after this answer
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("body %q is not JSON: %v", r.body, err)
	}
	return m
}

func (h *harness) do(req *http.Request) response {
	h.t.Helper()
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b), closed: resp.Close}
}

// post sends a form; headers are "Name: value" strings.
func (h *harness) post(path, form string, headers ...string) response {
	h.t.Helper()
	req, err := http.NewRequestWithContext(h.t.Context(), http.MethodPost, h.srv.URL+path, strings.NewReader(form))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, hv := range headers {
		if hv == "" {
			continue
		}
		k, v, _ := strings.Cut(hv, ":")
		req.Header.Set(k, strings.TrimSpace(v))
	}
	return h.do(req)
}

func basic(id, secret string) string {
	return "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
}

type tokens struct {
	Access, Refresh, Scope string
	ExpiresIn              float64
}

// token runs the token endpoint and fails the test unless it answers 200.
func (h *harness) token(id, secret, form string) tokens {
	h.t.Helper()
	r := h.post(oauth.PathToken, form, basic(id, secret))
	if r.status != http.StatusOK {
		h.t.Fatalf("token: status %d, body %s", r.status, r.body)
	}
	m := r.json(h.t)
	tk := tokens{Access: str(m["access_token"]), Refresh: str(m["refresh_token"]), Scope: str(m["scope"])}
	tk.ExpiresIn, _ = m["expires_in"].(float64)
	return tk
}

func str(v any) string { s, _ := v.(string); return s }

// passwordTokens issues an access and a refresh token for a fresh user.
func (h *harness) passwordTokens(id, secret, user string) tokens {
	h.t.Helper()
	h.user(user, "correct horse battery")
	return h.token(id, secret, "grant_type=password&username="+user+"&password=correct+horse+battery&scope=read+write")
}

// active introspects tok with the admin token.
func (h *harness) active(tok string) bool {
	h.t.Helper()
	r := h.post(oauth.PathIntrospect, "token="+url.QueryEscape(tok), "Authorization: Bearer "+testAdminToken)
	if r.status != http.StatusOK {
		h.t.Fatalf("introspect: status %d, body %s", r.status, r.body)
	}
	return r.json(h.t)["active"] == true
}

// confidential is the spec of an ordinary confidential client.
func confidential(name string) registry.Spec {
	return registry.Spec{Name: name}
}

// record looks a token up directly in the store.
func (h *harness) record(tok string) store.TokenRecord {
	h.t.Helper()
	rec, err := h.store.LookupToken(h.t.Context(), store.HashToken(tok))
	if err != nil {
		h.t.Fatalf("lookup: %v", err)
	}
	return rec
}
