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

func TestRedirectMatches(t *testing.T) {
	registered := []string{"https://app.example/cb", "http://127.0.0.1/cb", "http://[::1]:8080/native?x=1", "http://localhost:3000/cb"}
	for _, tc := range []struct {
		asked string
		want  bool
	}{
		{"https://app.example/cb", true},
		{"https://app.example/cb/", false},
		{"https://app.example/CB", false},
		{"https://app.example/cb?next=evil", false},
		{"https://app.example.evil/cb", false},
		{"https://app.example:443/cb", false},
		{"http://127.0.0.1:53117/cb", true},
		{"http://127.0.0.1/cb", true},
		{"http://127.0.0.1:53117/other", false},
		{"https://127.0.0.1:53117/cb", false},
		{"http://[::1]:61000/native?x=1", true},
		{"http://[::1]:61000/native", false},
		{"http://localhost:3000/cb", true},
		{"http://localhost:3001/cb", false},
		{"http://127.0.0.1:53117/cb#frag", false},
		{"http://user@127.0.0.1:53117/cb", false},
		{"", false},
	} {
		if got := redirectMatches(registered, tc.asked); got != tc.want {
			t.Errorf("redirectMatches(%q) = %v; want %v", tc.asked, got, tc.want)
		}
	}
}
