package oauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/oautherr"
	"github.com/tokend/tokend/internal/registry"
	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/token"
)

func withAuthorizationCodes(c *oauth.Config) { c.AuthorizationCodes = true }

const (
	codeRedirect = "https://app.example/cb"
	codeUser     = "user-7"
)

// issueCode stores an authorization code as the authorization endpoint of
// browser sign-in would, and returns it with its PKCE verifier.
func (h *harness) issueCode(clientID, scope, nonce string) (code, verifier string) {
	h.t.Helper()
	return h.issueBoundCode(clientID, scope, nonce, "")
}

// issueBoundCode is issueCode for a code the authorization request bound
// to the DPoP key with thumbprint jkt (RFC 9449 §10).
func (h *harness) issueBoundCode(clientID, scope, nonce, jkt string) (code, verifier string) {
	h.t.Helper()
	code, err := token.NewJTI()
	if err != nil {
		h.t.Fatal(err)
	}
	verifier = oauth2.GenerateVerifier()
	now := h.clock.Now()
	c := store.AuthCode{
		Hash: store.HashToken(code), ClientID: clientID, RedirectURI: codeRedirect,
		CodeChallenge: oauth2.S256ChallengeFromVerifier(verifier), UserID: codeUser, Username: "ulla",
		SessionID: "sid-" + code[:6], Scope: scope, Nonce: nonce, AuthTime: now.Add(-time.Minute),
		CreatedAt: now, ExpiresAt: now.Add(60 * time.Second), JKT: jkt,
	}
	if err := h.store.CreateAuthCode(h.t.Context(), c); err != nil {
		h.t.Fatal(err)
	}
	return code, verifier
}

// TestAuthorizationCodeExchange: a client library exchanges a code with its
// PKCE verifier (golang.org/x/oauth2), gets an ID Token that verifies
// against the JWKS with the request's nonce, the session and at_hash, and a
// grant recorded in the code's session; the same code again is refused and
// revokes what it gave.
func TestAuthorizationCodeExchange(t *testing.T) {
	h := newHarness(t, withJWT(t, token.ES256), withAuthorizationCodes)
	id, secret := h.client(registry.Spec{Name: "web", RedirectURIs: []string{codeRedirect},
		GrantTypes: []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken}})
	conf := &oauth2.Config{ClientID: id, ClientSecret: secret, RedirectURL: codeRedirect,
		Endpoint: oauth2.Endpoint{TokenURL: h.srv.URL + oauth.PathToken, AuthStyle: oauth2.AuthStyleInHeader}}
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, h.srv.Client())

	code, verifier := h.issueCode(id, "openid profile", "n-0S6_WzA2Mj")
	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken != "" {
		t.Errorf("a refresh token without offline_access")
	}
	raw, _ := tok.Extra("id_token").(string)
	claims := h.verifyIDToken(raw)
	want := map[string]any{"iss": h.cfg.Issuer, "sub": codeUser, "aud": id, "nonce": "n-0S6_WzA2Mj",
		"sid": "sid-" + code[:6], "at_hash": token.AccessTokenHash(token.ES256, tok.AccessToken)}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("id_token %s = %v; want %v", k, claims[k], v)
		}
	}
	if rec := h.record(tok.AccessToken); rec.SessionID != "sid-"+code[:6] || rec.Subject != codeUser {
		t.Errorf("grant session %q subject %q; want the code's", rec.SessionID, rec.Subject)
	}
	if !h.active(tok.AccessToken) {
		t.Fatal("the access token is not active")
	}

	_, err = conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != oautherr.CodeInvalidGrant {
		t.Fatalf("the code again: %v; want invalid_grant", err)
	}
	if h.active(tok.AccessToken) {
		t.Error("the code presented twice left its access token active (RFC 6749 §4.1.2)")
	}
	events, err := h.store.Events(t.Context(), 0, 10)
	if err != nil || len(events) != 1 || events[0].Reason != store.ReasonCodeReuse || events[0].Actor != id {
		t.Errorf("log %+v, %v; want one code_reuse event by the client", events, err)
	}

	code, verifier = h.issueCode(id, "openid offline_access", "")
	tok, err = conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" {
		t.Error("no refresh token with offline_access")
	}
}

// TestAuthorizationCodeRefusals: every binding of a code holds, and a
// refused exchange does not use the code up.
func TestAuthorizationCodeRefusals(t *testing.T) {
	h := newHarness(t, withJWT(t, token.ES256), withAuthorizationCodes)
	spec := registry.Spec{Name: "web", RedirectURIs: []string{codeRedirect}, GrantTypes: []string{oauth.GrantAuthorizationCode}}
	id, secret := h.client(spec)
	otherID, otherSecret := h.client(spec)
	code, verifier := h.issueCode(id, "openid", "")
	form := func(code, redirect, verifier string) string {
		v := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}}
		if verifier != "" {
			v.Set("code_verifier", verifier)
		}
		return v.Encode()
	}
	for _, tc := range []struct {
		name, id, secret, form string
	}{
		{"no verifier (PKCE downgrade)", id, secret, form(code, codeRedirect, "")},
		{"another verifier", id, secret, form(code, codeRedirect, oauth2.GenerateVerifier())},
		{"the challenge as the verifier", id, secret, form(code, codeRedirect, oauth2.S256ChallengeFromVerifier(verifier))},
		{"another redirect URI", id, secret, form(code, "https://app.example/other", verifier)},
		{"another client", otherID, otherSecret, form(code, codeRedirect, verifier)},
		{"an unknown code", id, secret, form(code+"x", codeRedirect, verifier)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.post(oauth.PathToken, tc.form, basic(tc.id, tc.secret))
			if r.status != http.StatusBadRequest || r.json(t)["error"] != oautherr.CodeInvalidGrant {
				t.Errorf("got %d %s; want 400 invalid_grant", r.status, r.body)
			}
		})
	}
	if tk := h.token(id, secret, form(code, codeRedirect, verifier)); tk.Access == "" {
		t.Error("the code was used up by refused exchanges")
	}
	code, verifier = h.issueCode(id, "openid", "")
	h.clock.Advance(61 * time.Second)
	if r := h.post(oauth.PathToken, form(code, codeRedirect, verifier), basic(id, secret)); r.status != http.StatusBadRequest {
		t.Errorf("an expired code: %d %s; want 400", r.status, r.body)
	}
}

// TestAuthorizationCodeOff: without browser sign-in the grant is not
// offered, and discovery does not list it.
func TestAuthorizationCodeOff(t *testing.T) {
	h := newHarness(t, withJWT(t, token.ES256))
	id, secret := h.client(registry.Spec{Name: "web", RedirectURIs: []string{codeRedirect}, GrantTypes: []string{oauth.GrantAuthorizationCode}})
	r := h.post(oauth.PathToken, "grant_type=authorization_code&code=x&redirect_uri="+url.QueryEscape(codeRedirect), basic(id, secret))
	if r.status != http.StatusBadRequest || r.json(t)["error"] != oautherr.CodeUnsupportedGrantType {
		t.Errorf("got %d %s; want 400 unsupported_grant_type", r.status, r.body)
	}
}

// verifyIDToken checks raw's signature against the server's JWKS and
// returns its claims.
func (h *harness) verifyIDToken(raw string) map[string]any {
	h.t.Helper()
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		h.t.Fatalf("id_token %q: %v", raw, err)
	}
	set := h.cfgJWT().Keys.JWKS()
	keys := set.Key(jws.Signatures[0].Protected.KeyID)
	if len(keys) != 1 {
		h.t.Fatalf("no published key for the id_token")
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		h.t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		h.t.Fatal(err)
	}
	return m
}
