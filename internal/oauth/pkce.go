package oauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"

	"github.com/tokend/tokend/internal/oautherr"
)

// PKCE (RFC 7636) is required of every client of the authorization code
// grant, public or confidential (RFC 9700 §2.1.1), and only with S256: the
// plain method would send the verifier itself through the browser.
const pkceS256 = "S256"

// checkChallenge checks the code_challenge of an authorization request
// (RFC 7636 §4.2, §4.3): the method must be S256, and the challenge the
// base64url encoding of a SHA-256 digest, 43 characters.
func checkChallenge(method, challenge string) error {
	switch {
	case challenge == "":
		return oautherr.InvalidRequest("code_challenge is required (PKCE with S256)")
	case method != pkceS256:
		return oautherr.InvalidRequest("code_challenge_method must be S256")
	case len(challenge) != 43 || !unreserved(challenge):
		return oautherr.InvalidRequest("code_challenge is not the base64url of a SHA-256 digest")
	}
	return nil
}

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
// the alphabet of code verifiers and challenges.
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
