package main

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokend/tokend/internal/assertion"
	"github.com/tokend/tokend/internal/store/sqlite"
)

// claimsOf decodes the claims and the header of a compact JWS without
// verifying it.
func claimsOf(t *testing.T, jws string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(strings.TrimSpace(jws), ".")
	if len(parts) != 3 {
		t.Fatalf("%q is not a compact JWS", jws)
	}
	for i, v := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil || json.Unmarshal(b, v) != nil {
			t.Fatalf("part %d of %q does not decode: %v", i, jws, err)
		}
	}
	return header, claims
}

// TestDevAssertion: `tokend dev assertion` makes a test issuer's key and
// JWK Set the first time and reuses them after; an issuer registered with
// that JWK Set verifies each assertion, whose claims are those asked for,
// each with its own jti; bad flags are refused before any key is made.
func TestDevAssertion(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("TOKEND_ADDR", "localhost:19443")
	for _, args := range [][]string{
		{"--iss", "https://idp.example"},
		{"--sub", "alice"},
		{"--iss", "https://idp.example", "--sub", "alice", "--ttl", "25h"},
		{"--iss", "https://idp.example", "--sub", "alice", "--ttl", "-1m"},
		{"--iss", "https://idp.example", "--sub", "alice", "extra"},
	} {
		if _, _, err, code := runCLI(t, append([]string{"dev", "assertion"}, args...)...); code != 2 {
			t.Errorf("dev assertion %s: %v, exit %d; want a usage error", strings.Join(args, " "), err, code)
		}
	}
	if _, err := os.Stat("idp-key.pem"); err == nil {
		t.Fatal("a refused dev assertion made a key")
	}

	first, note, err, _ := runCLI(t, "dev", "assertion", "--iss", "https://idp.example", "--sub", "alice")
	if err != nil || !strings.Contains(note, "tokend issuer add --iss https://idp.example --jwks-file idp-jwks.json") {
		t.Fatalf("dev assertion: %v; printed %q on stderr, want how to trust the issuer", err, note)
	}
	if fi, err := os.Stat("idp-key.pem"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the key: %v, %v; want a file of mode 0600", fi, err)
	}
	second, note, err, _ := runCLI(t, "dev", "assertion", "--iss", "https://idp.example", "--sub", "bob", "--aud", "https://localhost:19443/oauth2/token", "--ttl", "1m")
	if err != nil || note != "" {
		t.Fatalf("a second dev assertion: %v, printed %q; want the key reused silently", err, note)
	}
	h1, c1 := claimsOf(t, first)
	h2, c2 := claimsOf(t, second)
	if h1["kid"] != h2["kid"] || h1["alg"] != "ES256" || c1["jti"] == c2["jti"] {
		t.Errorf("headers %v and %v, jti %v and %v: want one ES256 key and two jtis", h1, h2, c1["jti"], c2["jti"])
	}
	if c1["aud"] != "https://localhost:19443" || c1["exp"].(float64)-c1["iat"].(float64) != 300 || c2["exp"].(float64)-c2["iat"].(float64) != 60 {
		t.Errorf("claims %v and %v: want the aud TOKEND_ADDR gives and lifetimes of 5m and 1m", c1, c2)
	}

	// The server's own check, against an issuer registered as the note says.
	data := migratedData(t)
	if _, err := cli(t, "", "issuer", "add", "--iss", "https://idp.example", "--jwks-file", "idp-jwks.json", "--data", data); err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(filepath.Join(data, "tokend.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	v := &assertion.Verifier{Issuers: st, Audiences: []string{"https://localhost:19443", "https://localhost:19443/oauth2/token"}}
	for sub, jws := range map[string]string{"alice": first, "bob": second} {
		a, err := v.Verify(t.Context(), strings.TrimSpace(jws))
		if err != nil || a.Subject != sub {
			t.Errorf("the assertion for %s: %+v, %v", sub, a, err)
		}
	}

	// Another key beside a JWK Set that does not hold it is signed with,
	// and said not to match.
	_, note, err, _ = runCLI(t, "dev", "assertion", "--iss", "https://idp.example", "--sub", "alice", "--key", "other-key.pem")
	if err != nil || !strings.Contains(note, "idp-jwks.json does not hold the key of other-key.pem") {
		t.Errorf("dev assertion with another key: %v, printed %q; want a warning that idp-jwks.json does not hold it", err, note)
	}
}
