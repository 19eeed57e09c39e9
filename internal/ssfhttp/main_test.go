package ssfhttp_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/ssf"
	"github.com/tokend/tokend/internal/ssfhttp"
	"github.com/tokend/tokend/internal/store"
	ts "github.com/tokend/tokend/internal/testserver"
)

// receiverClient registers a confidential client, allowed to manage
// streams when allowed, and returns the Authorization header of one of
// its client_credentials access tokens.
func receiverClient(t *testing.T, s *ts.Server, name string, allowed bool) (id, bearer string) {
	t.Helper()
	id, secret := s.Client(name)
	if allowed {
		if _, err := s.Store.UpdateClient(t.Context(), id, func(c store.Client) (store.Client, error) {
			c.SSFStreams = true
			return c, nil
		}, nil); err != nil {
			t.Fatal(err)
		}
	}
	return id, "Authorization: Bearer " + s.ClientTokens(id, secret).Access
}

// create creates a stream with body as auth and returns its configuration.
func create(t testing.TB, s *ts.Server, body, auth string) ssf.StreamConfig {
	t.Helper()
	r := s.Do(http.MethodPost, ssfhttp.PathStream, body, auth)
	if r.Status != http.StatusCreated {
		t.Fatalf("create stream: %d %s; want 201", r.Status, r.Body)
	}
	var cfg ssf.StreamConfig
	r.JSON(t, &cfg)
	return cfg
}

// poll polls stream id as auth and returns the answer.
func poll(t *testing.T, s *ts.Server, id, body, auth string) ssf.PollResponse {
	t.Helper()
	r := s.Do(http.MethodPost, ssfhttp.PathPoll+id, body, auth)
	if r.Status != http.StatusOK {
		t.Fatalf("poll: %d %s; want 200", r.Status, r.Body)
	}
	var resp ssf.PollResponse
	r.JSON(t, &resp)
	return resp
}

// jwks reads the server's JWKS over HTTP.
func jwks(t *testing.T, s *ts.Server) jose.JSONWebKeySet {
	t.Helper()
	r := s.Do(http.MethodGet, oauth.PathJWKS, "")
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(r.Body), &set); err != nil || r.Status != http.StatusOK {
		t.Fatalf("JWKS: %d %v", r.Status, err)
	}
	return set
}

// verifySET verifies raw as a receiver does, with go-jose and the JWKS:
// signed by a key of the set, typ secevent+jwt, iss the server, aud as
// given, a jti, an iat, a txn, no sub, no exp (SSF 1.0 §4.1), one event.
// It returns the claims.
func verifySET(t *testing.T, s *ts.Server, raw string, aud any) map[string]any {
	t.Helper()
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.EdDSA})
	if err != nil {
		t.Fatalf("parse SET: %v", err)
	}
	h := jws.Signatures[0].Protected
	if typ := h.ExtraHeaders["typ"]; typ != "secevent+jwt" {
		t.Errorf("typ %v; want secevent+jwt", typ)
	}
	set := jwks(t, s)
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q is not in the JWKS", h.KeyID)
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		t.Fatalf("SET does not verify with the JWKS: %v", err)
	}
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	events, _ := c["events"].(map[string]any)
	switch {
	case c["iss"] != s.URL:
		t.Errorf("iss %v; want %s", c["iss"], s.URL)
	case !jsonEqual(c["aud"], aud):
		t.Errorf("aud %v; want %v", c["aud"], aud)
	case c["jti"] == nil || c["jti"] == "" || c["iat"] == nil || c["txn"] == nil:
		t.Errorf("jti %v iat %v txn %v; want each", c["jti"], c["iat"], c["txn"])
	case c["sub"] != nil || c["exp"] != nil:
		t.Errorf("sub %v exp %v; a SET of SSF has neither", c["sub"], c["exp"])
	case len(events) != 1 || c["sub_id"] == nil:
		t.Errorf("events %v sub_id %v; want one event and a sub_id", c["events"], c["sub_id"])
	}
	return c
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// event returns the claims' one event of type typ, failing if it is not.
func event(t *testing.T, claims map[string]any, typ string) map[string]any {
	t.Helper()
	events, _ := claims["events"].(map[string]any)
	e, ok := events[typ].(map[string]any)
	if !ok {
		t.Fatalf("events %v; want %s", claims["events"], typ)
	}
	return e
}

// eventually waits up to 10 s for ok.
func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for !ok() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

func body(members ...string) string { return "{" + strings.Join(members, ",") + "}" }
