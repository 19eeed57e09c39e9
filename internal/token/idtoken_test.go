package token

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"
)

// TestMintIDToken: an ID Token of each algorithm verifies against the
// published keys, with typ JWT, the kid of the active key and the claims
// as given, iss set by the minter.
func TestMintIDToken(t *testing.T) {
	for _, alg := range SupportedAlgs {
		t.Run(alg, func(t *testing.T) {
			j, clk := newJWTs(t, alg)
			now := clk.Now()
			want := IDClaims{
				Subject: "user-1", Audience: Audience{"client-1"}, IssuedAt: now.Unix(),
				ExpiresAt: now.Add(5 * time.Minute).Unix(), AuthTime: now.Add(-time.Minute).Unix(),
				Nonce: "n-0S6_WzA2Mj", SessionID: "sid-1", AccessTokenHash: AccessTokenHash(alg, "tka_x"),
				AMR: []string{"pwd"},
			}
			raw, err := j.MintIDToken(want)
			if err != nil {
				t.Fatal(err)
			}
			jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
			if err != nil {
				t.Fatal(err)
			}
			h := jws.Signatures[0].Protected
			if h.KeyID != j.Keys.Active().ID || h.ExtraHeaders["typ"] != "JWT" {
				t.Errorf("header kid %q typ %v; want %q JWT", h.KeyID, h.ExtraHeaders["typ"], j.Keys.Active().ID)
			}
			set := j.Keys.JWKS()
			keys := set.Key(h.KeyID)
			if len(keys) != 1 {
				t.Fatalf("the JWKS holds %d keys of kid %q; want 1", len(keys), h.KeyID)
			}
			payload, err := jws.Verify(keys[0])
			if err != nil {
				t.Fatal(err)
			}
			var got IDClaims
			if err := json.Unmarshal(payload, &got); err != nil {
				t.Fatal(err)
			}
			want.Issuer = j.Issuer
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("claims (-got +want):\n%s", diff)
			}
		})
	}
}

// TestAccessTokenHash: the example of OpenID Connect Core 1.0 Appendix A.3
// (RS256), and the same half-hash rule for the other algorithms (the
// EdDSA value computed apart, with Python's hashlib).
func TestAccessTokenHash(t *testing.T) {
	for _, tc := range []struct{ alg, token, want string }{
		{RS256, "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y", "77QmUPtjPfzWtF2AnpK9RQ"},
		{ES256, "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y", "77QmUPtjPfzWtF2AnpK9RQ"},
		{EdDSA, "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y", "q7nS86GgvvFaZkzALLWqJYaJIKw2wCDAVfCAsm5CrBM"},
	} {
		if got := AccessTokenHash(tc.alg, tc.token); got != tc.want {
			t.Errorf("%s: got %q; want %q", tc.alg, got, tc.want)
		}
	}
}

// TestMintLogoutToken: typ logout+jwt, the back-channel logout event, sid
// and sub, and no nonce (OpenID Connect Back-Channel Logout 1.0 §2.4).
func TestMintLogoutToken(t *testing.T) {
	j, clk := newJWTs(t, ES256)
	now := clk.Now()
	raw, err := j.MintLogoutToken(LogoutClaims{Subject: "user-1", Audience: Audience{"client-1"},
		IssuedAt: now.Unix(), ExpiresAt: now.Add(2 * time.Minute).Unix(), JTI: "jti-1", SessionID: "sid-1"})
	if err != nil {
		t.Fatal(err)
	}
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	if typ := jws.Signatures[0].Protected.ExtraHeaders["typ"]; typ != "logout+jwt" {
		t.Errorf("typ %v; want logout+jwt", typ)
	}
	set := j.Keys.JWKS()
	payload, err := jws.Verify(set.Key(jws.Signatures[0].Protected.KeyID)[0])
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(payload, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"iss": j.Issuer, "sub": "user-1", "aud": "client-1", "iat": float64(now.Unix()),
		"exp": float64(now.Add(2 * time.Minute).Unix()), "jti": "jti-1", "sid": "sid-1",
		"events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("claims (-got +want):\n%s", diff)
	}
}
