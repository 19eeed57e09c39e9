package oauth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokend/tokend/dpop"
	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/registry"
	"github.com/tokend/tokend/internal/store"
)

// newKey returns a client's DPoP key, its proofs dated by the harness's
// clock.
func (h *harness) newKey() *dpop.Signer {
	h.t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		h.t.Fatal(err)
	}
	s, err := dpop.NewSigner(k, jose.ES256)
	if err != nil {
		h.t.Fatal(err)
	}
	s.Now = h.clock.Now
	return s
}

// proof is a DPoP header for a token request signed by s.
func (h *harness) proof(s *dpop.Signer, c dpop.ProofClaims) string {
	h.t.Helper()
	if c.Method == "" {
		c.Method = http.MethodPost
	}
	if c.URI == "" {
		c.URI = h.cfg.Issuer + oauth.PathToken
	}
	p, err := s.Proof(c)
	if err != nil {
		h.t.Fatal(err)
	}
	return "DPoP: " + p
}

// wantError checks an error answer's status and code.
func wantError(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.status != status || r.json(t)["error"] != code {
		t.Fatalf("status %d, body %s; want %d %s", r.status, r.body, status, code)
	}
}

func publicClient(name string) registry.Spec {
	return registry.Spec{Name: name, AuthMethod: registry.AuthNone,
		GrantTypes: []string{oauth.GrantPassword, oauth.GrantRefreshToken}}
}

const passwordForm = "grant_type=password&username=alice&password=correct+horse+battery&scope=read"

// TestDPoPBindsOpaqueTokens: a token request with a proof gets tokens of
// type DPoP, which introspection shows bound to the key (cnf.jkt); a
// refresh with a proof of the same key keeps the binding; revocation and
// introspection work for them as for any token.
func TestDPoPBindsOpaqueTokens(t *testing.T) {
	h := newHarness(t)
	h.user("alice", "correct horse battery")
	id, _ := h.client(publicClient("spa"))
	key := h.newKey()
	r := h.post(oauth.PathToken, passwordForm+"&client_id="+id, h.proof(key, dpop.ProofClaims{}))
	if r.status != http.StatusOK {
		t.Fatalf("token: %d %s", r.status, r.body)
	}
	m := r.json(t)
	if m["token_type"] != "DPoP" {
		t.Fatalf("token_type %v, want DPoP", m["token_type"])
	}
	access, refresh := str(m["access_token"]), str(m["refresh_token"])
	in := h.post(oauth.PathIntrospect, "token="+url.QueryEscape(access), adminBearer).json(t)
	if in["token_type"] != "DPoP" || in["cnf"].(map[string]any)["jkt"] != key.JKT {
		t.Fatalf("introspection %v: want token_type DPoP and cnf.jkt %s", in, key.JKT)
	}
	r = h.post(oauth.PathToken, "grant_type=refresh_token&client_id="+id+"&refresh_token="+url.QueryEscape(refresh), h.proof(key, dpop.ProofClaims{}))
	if r.status != http.StatusOK || r.json(t)["token_type"] != "DPoP" {
		t.Fatalf("refresh with the same key: %d %s", r.status, r.body)
	}
	access2 := str(r.json(t)["access_token"])
	if rec := h.record(access2); rec.JKT != key.JKT {
		t.Fatalf("the refreshed token is bound to %q, want %q", rec.JKT, key.JKT)
	}
	if r := h.post(oauth.PathRevoke, "client_id="+id+"&token="+url.QueryEscape(access2)); r.status != http.StatusOK {
		t.Fatalf("revoke a bound token: %d %s", r.status, r.body)
	}
	if h.active(access2) {
		t.Fatal("a revoked bound token is still active")
	}
}

// TestDPoPBindsJWTs: a JWT access token issued with a proof carries
// cnf.jkt (RFC 9449 §6.1).
func TestDPoPBindsJWTs(t *testing.T) {
	h := newHarness(t, withJWT(t, "ES256"))
	id, secret := h.client(jwtClient("api"))
	key := h.newKey()
	r := h.post(oauth.PathToken, "grant_type=client_credentials", basic(id, secret), h.proof(key, dpop.ProofClaims{}))
	if r.status != http.StatusOK || r.json(t)["token_type"] != "DPoP" {
		t.Fatalf("token: %d %s", r.status, r.body)
	}
	claims, err := h.cfgJWT().Verify(str(r.json(t)["access_token"]))
	if err != nil {
		t.Fatal(err)
	}
	if claims.Confirmation == nil || claims.Confirmation.JKT != key.JKT {
		t.Fatalf("cnf %+v, want jkt %s", claims.Confirmation, key.JKT)
	}
	// Without a proof: a bearer JWT with no cnf.
	r = h.post(oauth.PathToken, "grant_type=client_credentials", basic(id, secret))
	if r.json(t)["token_type"] != "Bearer" {
		t.Fatalf("without a proof: %s", r.body)
	}
	if c, _ := h.cfgJWT().Verify(str(r.json(t)["access_token"])); c.Confirmation != nil {
		t.Fatal("a bearer JWT has cnf")
	}
}

// TestDPoPRefusals: each RFC 9449 refusal at the token endpoint, through
// HTTP, is 400 invalid_dpop_proof (or invalid_grant for a key swap) and
// issues nothing.
func TestDPoPRefusals(t *testing.T) {
	h := newHarness(t)
	h.user("alice", "correct horse battery")
	id, secret := h.client(registry.Spec{Name: "app", GrantTypes: []string{oauth.GrantPassword, oauth.GrantRefreshToken}})
	key := h.newKey()
	token := func(hdrs ...string) response {
		return h.post(oauth.PathToken, passwordForm, append([]string{basic(id, secret)}, hdrs...)...)
	}
	replayed := h.proof(key, dpop.ProofClaims{})
	if r := token(replayed); r.status != http.StatusOK {
		t.Fatalf("first use: %d %s", r.status, r.body)
	}
	old := h.newKey()
	old.Now = func() time.Time { return h.clock.Now().Add(-dpop.DefaultMaxAge - time.Second) }
	cases := []struct {
		name   string
		header string
	}{
		{"a replayed proof", replayed},
		{"a wrong htu", h.proof(key, dpop.ProofClaims{URI: h.cfg.Issuer + oauth.PathIntrospect})},
		{"another host's htu", h.proof(key, dpop.ProofClaims{URI: "https://elsewhere.example" + oauth.PathToken})},
		{"a wrong htm", h.proof(key, dpop.ProofClaims{Method: http.MethodGet})},
		{"an old iat", h.proof(old, dpop.ProofClaims{})},
		{"a symmetric alg", "DPoP: " + hmacProof(h.cfg.Issuer+oauth.PathToken, h.clock.Now())},
		{"not a JWT", "DPoP: not-a-jwt"},
	}
	for _, c := range cases {
		r := token(c.header)
		if r.status != http.StatusBadRequest || r.json(t)["error"] != "invalid_dpop_proof" {
			t.Errorf("%s: %d %s; want 400 invalid_dpop_proof", c.name, r.status, r.body)
		}
	}
}

// hmacProof is a proof signed with HS256 and a symmetric jwk: refused,
// as only asymmetric algorithms prove possession of a private key.
func hmacProof(htu string, now time.Time) string {
	secret := []byte("0123456789abcdef0123456789abcdef")
	hdr, _ := json.Marshal(map[string]any{"typ": "dpop+jwt", "alg": "HS256",
		"jwk": map[string]string{"kty": "oct", "k": base64.RawURLEncoding.EncodeToString(secret)}})
	body, _ := json.Marshal(map[string]any{"jti": "j", "htm": "POST", "htu": htu, "iat": now.Unix()})
	input := base64.RawURLEncoding.EncodeToString(hdr) + "." + base64.RawURLEncoding.EncodeToString(body)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// TestDPoPRefreshKeySwap: a public client's refresh token is bound to its
// key; a refresh with a proof of another key is invalid_grant, one with no
// proof is invalid_dpop_proof, and neither spends the refresh token.
func TestDPoPRefreshKeySwap(t *testing.T) {
	h := newHarness(t)
	h.user("alice", "correct horse battery")
	id, _ := h.client(publicClient("spa"))
	key := h.newKey()
	r := h.post(oauth.PathToken, passwordForm+"&client_id="+id, h.proof(key, dpop.ProofClaims{}))
	refresh := str(r.json(t)["refresh_token"])
	form := "grant_type=refresh_token&client_id=" + id + "&refresh_token=" + url.QueryEscape(refresh)
	wantError(t, h.post(oauth.PathToken, form, h.proof(h.newKey(), dpop.ProofClaims{})), http.StatusBadRequest, "invalid_grant")
	wantError(t, h.post(oauth.PathToken, form), http.StatusBadRequest, "invalid_dpop_proof")
	if r := h.post(oauth.PathToken, form, h.proof(key, dpop.ProofClaims{})); r.status != http.StatusOK {
		t.Fatalf("the right key after the refusals: %d %s", r.status, r.body)
	}
}

// TestDPoPBoundClient: a client registered with dpop_bound_access_tokens,
// through dynamic client registration, gets no token without a proof.
func TestDPoPBoundClient(t *testing.T) {
	h := newHarness(t)
	h.user("alice", "correct horse battery")
	r := h.json(http.MethodPost, oauth.PathRegister, `{"client_name":"bound","grant_types":["password"],"dpop_bound_access_tokens":true}`, adminBearer)
	if r.status != http.StatusCreated || r.json(t)["dpop_bound_access_tokens"] != true {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	id, secret := str(r.json(t)["client_id"]), str(r.json(t)["client_secret"])
	wantError(t, h.post(oauth.PathToken, passwordForm, basic(id, secret)), http.StatusBadRequest, "invalid_dpop_proof")
	r = h.post(oauth.PathToken, passwordForm, basic(id, secret), h.proof(h.newKey(), dpop.ProofClaims{}))
	if r.status != http.StatusOK || r.json(t)["token_type"] != "DPoP" {
		t.Fatalf("with a proof: %d %s", r.status, r.body)
	}
}

// TestDPoPNonce: with server nonces on, a proof without one is refused
// with use_dpop_nonce and the nonce in DPoP-Nonce; the same request with
// it passes, and its answer carries the current nonce.
func TestDPoPNonce(t *testing.T) {
	var h *harness
	h = newHarness(t, func(c *oauth.Config) {
		c.DPoP = &dpop.Verifier{Nonces: dpop.NewNonces([]byte("nonce key of the test"), 0, c.Now)}
	})
	h.user("alice", "correct horse battery")
	id, secret := h.client(confidential("app"))
	key := h.newKey()
	r := h.post(oauth.PathToken, passwordForm, basic(id, secret), h.proof(key, dpop.ProofClaims{}))
	wantError(t, r, http.StatusBadRequest, "use_dpop_nonce")
	nonce := r.header.Get("DPoP-Nonce")
	if nonce == "" {
		t.Fatal("use_dpop_nonce without a DPoP-Nonce header")
	}
	r = h.post(oauth.PathToken, passwordForm, basic(id, secret), h.proof(key, dpop.ProofClaims{Nonce: nonce}))
	if r.status != http.StatusOK || r.header.Get("DPoP-Nonce") == "" {
		t.Fatalf("with the nonce: %d %s %v", r.status, r.body, r.header)
	}
	r = h.post(oauth.PathToken, passwordForm, basic(id, secret), h.proof(key, dpop.ProofClaims{Nonce: "made-up"}))
	wantError(t, r, http.StatusBadRequest, "use_dpop_nonce")
}

// TestDPoPReplayAcrossInstances: two instances on one store, with
// DPoPSharedReplay, each with its own memory: a proof the one accepted is
// refused by the other. Both have the same issuer, as instances behind one
// name do, so one proof is good for either.
func TestDPoPReplayAcrossInstances(t *testing.T) {
	var st store.Store
	shared := func(c *oauth.Config) {
		c.Issuer = "https://tokend.example"
		c.DPoPSharedReplay = true
		if st != nil {
			c.Store, c.Auth.Clients = st, st
		}
	}
	a := newHarness(t, shared)
	st = a.store
	b := newHarness(t, shared)
	a.user("alice", "correct horse battery")
	id, secret := a.client(confidential("app"))
	proof := a.proof(a.newKey(), dpop.ProofClaims{})
	if r := a.post(oauth.PathToken, passwordForm, basic(id, secret), proof); r.status != http.StatusOK {
		t.Fatalf("first use, at a: %d %s", r.status, r.body)
	}
	wantError(t, b.post(oauth.PathToken, passwordForm, basic(id, secret), proof), http.StatusBadRequest, "invalid_dpop_proof")
	// Without the shared check, b would have taken it: its memory never
	// saw the proof.
	c := newHarness(t, func(c *oauth.Config) {
		c.Issuer = "https://tokend.example"
		c.Store, c.Auth.Clients = st, st
	})
	if r := c.post(oauth.PathToken, passwordForm, basic(id, secret), proof); r.status != http.StatusOK {
		t.Fatalf("an instance that checks only its memory: %d %s", r.status, r.body)
	}
}

// TestDiscoveryListsDPoPAlgs: the metadata publishes the algorithms the
// token endpoint accepts, asymmetric ones only.
func TestDiscoveryListsDPoPAlgs(t *testing.T) {
	h := newHarness(t)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, h.srv.URL+"/.well-known/oauth-authorization-server", nil)
	m := h.do(req).json(t)
	algs, _ := m["dpop_signing_alg_values_supported"].([]any)
	if !slices.Contains(algs, any("ES256")) || slices.ContainsFunc(algs, func(a any) bool { return strings.HasPrefix(str(a), "HS") }) {
		t.Fatalf("dpop_signing_alg_values_supported = %v", algs)
	}
}

// TestDPoPUserinfo: the UserInfo Endpoint, a protected resource of the
// server itself, refuses a bound token sent as a Bearer token or with
// another key's proof, with a DPoP challenge, and answers it with a proof
// of its key.
func TestDPoPUserinfo(t *testing.T) {
	h := newHarness(t)
	h.user("alice", "correct horse battery")
	id, secret := h.client(confidential("app"))
	key := h.newKey()
	r := h.post(oauth.PathToken, "grant_type=password&username=alice&password=correct+horse+battery&scope=openid", basic(id, secret), h.proof(key, dpop.ProofClaims{}))
	tok := str(r.json(t)["access_token"])
	userinfo := func(auth string, s *dpop.Signer) response {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, h.srv.URL+oauth.PathUserinfo, nil)
		req.Header.Set("Authorization", auth)
		if s != nil {
			p, err := s.Proof(dpop.ProofClaims{Method: http.MethodGet, URI: h.cfg.Issuer + oauth.PathUserinfo, AccessToken: tok})
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("DPoP", p)
		}
		return h.do(req)
	}
	for name, r := range map[string]response{
		"as a Bearer token":        userinfo("Bearer "+tok, nil),
		"with another key's proof": userinfo("DPoP "+tok, h.newKey()),
		"with no proof":            userinfo("DPoP "+tok, nil),
	} {
		if r.status != http.StatusUnauthorized || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "DPoP error=") {
			t.Errorf("%s: %d %v", name, r.status, r.header)
		}
	}
	if r := userinfo("DPoP "+tok, key); r.status != http.StatusOK || r.json(t)["sub"] == nil {
		t.Fatalf("with the right proof: %d %s", r.status, r.body)
	}
}

// TestDPoPCodeExchange: the authorization code grant binds too: a public
// client (a single-page app) exchanging its code with a proof gets bound
// tokens, a refresh token bound to the key included.
func TestDPoPCodeExchange(t *testing.T) {
	h := newHarness(t, withJWT(t, "ES256"), withAuthorizationCodes)
	id, _ := h.client(registry.Spec{Name: "spa", AuthMethod: registry.AuthNone, RedirectURIs: []string{codeRedirect},
		GrantTypes: []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken}})
	code, verifier := h.issueCode(id, "api", "")
	key := h.newKey()
	form := url.Values{"grant_type": {"authorization_code"}, "client_id": {id}, "code": {code},
		"redirect_uri": {codeRedirect}, "code_verifier": {verifier}}
	r := h.post(oauth.PathToken, form.Encode(), h.proof(key, dpop.ProofClaims{}))
	if r.status != http.StatusOK || r.json(t)["token_type"] != "DPoP" {
		t.Fatalf("code exchange: %d %s", r.status, r.body)
	}
	if rec := h.record(str(r.json(t)["refresh_token"])); rec.JKT != key.JKT {
		t.Fatalf("the refresh token is bound to %q, want %q", rec.JKT, key.JKT)
	}
}

// TestDPoPBoundCode: a code the authorization request bound with dpop_jkt
// (RFC 9449 §10) is exchanged only with a proof of that key: without a
// proof, or with another key's, it is invalid_grant and stays unused, so
// that the rightful client, proving its key, still gets tokens bound to it.
func TestDPoPBoundCode(t *testing.T) {
	h := newHarness(t, withJWT(t, "ES256"), withAuthorizationCodes)
	id, _ := h.client(registry.Spec{Name: "spa", AuthMethod: registry.AuthNone, RedirectURIs: []string{codeRedirect},
		GrantTypes: []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken}})
	key, thief := h.newKey(), h.newKey()
	code, verifier := h.issueBoundCode(id, "api", "", key.JKT)
	form := url.Values{"grant_type": {"authorization_code"}, "client_id": {id}, "code": {code},
		"redirect_uri": {codeRedirect}, "code_verifier": {verifier}}
	wantError(t, h.post(oauth.PathToken, form.Encode(), ""), http.StatusBadRequest, "invalid_grant")
	wantError(t, h.post(oauth.PathToken, form.Encode(), h.proof(thief, dpop.ProofClaims{})), http.StatusBadRequest, "invalid_grant")
	r := h.post(oauth.PathToken, form.Encode(), h.proof(key, dpop.ProofClaims{}))
	if r.status != http.StatusOK || r.json(t)["token_type"] != "DPoP" {
		t.Fatalf("exchange with the bound key: %d %s", r.status, r.body)
	}
	if rec := h.record(str(r.json(t)["access_token"])); rec.JKT != key.JKT {
		t.Fatalf("the access token is bound to %q, want %q", rec.JKT, key.JKT)
	}
}
