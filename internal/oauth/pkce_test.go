package oauth

import (
	"strings"
	"testing"
)

// The example of RFC 7636 Appendix B.
const (
	rfcVerifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	rfcChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
)

func TestCheckChallenge(t *testing.T) {
	for _, tc := range []struct {
		name, method, challenge string
		ok                      bool
	}{
		{"S256", "S256", rfcChallenge, true},
		{"plain refused", "plain", rfcChallenge, false},
		{"no method (plain by default) refused", "", rfcChallenge, false},
		{"no challenge", "S256", "", false},
		{"too short", "S256", rfcChallenge[:42], false},
		{"not base64url", "S256", strings.Replace(rfcChallenge, "-", "+", 1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := checkChallenge(tc.method, tc.challenge); (err == nil) != tc.ok {
				t.Errorf("checkChallenge(%q, %q) = %v; want ok %v", tc.method, tc.challenge, err, tc.ok)
			}
		})
	}
}

func TestVerifierMatches(t *testing.T) {
	for _, tc := range []struct {
		name, verifier, challenge string
		want                      bool
	}{
		{"RFC 7636 example", rfcVerifier, rfcChallenge, true},
		{"another verifier", rfcVerifier[:42] + "A", rfcChallenge, false},
		{"the challenge as its own verifier (plain)", rfcChallenge, rfcChallenge, false},
		{"too short", rfcVerifier[:42], rfcChallenge, false},
		{"too long", strings.Repeat("a", 129), rfcChallenge, false},
		{"reserved character", rfcVerifier[:42] + "/", rfcChallenge, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := verifierMatches(tc.verifier, tc.challenge); got != tc.want {
				t.Errorf("got %v; want %v", got, tc.want)
			}
		})
	}
}
