package token

import (
	"strings"
	"testing"
	"time"
)

// TestVerifyIDToken: an ID Token of ours verifies, expired or not; one of
// another issuer, an access token, a logout token, a tampered one and one
// signed by a key that is not ours do not.
func TestVerifyIDToken(t *testing.T) {
	for _, alg := range SupportedAlgs {
		t.Run(alg, func(t *testing.T) {
			j, clk := newJWTs(t, alg)
			now := clk.Now()
			claims := IDClaims{Subject: "user-1", Audience: Audience{"client-1"}, IssuedAt: now.Unix(),
				ExpiresAt: now.Add(5 * time.Minute).Unix(), SessionID: "sid-1"}
			raw, err := j.MintIDToken(claims)
			if err != nil {
				t.Fatal(err)
			}
			got, err := j.VerifyIDToken(raw)
			if err != nil || got.Subject != "user-1" || got.SessionID != "sid-1" || !got.Audience.Contains("client-1") {
				t.Fatalf("VerifyIDToken = %+v, %v; want the claims", got, err)
			}
			expired := claims
			expired.IssuedAt, expired.ExpiresAt = now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
			rawExpired, err := j.MintIDToken(expired)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := j.VerifyIDToken(rawExpired); err != nil {
				t.Errorf("an expired ID Token: %v; want it accepted (a hint, not a credential)", err)
			}

			other := &JWTs{Keys: j.Keys, Issuer: "https://other.example"}
			foreignIss, _ := other.MintIDToken(claims)
			stranger, _ := newJWTs(t, alg)
			foreignKey, _ := stranger.MintIDToken(claims)
			access, _ := j.Mint(claimsAt(now))
			logout, _ := j.MintLogoutToken(LogoutClaims{Audience: Audience{"client-1"}, IssuedAt: now.Unix(),
				ExpiresAt: now.Add(time.Minute).Unix(), JTI: "j", SessionID: "sid-1"})
			parts := strings.Split(raw, ".")
			tampered := parts[0] + "." + segment(map[string]any{"iss": j.Issuer, "sub": "admin", "aud": "client-1"}) + "." + parts[2]
			for name, bad := range map[string]string{
				"another issuer": foreignIss, "another key": foreignKey, "an access token": access,
				"a logout token": logout, "a tampered payload": tampered, "not a JWT": "tka_abc", "": "",
			} {
				if _, err := j.VerifyIDToken(bad); err != ErrNotOurIDToken {
					t.Errorf("%s: %v; want ErrNotOurIDToken", name, err)
				}
			}
		})
	}
}
