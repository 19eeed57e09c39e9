package rs

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func newGuard(t *testing.T, a *fakeAS, edit func(*Config)) *Guard {
	t.Helper()
	cfg := Config{Issuer: a.srv.URL, Audience: audience, ClientID: asClientID, ClientSecret: asClientSecret, RequiredScopes: []string{"read"}}
	if edit != nil {
		edit(&cfg)
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

type result struct {
	status    int
	challenge string
	body      string
}

// call runs one request with the token through the middleware in front of
// a handler that echoes the subject.
func call(t *testing.T, h http.Handler, authorization string) result {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/api", nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	b, _ := io.ReadAll(w.Result().Body)
	return result{w.Code, w.Header().Get("WWW-Authenticate"), strings.TrimSpace(string(b))}
}

var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	c, ok := ClaimsFrom(r.Context())
	if !ok {
		http.Error(w, "no claims", 500)
		return
	}
	io.WriteString(w, c.Subject+" "+c.Scope)
})

// refusedWithin calls h with authorization until it is refused or d has
// passed, and reports whether it was refused.
func refusedWithin(t *testing.T, h http.Handler, authorization string, d time.Duration) bool {
	t.Helper()
	deadline := time.Now().Add(d)
	for call(t, h, authorization).status == 200 {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

func waitFeed(t *testing.T, r *Guard) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := r.WaitFeed(ctx); err != nil {
		t.Fatalf("feed not ready: %v", err)
	}
}

func TestMiddlewareRefusals(t *testing.T) {
	a := newFakeAS(t)
	r := newGuard(t, a, nil)
	waitFeed(t, r)
	h := r.Middleware(echo)
	now := time.Now()
	cases := []struct {
		name          string
		authorization string
		want          result
	}{
		{"valid", "Bearer " + a.jwt(1, nil), result{200, "", "alice read write"}},
		{"scheme in lower case", "bearer " + a.jwt(1, nil), result{200, "", "alice read write"}},
		{"no header", "", result{401, `Bearer`, `{"error_description":"a bearer token is required"}`}},
		{"basic", "Basic YTpi", result{401, `Bearer`, `{"error_description":"a bearer token is required"}`}},
		{"empty bearer", "Bearer ", result{400, `Bearer error="invalid_request", error_description="malformed Bearer authorization header"`, `{"error":"invalid_request","error_description":"malformed Bearer authorization header"}`}},
		{"garbage JWT", "Bearer eyJhbGciOi.x.y", result{401, `Bearer error="invalid_token", error_description="the token is not a valid JWT"`, `{"error":"invalid_token","error_description":"the token is not a valid JWT"}`}},
		{"expired", "Bearer " + a.jwt(1, func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() }),
			result{401, `Bearer error="invalid_token", error_description="the token has expired"`, `{"error":"invalid_token","error_description":"the token has expired"}`}},
		{"no exp", "Bearer " + a.jwt(1, func(c map[string]any) { delete(c, "exp") }),
			result{401, `Bearer error="invalid_token", error_description="the token has no exp"`, `{"error":"invalid_token","error_description":"the token has no exp"}`}},
		{"not yet valid", "Bearer " + a.jwt(1, func(c map[string]any) { c["nbf"] = now.Add(time.Minute).Unix() }),
			result{401, `Bearer error="invalid_token", error_description="the token is not valid yet"`, `{"error":"invalid_token","error_description":"the token is not valid yet"}`}},
		{"other issuer", "Bearer " + a.jwt(1, func(c map[string]any) { c["iss"] = "https://evil.example" }),
			result{401, `Bearer error="invalid_token", error_description="the token is from another issuer"`, `{"error":"invalid_token","error_description":"the token is from another issuer"}`}},
		{"other audience", "Bearer " + a.jwt(1, func(c map[string]any) { c["aud"] = []string{"https://other.example"} }),
			result{401, `Bearer error="invalid_token", error_description="the token is for another audience"`, `{"error":"invalid_token","error_description":"the token is for another audience"}`}},
		{"insufficient scope", "Bearer " + a.jwt(1, func(c map[string]any) { c["scope"] = "write" }),
			result{403, `Bearer error="insufficient_scope", error_description="the token lacks a required scope", scope="read"`, `{"error":"insufficient_scope","error_description":"the token lacks a required scope","scope":"read"}`}},
		{"id token", "Bearer " + a.sign("JWT", map[string]any{"iss": a.srv.URL, "aud": audience, "exp": now.Add(time.Hour).Unix()}),
			result{401, `Bearer error="invalid_token", error_description="the token is not a JWT access token (typ at+jwt)"`, `{"error":"invalid_token","error_description":"the token is not a JWT access token (typ at+jwt)"}`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := call(t, h, c.authorization); got != c.want {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
	t.Run("forged signature", func(t *testing.T) {
		tok := a.jwt(1, nil)
		forged := tok[:len(tok)-4] + "AAAA"
		if got := call(t, h, "Bearer "+forged); got.status != 401 || !strings.Contains(got.challenge, "invalid_token") {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("RequireScopes", func(t *testing.T) {
		admin := r.Middleware(RequireScopes("admin")(echo))
		if got := call(t, admin, "Bearer "+a.jwt(1, nil)); got.status != 403 || !strings.Contains(got.challenge, `scope="admin"`) {
			t.Errorf("got %+v", got)
		}
		ok := a.jwt(1, func(c map[string]any) { c["scope"] = "read admin" })
		if got := call(t, admin, "Bearer "+ok); got.status != 200 {
			t.Errorf("got %+v", got)
		}
	})
	if n := a.listFetches.Load(); n != 0 {
		t.Errorf("%d status list fetches while the feed was healthy; want 0", n)
	}
}

func TestUnknownKidRefetchesTheKeysOnce(t *testing.T) {
	a := newFakeAS(t)
	r := newGuard(t, a, func(c *Config) { c.DisableFeed = true })
	h := r.Middleware(echo)
	if got := call(t, h, "Bearer "+a.jwt(1, nil)); got.status != 200 {
		t.Fatalf("got %+v", got)
	}
	r.keys.refetch = 20 * time.Millisecond
	time.Sleep(30 * time.Millisecond)
	a.set(func(a *fakeAS) { a.kid = "k2" }) // a rotation: the same key under a new kid
	if got := call(t, h, "Bearer "+a.jwt(1, nil)); got.status != 200 {
		t.Fatalf("after rotation: %+v", got)
	}
	r.keys.refetch = refetchEvery
	before := a.jwksFetches.Load()
	for range 20 {
		a.set(func(a *fakeAS) { a.kid = "made-up" })
		bogus := a.jwt(1, nil)
		a.set(func(a *fakeAS) { a.kid = "k2" })
		if got := call(t, h, "Bearer "+bogus); got.status != 401 {
			t.Fatalf("unknown kid: %+v", got)
		}
	}
	if n := a.jwksFetches.Load() - before; n > 1 {
		t.Errorf("%d JWKS fetches for 20 tokens with an unknown kid; want at most 1", n)
	}
}

func TestFeedRevocationIsHonoured(t *testing.T) {
	a := newFakeAS(t)
	r := newGuard(t, a, nil)
	waitFeed(t, r)
	h := r.Middleware(echo)
	tok := a.jwt(7, nil)
	if got := call(t, h, "Bearer "+tok); got.status != 200 {
		t.Fatalf("got %+v", got)
	}
	start := time.Now()
	a.revoke("jti-7", tok)
	if !refusedWithin(t, h, "Bearer "+tok, 2*time.Second) {
		t.Fatal("the revoked token is still accepted after 2 s")
	}
	t.Logf("refused %v after the event was published", time.Since(start))
	got := call(t, h, "Bearer "+tok)
	want := result{401, `Bearer error="invalid_token", error_description="the token has been revoked"`, `{"error":"invalid_token","error_description":"the token has been revoked"}`}
	if got != want {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	// A token revoked by hash alone (the jti is not told) is refused too.
	other := a.jwt(8, nil)
	a.revoke("", other)
	refusedWithin(t, h, "Bearer "+other, 2*time.Second)
	if got := call(t, h, "Bearer "+other).status; got != 401 {
		t.Errorf("token revoked by hash: %d", got)
	}
	if n := a.listFetches.Load(); n != 0 {
		t.Errorf("%d status list fetches; want 0", n)
	}
}

// TestFeedGoesOnPastMessageWithoutTokens: a message that covers no token
// (a subject entry of the log, which tokend's feed leaves out) changes
// nothing, and the follower goes on: the revocation after it is honoured.
func TestFeedGoesOnPastMessageWithoutTokens(t *testing.T) {
	a := newFakeAS(t)
	r := newGuard(t, a, nil)
	waitFeed(t, r)
	h := r.Middleware(echo)
	tok := a.jwt(9, nil)
	a.subjectEntry()
	a.revoke("jti-9", tok)
	refusedWithin(t, h, "Bearer "+tok, 2*time.Second)
	if got := call(t, h, "Bearer "+tok).status; got != 401 {
		t.Errorf("the token revoked after a message without tokens: %d; want 401", got)
	}
	if !r.FeedHealthy() {
		t.Error("the feed is not healthy after a message without tokens")
	}
}

func TestFeedResumesWithLastEventID(t *testing.T) {
	a := newFakeAS(t)
	r := newGuard(t, a, nil)
	waitFeed(t, r)
	tok1, tok2 := a.jwt(1, nil), a.jwt(2, nil)
	a.revoke("jti-1", tok1)
	deadline := time.Now().Add(2 * time.Second)
	for !r.revoked.has("jti-1", [32]byte{}) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	a.set(func(a *fakeAS) { a.feedDown = true })
	a.drop()
	for r.FeedHealthy() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	// While the feed is down, a revocation happens that the resource server
	// learns from the status list, and again from the feed when it is back.
	a.revoke("jti-2", tok2)
	a.set(func(a *fakeAS) { a.revokedBits[2] = true })
	h := r.Middleware(echo)
	if got := call(t, h, "Bearer "+tok2); got.status != 401 {
		t.Errorf("feed down, status list says revoked: %+v", got)
	}
	if a.listFetches.Load() == 0 {
		t.Error("the status list was not consulted while the feed was down")
	}
	if got := call(t, h, "Bearer "+tok1); got.status != 401 {
		t.Errorf("revoked before the outage: %+v", got)
	}
	if got := call(t, h, "Bearer "+a.jwt(3, nil)); got.status != 200 {
		t.Errorf("a live token while the feed is down: %+v", got)
	}
	a.set(func(a *fakeAS) { a.feedDown = false })
	waitFeed(t, r)
	a.mu.Lock()
	ids := append([]string(nil), a.lastEventID...)
	a.mu.Unlock()
	if len(ids) < 2 || ids[0] != "" || ids[len(ids)-1] != "1" {
		t.Errorf("Last-Event-ID of the connections: %q; want first none, then 1", ids)
	}
	if !r.revoked.has("jti-2", [32]byte{}) {
		t.Error("the event sent while the feed was down was not received on resumption")
	}
}

func TestStatusListUnreachableFailsClosed(t *testing.T) {
	a := newFakeAS(t)
	r := newGuard(t, a, func(c *Config) { c.DisableFeed = true })
	a.set(func(a *fakeAS) { a.listDown = true })
	got := call(t, r.Middleware(echo), "Bearer "+a.jwt(1, nil))
	if got.status != 503 || got.body != `{"error":"temporarily_unavailable","error_description":"the token's status list could not be fetched"}` {
		t.Errorf("got %+v", got)
	}
}

func TestStatusListIsCached(t *testing.T) {
	a := newFakeAS(t)
	r := newGuard(t, a, func(c *Config) { c.ClientID, c.ClientSecret = "", "" })
	a.set(func(a *fakeAS) { a.revokedBits[5] = true })
	h := r.Middleware(echo)
	for range 10 {
		if got := call(t, h, "Bearer "+a.jwt(4, nil)); got.status != 200 {
			t.Fatalf("live: %+v", got)
		}
		if got := call(t, h, "Bearer "+a.jwt(5, nil)); got.status != 401 {
			t.Fatalf("revoked: %+v", got)
		}
	}
	if n := a.listFetches.Load(); n != 1 {
		t.Errorf("%d fetches of a list with ttl 300 s; want 1", n)
	}
}

func TestOpaqueTokens(t *testing.T) {
	a := newFakeAS(t)
	r := newGuard(t, a, nil)
	waitFeed(t, r)
	h := r.Middleware(echo)
	exp := time.Now().Add(time.Hour).Unix()
	a.set(func(a *fakeAS) {
		a.active["tka_live"] = map[string]any{"active": true, "sub": "bob", "scope": "read", "client_id": "app", "exp": exp, "iss": a.srv.URL}
		a.active["tkr_refresh"] = map[string]any{"active": true, "sub": "bob", "scope": "read", "token_type": "refresh_token", "exp": exp}
		a.active["tka_other_aud"] = map[string]any{"active": true, "sub": "bob", "scope": "read", "aud": "https://other", "exp": exp}
	})
	for range 5 {
		if got := call(t, h, "Bearer tka_live"); got.status != 200 || got.body != "bob read" {
			t.Fatalf("live opaque token: %+v", got)
		}
	}
	if n := a.introspections.Load(); n != 1 {
		t.Errorf("%d introspections for 5 requests; want 1 (cached)", n)
	}
	for _, tok := range []string{"tka_unknown", "tkr_refresh", "tka_other_aud"} {
		if got := call(t, h, "Bearer "+tok); got.status != 401 || got.challenge != `Bearer error="invalid_token", error_description="the token is not active"` {
			t.Errorf("%s: %+v", tok, got)
		}
	}
	// The feed revokes it: the cached answer is dropped at once.
	a.revoke("", "tka_live")
	if !refusedWithin(t, h, "Bearer tka_live", 2*time.Second) {
		t.Fatal("the cached answer outlived the revocation")
	}
	t.Run("without credentials", func(t *testing.T) {
		r := newGuard(t, a, func(c *Config) { c.ClientID, c.ClientSecret = "", "" })
		if got := call(t, r.Middleware(echo), "Bearer tka_live"); got.status != 401 {
			t.Errorf("got %+v", got)
		}
	})
}

func TestConfig(t *testing.T) {
	for _, c := range []Config{{}, {Issuer: "localhost:9443"}, {Issuer: "https://as", ClientID: "x"}} {
		if _, err := New(c); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
	r, err := New(Config{Issuer: "https://as/"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.cfg.Issuer != "https://as" || r.feed != nil || r.FeedHealthy() {
		t.Errorf("zero config: issuer %q, feed %v", r.cfg.Issuer, r.feed)
	}
	if err := r.WaitFeed(t.Context()); err == nil {
		t.Error("WaitFeed without a feed returned nil")
	}
}

func TestMetadataIssuerMismatch(t *testing.T) {
	a := newFakeAS(t)
	// The same server, named differently: its metadata names another issuer.
	r := newGuard(t, a, func(c *Config) {
		c.Issuer = strings.Replace(a.srv.URL, "127.0.0.1", "localhost", 1)
		c.DisableFeed = true
	})
	got := call(t, r.Middleware(echo), "Bearer "+a.jwt(1, nil))
	if got.status != 503 {
		t.Errorf("got %+v", got)
	}
	var body map[string]string
	_ = json.Unmarshal([]byte(got.body), &body)
	if body["error"] != "temporarily_unavailable" {
		t.Errorf("body %v", body)
	}
}

// A client Timeout, which would cut the long feed request, is not applied
// to the feed.
func TestHTTPClientTimeoutSparesTheFeed(t *testing.T) {
	a := newFakeAS(t)
	r := newGuard(t, a, func(c *Config) { c.HTTPClient = &http.Client{Timeout: 50 * time.Millisecond} })
	waitFeed(t, r)
	time.Sleep(200 * time.Millisecond)
	if !r.FeedHealthy() || a.feedConnects.Load() != 1 {
		t.Errorf("healthy %v after %d connections; want true after 1", r.FeedHealthy(), a.feedConnects.Load())
	}
}

// TestOpaqueCacheUnusedWhileFeedIsDown: the feed is what makes a cached
// introspection answer safe to reuse; with the feed down, a revocation
// would go unseen for the cache's whole TTL, so every request asks.
func TestOpaqueCacheUnusedWhileFeedIsDown(t *testing.T) {
	a := newFakeAS(t)
	exp := time.Now().Add(time.Hour).Unix()
	a.set(func(a *fakeAS) {
		a.feedDown = true
		a.active["tka_live"] = map[string]any{"active": true, "sub": "bob", "scope": "read", "exp": exp}
	})
	r := newGuard(t, a, nil)
	h := r.Middleware(echo)
	for range 3 {
		if got := call(t, h, "Bearer tka_live"); got.status != 200 {
			t.Fatalf("live opaque token: %+v", got)
		}
	}
	if n := a.introspections.Load(); n != 3 {
		t.Errorf("%d introspections for 3 requests with the feed down; want 3", n)
	}
	// Revoked at the authorization server while the feed is still down:
	// refused at once, not after the cache's TTL.
	a.set(func(a *fakeAS) { delete(a.active, "tka_live") })
	if got := call(t, h, "Bearer tka_live"); got.status != 401 {
		t.Errorf("revoked while the feed is down: %+v", got)
	}
}
