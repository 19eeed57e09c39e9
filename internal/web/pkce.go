package web

import (
	"errors"
	"strings"
)

// PKCE (RFC 7636) is required of every client, public or confidential
// (RFC 9700 §2.1.1), and only with S256: the plain method would send the
// verifier itself through the browser. The token endpoint checks the
// verifier against the challenge stored with the code.
const pkceS256 = "S256"

// checkChallenge checks the code_challenge of an authorization request
// (RFC 7636 §4.2, §4.3): the method must be S256, and the challenge the
// base64url encoding of a SHA-256 digest, 43 characters.
func checkChallenge(method, challenge string) error {
	switch {
	case challenge == "":
		return errors.New("code_challenge is required (PKCE with S256)")
	case method != pkceS256:
		return errors.New("code_challenge_method must be S256")
	case len(challenge) != 43 || !unreserved(challenge):
		return errors.New("code_challenge is not the base64url of a SHA-256 digest")
	}
	return nil
}

// checkThumbprint checks the dpop_jkt of an authorization request (RFC
// 9449 §10): absent, or the base64url JWK SHA-256 thumbprint (RFC 7638) of
// the key the client will prove at the token endpoint, 43 characters.
func checkThumbprint(jkt string) error {
	if jkt != "" && (len(jkt) != 43 || !unreserved(jkt) || strings.ContainsAny(jkt, ".~")) {
		return errors.New("dpop_jkt is not the base64url SHA-256 thumbprint of a key")
	}
	return nil
}

// unreserved reports whether s holds only RFC 3986 unreserved characters,
// the alphabet of code challenges.
func unreserved(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
		if !ok {
			return false
		}
	}
	return true
}
