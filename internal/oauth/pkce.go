package oauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
)

// PKCE (RFC 7636) is required of every client of the authorization code
// grant, public or confidential (RFC 9700 §2.1.1), and only with S256,
// the one method the metadata advertises: the authorization endpoint
// (package web) checks the challenge, the token endpoint the verifier.
const pkceS256 = "S256"

// verifierMatches reports whether verifier is a well-formed code_verifier
// (RFC 7636 §4.1: 43 to 128 unreserved characters) whose S256 transform is
// challenge (§4.6), compared in constant time.
func verifierMatches(verifier, challenge string) bool {
	if len(verifier) < 43 || len(verifier) > 128 || !unreserved(verifier) {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

// unreserved reports whether s holds only RFC 3986 unreserved characters,
// the alphabet of code verifiers.
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
