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
