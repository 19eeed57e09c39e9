package token

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokend/tokend/rs"
)

// ErrNotOurIDToken: the JWT is malformed, not signed by one of our
// published keys, or not an ID Token of this issuer.
var ErrNotOurIDToken = errors.New("token: not an ID Token of this server")

// VerifyIDToken checks an ID Token this server signed, as an RP presents
// it back as id_token_hint (OpenID Connect RP-Initiated Logout 1.0 §2):
// the compact form in canonical base64url, typ JWT (so neither an access
// token, at+jwt, nor a logout token, logout+jwt, passes for one), an
// allowed algorithm that matches the key's, a kid among our published
// keys, the signature, iss, and a subject and an audience. Expiry is not
// checked: an RP signs a user out long after the ID Token it holds has
// expired, and the specification has the server accept it. Anything wrong
// is ErrNotOurIDToken.
func (j *JWTs) VerifyIDToken(raw string) (IDClaims, error) {
	var c IDClaims
	if !LooksLikeJWT(raw) || !rs.CanonicalCompact(raw) {
		return c, ErrNotOurIDToken
	}
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA})
	if err != nil || len(jws.Signatures) != 1 {
		return c, ErrNotOurIDToken
	}
	h := jws.Signatures[0].Header
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !strings.EqualFold(typ, "JWT") {
		return c, ErrNotOurIDToken
	}
	key, ok := j.Keys.Lookup(h.KeyID)
	if !ok || key.Alg != h.Algorithm {
		return c, ErrNotOurIDToken
	}
	payload, err := jws.Verify(key.Private.Public())
	if err != nil {
		return c, ErrNotOurIDToken
	}
	if err := json.Unmarshal(payload, &c); err != nil || c.Issuer != j.Issuer || c.Subject == "" || len(c.Audience) == 0 {
		return IDClaims{}, ErrNotOurIDToken
	}
	return c, nil
}
