package web

import (
	"strings"
	"testing"
)

// The challenge of RFC 7636 Appendix B.
const rfcChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"

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
