package oauth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokend/tokend/internal/assertion"
	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/oautherr"
	"github.com/tokend/tokend/internal/registry"
	"github.com/tokend/tokend/internal/statuslist"
	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/token"
)

// withJWT turns on JWT access tokens signed with alg, status list indexes
// and the JWT bearer grant.
func withJWT(t testing.TB, alg string) harnessOption {
	return func(c *oauth.Config) {
		ring, err := token.OpenKeyring(filepath.Join(t.TempDir(), "keys"), alg, c.Now)
		if err != nil {
			t.Fatal(err)
		}
		c.JWT = &token.JWTs{Keys: ring, Issuer: c.Issuer}
		c.StatusIndexes = &statuslist.Allocator{Store: c.Store}
		c.Assertions = &assertion.Verifier{Issuers: c.Store, Now: c.Now}
	}
}

func jwtClient(name string) registry.Spec {
	return registry.Spec{Name: name, TokenFormat: registry.FormatJWT,
		GrantTypes: []string{oauth.GrantClientCredentials, oauth.GrantPassword, oauth.GrantRefreshToken}}
}

// fetchJWKS reads the published keys over HTTP, as a resource server would.
func (h *harness) fetchJWKS() jose.JSONWebKeySet {
	h.t.Helper()
	req, _ := http.NewRequestWithContext(h.t.Context(), http.MethodGet, h.srv.URL+oauth.PathJWKS, nil)
	r := h.do(req)
	if r.status != http.StatusOK {
		h.t.Fatalf("jwks: %d", r.status)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(r.body), &set); err != nil {
		h.t.Fatal(err)
	}
	return set
}

// verifyWithJWKS verifies raw with go-jose against the JWKS alone.
func verifyWithJWKS(t *testing.T, set jose.JSONWebKeySet, raw string) (jose.Header, map[string]any) {
	t.Helper()
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	hdr := jws.Signatures[0].Header
	keys := set.Key(hdr.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q: %d keys in the JWKS", hdr.KeyID, len(keys))
	}
	payload, err := jws.Verify(keys[0].Key)
	if err != nil {
		t.Fatalf("signature does not verify against the JWKS: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return hdr, claims
}

func TestJWTAccessTokenVerifiesAgainstJWKS(t *testing.T) {
	for _, alg := range token.SupportedAlgs {
		t.Run(alg, func(t *testing.T) {
			h := newHarness(t, withJWT(t, alg))
			id, secret := h.client(jwtClient("api-client"))
			tk := h.token(id, secret, "grant_type=client_credentials&scope=read")
			set := h.fetchJWKS()
			hdr, claims := verifyWithJWKS(t, set, tk.Access)

			cert := set.Keys[0].Certificates[0]
			s1, s256 := sha1.Sum(cert.Raw), sha256.Sum256(cert.Raw)
			if hdr.ExtraHeaders["typ"] != "at+jwt" || hdr.Algorithm != alg ||
				hdr.ExtraHeaders["x5t"] != base64.RawURLEncoding.EncodeToString(s1[:]) ||
				hdr.ExtraHeaders["x5t#S256"] != base64.RawURLEncoding.EncodeToString(s256[:]) {
				t.Errorf("header %+v", hdr)
			}
			now := h.clock.Now().Unix()
			for k, want := range map[string]any{"iss": h.srv.URL, "sub": id, "aud": id, "client_id": id, "scope": "read",
				"iat": float64(now), "exp": float64(now + 3600)} {
				if claims[k] != want {
					t.Errorf("claim %s = %v; want %v", k, claims[k], want)
				}
			}
			jti, _ := claims["jti"].(string)
			status, _ := claims["status"].(map[string]any)
			sl, _ := status["status_list"].(map[string]any)
			if jti == "" || sl["uri"] != h.srv.URL+"/oauth2/statuslists/0" || sl["idx"] == nil {
				t.Errorf("jti %q, status %v", jti, status)
			}
			rec := h.record(tk.Access)
			if rec.JTI != jti || rec.StatusIndex == 0 {
				t.Errorf("stored jti %q, status index %d; want %q and an index", rec.JTI, rec.StatusIndex, jti)
			}
			// Discovery advertises the JWKS.
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, h.srv.URL+"/.well-known/oauth-authorization-server", nil)
			if m := h.do(req).json(t); m["jwks_uri"] != h.srv.URL+oauth.PathJWKS {
				t.Errorf("jwks_uri = %v", m["jwks_uri"])
			}
		})
	}
}

func TestRevokeJWTRevokesGrant(t *testing.T) {
	h := newHarness(t, withJWT(t, token.ES256))
	id, secret := h.client(jwtClient("web"))
	tk := h.passwordTokens(id, secret, "lena")
	if !token.LooksLikeJWT(tk.Access) {
		t.Fatalf("access token %q is not a JWT", tk.Access)
	}
	r := h.post(oauth.PathIntrospect, "token="+tk.Access, basic(id, secret))
	m := r.json(t)
	if m["active"] != true || m["jti"] == nil || m["jti"] != h.record(tk.Access).JTI || m["username"] != "lena" {
		t.Errorf("introspection of an active JWT: %v", m)
	}

	rv := h.post(oauth.PathRevoke, "token="+tk.Access+"&token_type_hint=access_token", basic(id, secret))
	checkRevokedOK(t, rv)
	if rv.header.Get("RevokedAccessToken") != tk.Access || rv.header.Get("AuthorizedUser") != "lena" {
		t.Errorf("headers %v", rv.header)
	}
	// Still correctly signed, but revoked: inactive.
	if _, err := h.cfgJWT().Verify(tk.Access); err != nil {
		t.Fatalf("the revoked JWT's signature should still verify: %v", err)
	}
	if h.active(tk.Access) {
		t.Error("revoked JWT introspects active")
	}
	rr := h.post(oauth.PathToken, "grant_type=refresh_token&refresh_token="+tk.Refresh, basic(id, secret))
	checkOAuthError(t, rr, http.StatusBadRequest, oautherr.CodeInvalidGrant)
}

func TestExpiredJWTIsInactive(t *testing.T) {
	h := newHarness(t, withJWT(t, token.EdDSA))
	id, secret := h.client(jwtClient("svc"))
	tk := h.token(id, secret, "grant_type=client_credentials")
	h.clock.Advance(time.Hour + time.Second)
	if h.active(tk.Access) {
		t.Error("an expired JWT introspects active")
	}
	r := h.post(oauth.PathRevoke, "token="+tk.Access, basic(id, secret))
	checkRevokedOK(t, r)
	checkNoRevokedHeaders(t, r)
}

func TestRevokeForeignJWTIsNoOpWithoutStoreAccess(t *testing.T) {
	counter := &countingStore{}
	h := newHarness(t, withJWT(t, token.ES256), func(c *oauth.Config) {
		counter.Store = c.Store
		c.Store = counter
	})
	id, secret := h.client(jwtClient("svc"))
	tk := h.token(id, secret, "grant_type=client_credentials")
	parts := strings.Split(tk.Access, ".")

	other := newHarness(t, withJWT(t, token.ES256))
	oid, osecret := other.client(jwtClient("x"))
	foreign := other.token(oid, osecret, "grant_type=client_credentials").Access

	seg := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	var claims map[string]any
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	_ = json.Unmarshal(b, &claims)
	claims["sub"] = "admin"

	cases := map[string]string{
		"another server's JWT": foreign,
		"forged payload":       parts[0] + "." + seg(claims) + "." + parts[2],
		"alg none":             seg(map[string]any{"alg": "none", "typ": "at+jwt"}) + "." + parts[1] + ".",
		"unknown kid":          seg(map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": "nope"}) + "." + parts[1] + "." + parts[2],
		"truncated":            tk.Access[:len(tk.Access)-10],
		"forged admin JWT":     "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.VD23nViK6Np1U8SQ",
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			lookups, revocations := counter.lookups.Load(), counter.revocations.Load()
			r := h.post(oauth.PathRevoke, "token="+url.QueryEscape(raw), basic(id, secret))
			checkRevokedOK(t, r)
			checkNoRevokedHeaders(t, r)
			if n, m := counter.lookups.Load()-lookups, counter.revocations.Load()-revocations; n != 0 || m != 0 {
				t.Errorf("%d token lookups, %d revocations; a JWT that is not ours must not reach the store", n, m)
			}
		})
	}
	if !h.active(tk.Access) {
		t.Error("a no-op revocation touched the real token")
	}
}

func TestKeyRotationKeepsOldTokensVerifiable(t *testing.T) {
	h := newHarness(t, withJWT(t, token.RS256))
	id, secret := h.client(jwtClient("svc"))
	before := h.token(id, secret, "grant_type=client_credentials").Access
	if _, err := h.cfgJWT().Keys.Rotate(token.ES256); err != nil {
		t.Fatal(err)
	}
	after := h.token(id, secret, "grant_type=client_credentials").Access
	set := h.fetchJWKS()
	if len(set.Keys) != 2 {
		t.Fatalf("JWKS has %d keys after a rotation; want the new and the old", len(set.Keys))
	}
	hb, _ := verifyWithJWKS(t, set, before)
	ha, _ := verifyWithJWKS(t, set, after)
	if hb.KeyID == ha.KeyID || ha.Algorithm != token.ES256 {
		t.Errorf("before kid %s, after kid %s (%s)", hb.KeyID, ha.KeyID, ha.Algorithm)
	}
	if !h.active(before) || !h.active(after) {
		t.Error("a token is inactive across the rotation")
	}
	// Once the old tokens have expired (plus the margin), the old key drops out.
	h.clock.Advance(3 * time.Hour)
	if set := h.fetchJWKS(); len(set.Keys) != 1 || set.Keys[0].KeyID != ha.KeyID {
		t.Errorf("JWKS after expiry: %d keys; want only the new key", len(set.Keys))
	}
}

// trustIssuer registers an issuer of assertions with an ES256 key.
func (h *harness) trustIssuer(iss string) *ecdsa.PrivateKey {
	h.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		h.t.Fatal(err)
	}
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "idp-1", Algorithm: "ES256", Use: "sig"}}})
	if err := h.store.CreateIssuer(h.t.Context(), store.Issuer{Issuer: iss, JWKS: set, CreatedAt: h.clock.Now()}); err != nil {
		h.t.Fatal(err)
	}
	return key
}

func signAssertion(t *testing.T, key *ecdsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: "idp-1"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(claims)
	jws, err := s.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

func TestJWTBearerGrantAndPublicRevocation(t *testing.T) {
	h := newHarness(t, withJWT(t, token.ES256))
	key := h.trustIssuer("https://idp.example")
	pub, _ := h.client(registry.Spec{Name: "mobile", AuthMethod: registry.AuthNone, TokenFormat: registry.FormatJWT,
		GrantTypes: []string{oauth.GrantJWTBearer}})
	conf, confSecret := h.client(confidential("backend"))
	now := h.clock.Now()
	claims := func(jti string) map[string]any {
		return map[string]any{"iss": "https://idp.example", "sub": "mike", "aud": h.srv.URL + oauth.PathToken,
			"exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(), "jti": jti}
	}
	grant := "grant_type=" + url.QueryEscape(oauth.GrantJWTBearer) + "&client_id=" + pub + "&assertion="
	r := h.post(oauth.PathToken, grant+signAssertion(t, key, claims("a-1")))
	if r.status != http.StatusOK {
		t.Fatalf("jwt bearer: %d %s", r.status, r.body)
	}
	access := str(r.json(t)["access_token"])
	if r.json(t)["refresh_token"] != nil {
		t.Error("a refresh token for a client not registered for refresh_token")
	}

	// Replay of the same assertion.
	checkOAuthError(t, h.post(oauth.PathToken, grant+signAssertion(t, key, claims("a-1"))), http.StatusBadRequest, oautherr.CodeInvalidGrant)
	// Untrusted issuer, wrong audience, expired: invalid_grant each.
	for name, c := range map[string]map[string]any{
		"untrusted": func() map[string]any { c := claims("a-2"); c["iss"] = "https://evil.example"; return c }(),
		"audience":  func() map[string]any { c := claims("a-3"); c["aud"] = "https://elsewhere/token"; return c }(),
		"expired":   func() map[string]any { c := claims("a-4"); c["exp"] = now.Add(-time.Hour).Unix(); return c }(),
	} {
		rr := h.post(oauth.PathToken, grant+signAssertion(t, key, c))
		checkOAuthError(t, rr, http.StatusBadRequest, oautherr.CodeInvalidGrant)
		if d, _ := rr.json(t)["error_description"].(string); d == "" {
			t.Errorf("%s: no description", name)
		}
	}
	// A 1 MiB assertion is refused before it is read in full.
	big := h.post(oauth.PathToken, grant+strings.Repeat("A", 1<<20))
	if big.status != http.StatusRequestEntityTooLarge {
		t.Errorf("1 MiB assertion: %d; want 413", big.status)
	}

	// A public client cannot revoke another client's token...
	other := h.token(conf, confSecret, "grant_type=client_credentials").Access
	checkOAuthError(t, h.post(oauth.PathRevoke, "token="+other+"&token_type_hint=access_token&client_id="+pub),
		http.StatusBadRequest, oautherr.CodeUnauthorizedClient)
	// ...and naming the confidential client without its secret is 401.
	checkOAuthError(t, h.post(oauth.PathRevoke, "token="+other+"&token_type_hint=access_token&client_id="+conf),
		http.StatusUnauthorized, oautherr.CodeInvalidClient)
	if !h.active(other) {
		t.Error("the confidential client's token was revoked")
	}
	// A public client's revocation as WSO2 Identity Server documents it:
	// token, hint and client_id in the body, no Authorization.
	rv := h.post(oauth.PathRevoke, "token="+access+"&token_type_hint=access_token&client_id="+pub,
		"Content-Type: application/x-www-form-urlencoded;charset=UTF-8")
	checkRevokedOK(t, rv)
	if rv.header.Get("RevokedAccessToken") != access || rv.header.Get("AuthorizedUser") != "mike@https://idp.example" {
		t.Errorf("headers %v", rv.header)
	}
	if h.active(access) {
		t.Error("JWT-grant token still active after revocation")
	}
}

// TestJWTBearerSubjectIsQualified: the tokens of an upstream subject name
// it with its issuer, in the JWT's claims and at introspection, and carry
// no username, which is only ever a local user's; the grant is a user's
// all the same: a refresh keeps the lifetime of a user's access token.
func TestJWTBearerSubjectIsQualified(t *testing.T) {
	h := newHarness(t, withJWT(t, token.ES256))
	key := h.trustIssuer("https://idp.example")
	id, secret := h.client(registry.Spec{Name: "mobile", TokenFormat: registry.FormatJWT,
		AccessTokenTTL: 15 * time.Minute, AppAccessTokenTTL: 5 * time.Minute,
		GrantTypes: []string{oauth.GrantPassword, oauth.GrantJWTBearer, oauth.GrantRefreshToken}})
	local := h.passwordTokens(id, secret, "alice")
	now := h.clock.Now()
	external := h.token(id, secret, "grant_type="+url.QueryEscape(oauth.GrantJWTBearer)+"&assertion="+signAssertion(t, key, map[string]any{
		"iss": "https://idp.example", "sub": "alice", "aud": h.srv.URL + oauth.PathToken,
		"exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(), "jti": "q-1"}))

	cases := []struct {
		name, tok, sub, username string
	}{
		{"local alice", local.Access, h.record(local.Access).Subject, "alice"},
		{"upstream alice", external.Access, "alice@https://idp.example", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			claims := jwtClaims(t, c.tok)
			if claims.Subject != c.sub || claims.Username != c.username {
				t.Errorf("JWT sub %q, username %q; want %q, %q", claims.Subject, claims.Username, c.sub, c.username)
			}
			m := h.post(oauth.PathIntrospect, "token="+c.tok, "Authorization: Bearer "+testAdminToken).json(t)
			if got, _ := m["username"].(string); m["active"] != true || m["sub"] != c.sub || got != c.username {
				t.Errorf("introspection %v; want active, sub %q, username %q", m, c.sub, c.username)
			}
		})
	}
	if external.ExpiresIn != 900 {
		t.Errorf("expires_in %v; want 900, a user's access token lifetime", external.ExpiresIn)
	}
	refreshed := h.token(id, secret, "grant_type=refresh_token&refresh_token="+external.Refresh)
	if refreshed.ExpiresIn != 900 {
		t.Errorf("expires_in after a refresh %v; want 900, a user's access token lifetime", refreshed.ExpiresIn)
	}
	if c := jwtClaims(t, refreshed.Access); c.Subject != "alice@https://idp.example" || c.Username != "" {
		t.Errorf("refreshed JWT sub %q, username %q; want the qualified subject and no username", c.Subject, c.Username)
	}
}
