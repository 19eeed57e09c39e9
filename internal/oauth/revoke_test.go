package oauth_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/oautherr"
	"github.com/tokend/tokend/internal/registry"
)

// wso2Headers are the headers WSO2 Identity Server sends on every
// revocation answer.
var wso2Headers = map[string]string{
	"Cache-Control":                "no-store",
	"Pragma":                       "no-cache",
	"X-Content-Type-Options":       "nosniff",
	"X-XSS-Protection":             "1; mode=block",
	"Access-Control-Allow-Methods": "POST",
	"Access-Control-Allow-Headers": "authorization,Access-Control-Allow-Origin,Content-Type,SOAPAction,Authorization",
}

func checkWSO2Headers(t *testing.T, r response) {
	t.Helper()
	for k, want := range wso2Headers {
		if got := r.header.Get(k); got != want {
			t.Errorf("header %s = %q; want %q", k, got, want)
		}
	}
}

func checkNoRevokedHeaders(t *testing.T, r response) {
	t.Helper()
	for _, k := range []string{"RevokedAccessToken", "RevokedRefreshToken", "AuthorizedUser"} {
		if v := r.header.Get(k); v != "" {
			t.Errorf("header %s = %q; want none", k, v)
		}
	}
}

// checkOAuthError checks status, error code and the JSON content type.
func checkOAuthError(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d; want %d (body %s)", r.status, status, r.body)
	}
	if got := r.json(t)["error"]; got != code {
		t.Errorf("error = %v; want %q (body %s)", got, code, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q; want application/json", ct)
	}
}

func checkRevokedOK(t *testing.T, r response) {
	t.Helper()
	if r.status != http.StatusOK || r.body != "" {
		t.Fatalf("status %d body %q; want 200 and an empty body", r.status, r.body)
	}
	checkWSO2Headers(t, r)
}

func TestRevokeAccessTokenRevokesGrant(t *testing.T) {
	h := newHarness(t)
	id, secret := h.client(confidential("app"))
	tk := h.passwordTokens(id, secret, "alice")

	r := h.post(oauth.PathRevoke, "token="+tk.Access, basic(id, secret))
	checkRevokedOK(t, r)
	if got := r.header.Get("RevokedAccessToken"); got != tk.Access {
		t.Errorf("RevokedAccessToken = %q; want the token sent", got)
	}
	if got := r.header.Get("AuthorizedUser"); got != "alice" {
		t.Errorf("AuthorizedUser = %q; want alice", got)
	}
	if h.active(tk.Access) || h.active(tk.Refresh) {
		t.Error("access or refresh token still active after revocation of the access token")
	}
	// The refresh token of the grant is refused at the token endpoint.
	rr := h.post(oauth.PathToken, "grant_type=refresh_token&refresh_token="+tk.Refresh, basic(id, secret))
	checkOAuthError(t, rr, http.StatusBadRequest, oautherr.CodeInvalidGrant)

	// Same again: still 200, but nothing is echoed.
	again := h.post(oauth.PathRevoke, "token="+tk.Access, basic(id, secret))
	checkRevokedOK(t, again)
	checkNoRevokedHeaders(t, again)
}

func TestRevokeRefreshTokenRevokesGrant(t *testing.T) {
	h := newHarness(t)
	id, secret := h.client(confidential("app"))
	tk := h.passwordTokens(id, secret, "bob")

	r := h.post(oauth.PathRevoke, "token="+tk.Refresh+"&token_type_hint=refresh_token", basic(id, secret))
	checkRevokedOK(t, r)
	if got := r.header.Get("RevokedRefreshToken"); got != tk.Refresh {
		t.Errorf("RevokedRefreshToken = %q; want the token sent", got)
	}
	if r.header.Get("RevokedAccessToken") != "" {
		t.Error("RevokedAccessToken echoed, but only hashes are stored: it cannot be known")
	}
	if h.active(tk.Access) || h.active(tk.Refresh) {
		t.Error("token still active after revocation of the refresh token")
	}
}

func TestRevokeClientCredentialsNamesClientAsUser(t *testing.T) {
	h := newHarness(t)
	id, secret := h.client(confidential("svc"))
	tk := h.token(id, secret, "grant_type=client_credentials")
	r := h.post(oauth.PathRevoke, "token="+tk.Access, basic(id, secret))
	checkRevokedOK(t, r)
	if got := r.header.Get("AuthorizedUser"); got != id {
		t.Errorf("AuthorizedUser = %q; want the client %q", got, id)
	}
}

func TestRevokeHintIsOnlyAnOptimisation(t *testing.T) {
	for _, hint := range []string{"access_token", "refresh_token", "id_token", "nonsense", ""} {
		t.Run("hint="+hint, func(t *testing.T) {
			h := newHarness(t)
			id, secret := h.client(confidential("app"))
			tk := h.passwordTokens(id, secret, "carol")
			for _, tok := range []string{tk.Access, tk.Refresh} {
				form := "token=" + tok
				if hint != "" {
					form += "&token_type_hint=" + hint
				}
				r := h.post(oauth.PathRevoke, form, basic(id, secret))
				checkRevokedOK(t, r)
			}
			if h.active(tk.Access) || h.active(tk.Refresh) {
				t.Error("a token is still active")
			}
		})
	}
}

func TestRevokeUnknownMalformedOrExpiredIsNoOp(t *testing.T) {
	h := newHarness(t)
	id, secret := h.client(confidential("app"))
	expiring := h.token(id, secret, "grant_type=client_credentials")
	// A well-formed token that was never issued: flip nothing, mint anew.
	other := newHarness(t)
	oid, osecret := other.client(confidential("x"))
	neverIssued := other.token(oid, osecret, "grant_type=client_credentials").Access

	h.clock.Advance(2 * time.Hour) // past the default lifetime of an hour
	fresh := h.token(id, secret, "grant_type=client_credentials")

	cases := map[string]string{
		"WSO2 opaque":      "a0d210c7a3de7d548e03f1986e9a5c39",
		"WSO2 uuid":        "1d18ec65-6151-3499-9352-68afe64299c3",
		"never issued":     neverIssued,
		"bad checksum":     fresh.Access[:len(fresh.Access)-1] + flip(fresh.Access[len(fresh.Access)-1]),
		"truncated":        fresh.Access[:20],
		"expired":          expiring.Access,
		"bogus JWT":        "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln",
		"unicode":          "tka_ünïcödé",
		"whitespace token": " ",
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			r := h.post(oauth.PathRevoke, "token="+url.QueryEscape(tok), basic(id, secret))
			checkRevokedOK(t, r)
			checkNoRevokedHeaders(t, r)
		})
	}
	if !h.active(fresh.Access) {
		t.Error("a no-op revocation touched an unrelated live token")
	}
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

func TestRevokeAnotherClientsTokenIsRefused(t *testing.T) {
	h := newHarness(t)
	owner, ownerSecret := h.client(confidential("owner"))
	thief, thiefSecret := h.client(confidential("thief"))
	tk := h.passwordTokens(owner, ownerSecret, "dave")

	for _, tok := range []string{tk.Access, tk.Refresh} {
		r := h.post(oauth.PathRevoke, "token="+tok, basic(thief, thiefSecret))
		checkOAuthError(t, r, http.StatusBadRequest, oautherr.CodeUnauthorizedClient)
		checkWSO2Headers(t, r)
		checkNoRevokedHeaders(t, r)
	}
	if !h.active(tk.Access) || !h.active(tk.Refresh) {
		t.Error("another client's request changed the tokens")
	}
}

func TestRevokePublicClient(t *testing.T) {
	h := newHarness(t)
	pub, _ := h.client(registry.Spec{Name: "spa", AuthMethod: registry.AuthNone})
	h.user("erin", "correct horse battery")
	r := h.post(oauth.PathToken, "grant_type=password&username=erin&password=correct+horse+battery&client_id="+pub)
	if r.status != http.StatusOK {
		t.Fatalf("public client token: %d %s", r.status, r.body)
	}
	m := r.json(t)
	access, refresh := str(m["access_token"]), str(m["refresh_token"])

	// A public client's revocation as WSO2 Identity Server documents it:
	// client_id in the body, no Authorization header.
	rv := h.post(oauth.PathRevoke, "token="+refresh+"&token_type_hint=refresh_token&client_id="+pub)
	checkRevokedOK(t, rv)
	if v := rv.header.Get("RevokedRefreshToken"); v != "" {
		t.Errorf("RevokedRefreshToken = %q; a public client is never sent a refresh token", v)
	}
	if h.active(access) || h.active(refresh) {
		t.Error("public client's grant still active")
	}

	// A public client cannot revoke another client's token.
	conf, confSecret := h.client(confidential("backend"))
	other := h.token(conf, confSecret, "grant_type=client_credentials")
	rv = h.post(oauth.PathRevoke, "token="+other.Access+"&client_id="+pub)
	checkOAuthError(t, rv, http.StatusBadRequest, oautherr.CodeUnauthorizedClient)
	if !h.active(other.Access) {
		t.Error("public client revoked another client's token")
	}

	// Naming a confidential client without its secret is not authentication.
	rv = h.post(oauth.PathRevoke, "token="+other.Access+"&client_id="+conf)
	checkOAuthError(t, rv, http.StatusUnauthorized, oautherr.CodeInvalidClient)
	if !h.active(other.Access) {
		t.Error("token revoked without client authentication")
	}
}

func TestRevokeClientAuthenticationFailures(t *testing.T) {
	h := newHarness(t)
	id, secret := h.client(confidential("app"))
	tk := h.token(id, secret, "grant_type=client_credentials")
	form := "token=" + tk.Access
	cases := []struct {
		name    string
		form    string
		headers []string
	}{
		{"wrong secret", form, []string{basic(id, "wrong")}},
		{"unknown client", form, []string{basic("nobody", secret)}},
		{"not base64", form, []string{"Authorization: Basic %%%not-base64%%%"}},
		{"no colon", form, []string{"Authorization: Basic " + "bm9jb2xvbg=="}},
		{"not basic", form, []string{"Authorization: Digest abc"}},
		{"header and body", form + "&client_id=" + id + "&client_secret=" + secret, []string{basic(id, secret)}},
		{"header and other body client_id", form + "&client_id=someone-else", []string{basic(id, secret)}},
		{"no credentials", form, nil},
		{"secret in body, wrong", form + "&client_id=" + id + "&client_secret=nope", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := h.post(oauth.PathRevoke, c.form, c.headers...)
			checkOAuthError(t, r, http.StatusUnauthorized, oautherr.CodeInvalidClient)
			if got := r.header.Get("WWW-Authenticate"); got != `Basic realm="tokend"` {
				t.Errorf("WWW-Authenticate = %q", got)
			}
			checkWSO2Headers(t, r)
		})
		h.clock.Advance(time.Minute) // keep the rate limiter out of this test
	}
	if !h.active(tk.Access) {
		t.Error("a failed authentication revoked the token")
	}
	// client_secret_post is a valid method of its own, for a client
	// registered for it.
	postID, postSecret := h.client(registry.Spec{Name: "post", AuthMethod: registry.AuthPost})
	inBody := "&client_id=" + postID + "&client_secret=" + url.QueryEscape(postSecret)
	r := h.post(oauth.PathToken, "grant_type=client_credentials"+inBody)
	if r.status != http.StatusOK {
		t.Fatalf("client_secret_post token: %d %s", r.status, r.body)
	}
	postAccess := str(r.json(t)["access_token"])
	r = h.post(oauth.PathRevoke, "token="+postAccess+inBody)
	checkRevokedOK(t, r)
	if h.active(postAccess) {
		t.Error("client_secret_post revocation did not revoke")
	}
}

func TestRevokeInvalidRequests(t *testing.T) {
	h := newHarness(t)
	id, secret := h.client(confidential("app"))
	tk := h.token(id, secret, "grant_type=client_credentials")
	auth := basic(id, secret)

	t.Run("no token", func(t *testing.T) {
		checkOAuthError(t, h.post(oauth.PathRevoke, "token_type_hint=access_token", auth), http.StatusBadRequest, oautherr.CodeInvalidRequest)
	})
	t.Run("empty token", func(t *testing.T) {
		checkOAuthError(t, h.post(oauth.PathRevoke, "token=", auth), http.StatusBadRequest, oautherr.CodeInvalidRequest)
	})
	t.Run("repeated token", func(t *testing.T) {
		checkOAuthError(t, h.post(oauth.PathRevoke, "token="+tk.Access+"&token="+tk.Access, auth), http.StatusBadRequest, oautherr.CodeInvalidRequest)
	})
	t.Run("repeated hint", func(t *testing.T) {
		checkOAuthError(t, h.post(oauth.PathRevoke, "token="+tk.Access+"&token_type_hint=a&token_type_hint=b", auth), http.StatusBadRequest, oautherr.CodeInvalidRequest)
	})
	t.Run("json body", func(t *testing.T) {
		r := h.post(oauth.PathRevoke, `{"token":"`+tk.Access+`"}`, auth, "Content-Type: application/json")
		checkOAuthError(t, r, http.StatusBadRequest, oautherr.CodeInvalidRequest)
	})
	t.Run("no content type", func(t *testing.T) {
		r := h.post(oauth.PathRevoke, "token="+tk.Access, auth, "Content-Type: ")
		checkOAuthError(t, r, http.StatusBadRequest, oautherr.CodeInvalidRequest)
	})
	t.Run("token in query string", func(t *testing.T) {
		r := h.post(oauth.PathRevoke+"?token="+tk.Access, "", auth)
		checkOAuthError(t, r, http.StatusBadRequest, oautherr.CodeInvalidRequest)
	})
	t.Run("charset parameter accepted", func(t *testing.T) {
		other := h.token(id, secret, "grant_type=client_credentials")
		r := h.post(oauth.PathRevoke, "token="+other.Access, auth, "Content-Type: application/x-www-form-urlencoded;charset=UTF-8")
		checkRevokedOK(t, r)
	})
	if !h.active(tk.Access) {
		t.Error("an invalid request revoked the token")
	}
}

func TestRevokeBodyTooLarge(t *testing.T) {
	h := newHarness(t)
	id, secret := h.client(confidential("app"))
	tk := h.token(id, secret, "grant_type=client_credentials")
	big := "token=" + tk.Access + "&pad=" + strings.Repeat("x", oauth.MaxFormBytes)
	r := h.post(oauth.PathRevoke, big, basic(id, secret))
	if r.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d; want 413", r.status)
	}
	checkWSO2Headers(t, r)
	if !h.active(tk.Access) {
		t.Error("an oversized request revoked the token")
	}
}

func TestRevokeMethods(t *testing.T) {
	h := newHarness(t)
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		t.Run(m, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), m, h.srv.URL+oauth.PathRevoke, nil)
			r := h.do(req)
			checkOAuthError(t, r, http.StatusMethodNotAllowed, oautherr.CodeInvalidRequest)
			if got := r.header.Get("Allow"); got != "POST" {
				t.Errorf("Allow = %q; want POST", got)
			}
			checkWSO2Headers(t, r)
		})
	}
	t.Run("OPTIONS preflight", func(t *testing.T) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodOptions, h.srv.URL+oauth.PathRevoke, nil)
		req.Header.Set("Origin", "https://app.example")
		req.Header.Set("Access-Control-Request-Method", "POST")
		r := h.do(req)
		if r.status != http.StatusNoContent && r.status != http.StatusOK {
			t.Fatalf("status %d; want 204", r.status)
		}
		if got := r.header.Get("Access-Control-Allow-Origin"); got == "" {
			t.Error("no Access-Control-Allow-Origin on a preflight")
		}
		for _, k := range []string{"Access-Control-Allow-Methods", "Access-Control-Allow-Headers"} {
			if got := r.header.Get(k); got != wso2Headers[k] {
				t.Errorf("%s = %q; want %q", k, got, wso2Headers[k])
			}
		}
	})
}

func TestRevokeHeadersOff(t *testing.T) {
	h := newHarness(t, withoutRevokeHeaders)
	id, secret := h.client(confidential("app"))
	tk := h.token(id, secret, "grant_type=client_credentials")
	r := h.post(oauth.PathRevoke, "token="+tk.Access, basic(id, secret))
	checkRevokedOK(t, r)
	checkNoRevokedHeaders(t, r)
	if h.active(tk.Access) {
		t.Error("token not revoked")
	}
}

// TestFailedAuthenticationIsRateLimited: after 5 wrong secrets from an
// address, its next guess is refused with 429 and Retry-After until the
// window closes. The client's right (generated) secret is never refused:
// it cannot be guessed, so refusing it would only lock the client out.
func TestFailedAuthenticationIsRateLimited(t *testing.T) {
	h := newHarness(t) // limiter: 5 failures a minute
	id, secret := h.client(confidential("app"))
	for i := 0; i < 5; i++ {
		r := h.post(oauth.PathRevoke, "token=x", basic(id, "wrong"))
		checkOAuthError(t, r, http.StatusUnauthorized, oautherr.CodeInvalidClient)
	}
	r := h.post(oauth.PathRevoke, "token=x", basic(id, "wrong"))
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("status %d; want 429 after 5 failures (body %s)", r.status, r.body)
	}
	if got := r.header.Get("Retry-After"); got != "60" {
		t.Errorf("Retry-After = %q; want 60", got)
	}
	checkRevokedOK(t, h.post(oauth.PathRevoke, "token=x", basic(id, secret)))
	h.clock.Advance(61 * time.Second)
	checkOAuthError(t, h.post(oauth.PathRevoke, "token=x", basic(id, "wrong")), http.StatusUnauthorized, oautherr.CodeInvalidClient)
}

// TestGuessedAdminTokenIsRateLimited: a wrong Bearer token at the
// introspection endpoint (a guess at the admin token) fails before any
// client is named, and is rate-limited by address all the same.
func TestGuessedAdminTokenIsRateLimited(t *testing.T) {
	h := newHarness(t) // limiter: 5 failures a minute
	for i := 0; i < 5; i++ {
		r := h.post(oauth.PathIntrospect, "token=x", "Authorization: Bearer guess-"+strconv.Itoa(i))
		checkOAuthError(t, r, http.StatusUnauthorized, oautherr.CodeInvalidClient)
	}
	r := h.post(oauth.PathIntrospect, "token=x", "Authorization: Bearer guess-5")
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Fatalf("status %d, Retry-After %q; want 429 with Retry-After after 5 failures (body %s)", r.status, r.header.Get("Retry-After"), r.body)
	}
}

// TestControlCharactersAreRefused: a NUL or invalid UTF-8 in a client id,
// in the Basic header or the body, is a bad request, not a store error; a
// malformed token is still an empty 200.
func TestControlCharactersAreRefused(t *testing.T) {
	h := newHarness(t)
	id, secret := h.client(confidential("app"))
	checkOAuthError(t, h.post(oauth.PathRevoke, "token=x&client_id=a%00b", ""), http.StatusBadRequest, oautherr.CodeInvalidRequest)
	checkOAuthError(t, h.post(oauth.PathToken, "grant_type=password&username=al%FFice&password=x", basic(id, secret)), http.StatusBadRequest, oautherr.CodeInvalidRequest)
	checkOAuthError(t, h.post(oauth.PathRevoke, "token=x", basic("a\x00b", "secret")), http.StatusUnauthorized, oautherr.CodeInvalidClient)
	checkRevokedOK(t, h.post(oauth.PathRevoke, "token=tka_%00%FF", basic(id, secret)))
}

// TestTooLargeClosesTheConnection: a body over the limit is refused
// without reading it, so the connection cannot be reused.
func TestTooLargeClosesTheConnection(t *testing.T) {
	h := newHarness(t)
	id, secret := h.client(confidential("app"))
	r := h.post(oauth.PathRevoke, "token="+strings.Repeat("a", oauth.MaxFormBytes), basic(id, secret))
	checkOAuthError(t, r, http.StatusRequestEntityTooLarge, oautherr.CodeInvalidRequest)
	if !r.closed {
		t.Error("the connection stays open after a 413")
	}
}

// TestRevokeExpiredAccessTokenStopsItsRefreshToken: an expired access
// token is answered as an invalid one (no Revoked headers), but the
// refresh token of its grant stops working all the same.
func TestRevokeExpiredAccessTokenStopsItsRefreshToken(t *testing.T) {
	h := newHarness(t)
	id, secret := h.client(confidential("app"))
	h.user("erin", "correct horse battery")
	tk := h.token(id, secret, "grant_type=password&username=erin&password=correct+horse+battery")
	h.clock.Advance(2 * time.Hour) // past the access token's hour, within the refresh token's day
	if !h.active(tk.Refresh) {
		t.Fatal("the refresh token is not active before the revocation")
	}
	r := h.post(oauth.PathRevoke, "token="+tk.Access, basic(id, secret))
	checkRevokedOK(t, r)
	checkNoRevokedHeaders(t, r)
	if h.active(tk.Refresh) {
		t.Error("the refresh token of a revoked expired access token is still active")
	}
	checkOAuthError(t, h.post(oauth.PathToken, "grant_type=refresh_token&refresh_token="+tk.Refresh, basic(id, secret)), http.StatusBadRequest, oautherr.CodeInvalidGrant)
}

// TestFailuresAreRateLimitedPerAddress: wrong secrets for ever new client
// ids from one address (so no single client reaches its limit) are
// refused by the address's limit, with 429 and Retry-After.
func TestFailuresAreRateLimitedPerAddress(t *testing.T) {
	h := newHarness(t) // limiter: 5 failures a minute
	for i := 0; i < 5; i++ {
		r := h.post(oauth.PathRevoke, "token=x", basic("guess-"+strconv.Itoa(i), "wrong"))
		checkOAuthError(t, r, http.StatusUnauthorized, oautherr.CodeInvalidClient)
	}
	r := h.post(oauth.PathRevoke, "token=x", basic("guess-5", "wrong"))
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Fatalf("status %d, Retry-After %q; want 429 with Retry-After once the address failed 5 times", r.status, r.header.Get("Retry-After"))
	}
	if m := r.json(t); m["error"] == nil {
		t.Errorf("429 body %s is not an OAuth error", r.body)
	}
}
