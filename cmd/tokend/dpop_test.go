package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokend/tokend/dpop"
	"github.com/tokend/tokend/internal/stack"
)

// TestServeDPoP runs the real binary with --dpop-nonces and a client made
// by the CLI with --dpop-bound-access-tokens: a token request without a
// proof is refused, one without the nonce is told the nonce, and one with
// it gets a DPoP-bound token, whose introspection says so. The nonce key
// is kept in the data folder.
func TestServeDPoP(t *testing.T) {
	data := t.TempDir()
	node, err := stack.StartTokend(t.Context(), tokendBin, data, "", "--dpop-nonces")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = node.Stop() })
	id, secret, err := node.CreateClient(t.Context(), "--name", "bound", "--grant", "client_credentials", "--dpop-bound-access-tokens")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(data, "dpop-nonce-key")); err != nil {
		t.Fatalf("the nonce key is not in the data folder: %v", err)
	}
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	key, err := dpop.NewSigner(k, jose.ES256)
	if err != nil {
		t.Fatal(err)
	}
	htu := node.URL + "/oauth2/token"
	token := func(nonce string, withProof bool) (int, http.Header, map[string]any) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, htu, strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
		if withProof {
			p, err := key.Proof(dpop.ProofClaims{Method: http.MethodPost, URI: htu, Nonce: nonce})
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("DPoP", p)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		return resp.StatusCode, resp.Header, m
	}
	if status, _, m := token("", false); status != http.StatusBadRequest || m["error"] != "invalid_dpop_proof" {
		t.Fatalf("without a proof: %d %v", status, m)
	}
	status, hdr, m := token("", true)
	if status != http.StatusBadRequest || m["error"] != "use_dpop_nonce" || hdr.Get("DPoP-Nonce") == "" {
		t.Fatalf("without a nonce: %d %v %v", status, m, hdr)
	}
	status, _, m = token(hdr.Get("DPoP-Nonce"), true)
	if status != http.StatusOK || m["token_type"] != "DPoP" {
		t.Fatalf("with the nonce: %d %v", status, m)
	}
	if jkt := introspectJKT(t, node, m["access_token"].(string)); jkt != key.JKT {
		t.Fatalf("introspection: cnf.jkt %q; want %s", jkt, key.JKT)
	}
}

// introspectJKT introspects tok with the admin token and returns its
// cnf.jkt, failing unless it is an active DPoP token.
func introspectJKT(t *testing.T, node *stack.Tokend, tok string) string {
	t.Helper()
	admin, err := node.AdminToken()
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, node.URL+"/oauth2/introspect",
		strings.NewReader(url.Values{"token": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var in struct {
		TokenType string `json:"token_type"`
		Cnf       struct {
			JKT string `json:"jkt"`
		} `json:"cnf"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&in); err != nil || in.TokenType != "DPoP" {
		t.Fatalf("introspection: %+v, %v; want an active DPoP token", in, err)
	}
	return in.Cnf.JKT
}

// TestDPoPReplayOnSeveralInstances: two instances on one PostgreSQL check
// DPoP proofs' jtis through the database, so a proof accepted by one is
// refused by the other, whose memory never saw it.
func TestDPoPReplayOnSeveralInstances(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 2)
	id, secret, err := c.nodes[0].CreateClient(t.Context(), "--dsn", c.dsn, "--name", "app", "--grant", "client_credentials")
	if err != nil {
		t.Fatal(err)
	}
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	key, err := dpop.NewSigner(k, jose.ES256)
	if err != nil {
		t.Fatal(err)
	}
	proof, err := key.Proof(dpop.ProofClaims{Method: http.MethodPost, URI: clusterIssuer + "/oauth2/token"})
	if err != nil {
		t.Fatal(err)
	}
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
	token := func(node int) (int, map[string]any) {
		return c.do(node, http.MethodPost, "/oauth2/token", "grant_type=client_credentials",
			"application/x-www-form-urlencoded", "Authorization", auth, "DPoP", proof)
	}
	if status, m := token(0); status != http.StatusOK || m["token_type"] != "DPoP" {
		t.Fatalf("node 0: %d %v", status, m)
	}
	if status, m := token(1); status != http.StatusBadRequest || m["error"] != "invalid_dpop_proof" {
		t.Fatalf("the same proof at node 1: %d %v; want invalid_dpop_proof", status, m)
	}
}
