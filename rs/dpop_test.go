package rs_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokend/tokend/dpop"
	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/registry"
	"github.com/tokend/tokend/internal/testserver"
	"github.com/tokend/tokend/rs"
)

func dpopKey(t *testing.T) *dpop.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := dpop.NewSigner(k, jose.ES256)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func register(t *testing.T, ts *testserver.Server, spec registry.Spec) (id, secret string) {
	t.Helper()
	c, secret, err := oauth.Registration.New(spec, ts.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.Store.CreateClient(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	return c.ID, secret
}

// dpopToken gets a client_credentials token bound to key from tokend.
func dpopToken(t *testing.T, ts *testserver.Server, id, secret string, key *dpop.Signer) string {
	t.Helper()
	proof, err := key.Proof(dpop.ProofClaims{Method: http.MethodPost, URI: ts.URL + oauth.PathToken})
	if err != nil {
		t.Fatal(err)
	}
	r := ts.Post(oauth.PathToken, "grant_type=client_credentials&scope=read", testserver.Basic(id, secret), "DPoP: "+proof)
	m := r.Map(t)
	if r.Status != http.StatusOK || m["token_type"] != "DPoP" {
		t.Fatalf("token: %d %s", r.Status, r.Body)
	}
	return m["access_token"].(string)
}

// TestResourceServerHonoursDPoP: a resource server built on rs, in front
// of a real tokend, refuses a DPoP-bound token sent as a Bearer token or
// with a proof of another key, or with a proof that lacks the token's hash
// or was used before; it accepts the token with a fresh proof of its key.
// For a JWT (cnf.jkt verified locally) and an opaque token (cnf from
// introspection) alike.
func TestResourceServerHonoursDPoP(t *testing.T) {
	ts := testserver.New(t)
	rsID, rsSecret := register(t, ts, registry.Spec{Name: "api", CanIntrospect: true})
	guard, err := rs.New(rs.Config{Issuer: ts.URL, ClientID: rsID, ClientSecret: rsSecret, DisableFeed: true})
	if err != nil {
		t.Fatal(err)
	}
	defer guard.Close()
	api := httptest.NewServer(guard.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := rs.ClaimsFrom(r.Context())
		_ = json.NewEncoder(w).Encode(map[string]string{"client": c.ClientID, "jkt": c.JKT})
	})))
	defer api.Close()
	for _, format := range []string{registry.FormatJWT, registry.FormatOpaque} {
		t.Run(format, func(t *testing.T) {
			id, secret := register(t, ts, registry.Spec{Name: format, TokenFormat: format, GrantTypes: []string{oauth.GrantClientCredentials}})
			key := dpopKey(t)
			tok := dpopToken(t, ts, id, secret, key)
			url := api.URL + "/orders"
			proof := func(s *dpop.Signer, c dpop.ProofClaims) string {
				p, err := s.Proof(c)
				if err != nil {
					t.Fatal(err)
				}
				return p
			}
			good := dpop.ProofClaims{Method: http.MethodGet, URI: url, AccessToken: tok}
			refused := []struct {
				name, auth, proof, code string
			}{
				{"as a Bearer token", "Bearer " + tok, "", "invalid_token"},
				{"as a Bearer token with a proof", "Bearer " + tok, proof(key, good), "invalid_token"},
				{"with no proof", "DPoP " + tok, "", "invalid_dpop_proof"},
				{"with another key's proof", "DPoP " + tok, proof(dpopKey(t), good), "invalid_token"},
				{"with a proof without ath", "DPoP " + tok, proof(key, dpop.ProofClaims{Method: http.MethodGet, URI: url}), "invalid_dpop_proof"},
				{"with a proof for another URI", "DPoP " + tok, proof(key, dpop.ProofClaims{Method: http.MethodGet, URI: api.URL + "/admin", AccessToken: tok}), "invalid_dpop_proof"},
			}
			for _, c := range refused {
				status, hdr, _ := get(t, url, c.auth, c.proof)
				challenge := hdr.Get("WWW-Authenticate")
				if status != http.StatusUnauthorized || !strings.HasPrefix(challenge, "DPoP ") ||
					!strings.Contains(challenge, `error="`+c.code+`"`) || !strings.Contains(challenge, `algs="`) {
					t.Errorf("%s: %d %q; want 401 with a DPoP challenge, error %s and algs", c.name, status, challenge, c.code)
				}
			}
			right := proof(key, good)
			status, _, body := get(t, url, "DPoP "+tok, right)
			if status != http.StatusOK || !strings.Contains(body, key.JKT) {
				t.Fatalf("the right proof: %d %s", status, body)
			}
			if status, hdr, _ := get(t, url, "DPoP "+tok, right); status != http.StatusUnauthorized || !strings.Contains(hdr.Get("WWW-Authenticate"), "invalid_dpop_proof") {
				t.Fatalf("the same proof again: %d %v; want refused as replayed", status, hdr)
			}
		})
	}
	// CheckRequest is the middleware's check, for a caller without it.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://api.example/orders", nil)
	id0, secret0 := register(t, ts, registry.Spec{Name: "direct", GrantTypes: []string{oauth.GrantClientCredentials}})
	req.Header.Set("Authorization", "Bearer "+dpopToken(t, ts, id0, secret0, dpopKey(t)))
	if _, err := guard.CheckRequest(req); err == nil {
		t.Fatal("CheckRequest took a bound token sent as a Bearer token")
	}
	// A bearer token still passes as a Bearer token, and not as DPoP.
	id, secret := register(t, ts, registry.Spec{Name: "plain", GrantTypes: []string{oauth.GrantClientCredentials}})
	plain := ts.ClientTokens(id, secret).Access
	if status, _, body := get(t, api.URL+"/orders", "Bearer "+plain, ""); status != http.StatusOK {
		t.Fatalf("a bearer token: %d %s", status, body)
	}
	if status, _, _ := get(t, api.URL+"/orders", "DPoP "+plain, ""); status != http.StatusUnauthorized {
		t.Fatalf("a bearer token under the DPoP scheme: %d", status)
	}
}

func get(t *testing.T, url, auth, proof string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", auth)
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}
