package rs

import (
	"context"
	"crypto/sha256"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// allowedAlgs are the signature algorithms accepted; never "none" or HMAC.
var allowedAlgs = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
}

// maxJWT bounds what is parsed: the one cost a caller controls before any
// check.
const maxJWT = 16 << 10

// accessClaims are the claims of an RFC 9068 access token beyond the
// registered ones, with the Token Status List reference.
type accessClaims struct {
	ClientID string `json:"client_id"`
	Scope    string `json:"scope"`
	Username string `json:"username"`
	Status   *struct {
		StatusList *struct {
			Index *int64 `json:"idx"`
			URI   string `json:"uri"`
		} `json:"status_list"`
	} `json:"status"`
}

// checkJWT verifies a JWT access token (RFC 9068 §4): the spelling
// (canonicalCompact), typ at+jwt, a published key, the signature, iss, aud,
// exp and nbf; then whether it was revoked.
func (r *Guard) checkJWT(ctx context.Context, raw string) (*Claims, error) {
	if len(raw) > maxJWT {
		return nil, invalidToken("the token is too large", nil)
	}
	if !canonicalCompact(raw) {
		return nil, invalidToken("the token is not a valid JWT", nil)
	}
	tok, err := jwt.ParseSigned(raw, allowedAlgs)
	if err != nil || len(tok.Headers) != 1 {
		return nil, invalidToken("the token is not a valid JWT", err)
	}
	h := tok.Headers[0]
	typ, _ := h.ExtraHeaders[jose.HeaderType].(string)
	if !strings.EqualFold(typ, "at+jwt") && !strings.EqualFold(typ, "application/at+jwt") {
		return nil, invalidToken("the token is not a JWT access token (typ at+jwt)", nil)
	}
	key, err := r.keys.get(ctx, h.KeyID)
	if errors.Is(err, errUnknownKey) {
		return nil, invalidToken("the token is signed by an unknown key", err)
	}
	if err != nil {
		return nil, unavailable("the authorization server's keys could not be fetched", err)
	}
	if key.Algorithm != "" && key.Algorithm != h.Algorithm {
		return nil, invalidToken("the token's algorithm does not match its key", nil)
	}
	var std jwt.Claims
	var ac accessClaims
	if err := tok.Claims(key.Key, &std, &ac); err != nil {
		return nil, invalidToken("the token's signature is invalid", err)
	}
	if std.Expiry == nil {
		return nil, invalidToken("the token has no exp", nil)
	}
	want := jwt.Expected{Issuer: r.cfg.Issuer, Time: r.cfg.Now()}
	if r.cfg.Audience != "" {
		want.AnyAudience = jwt.Audience{r.cfg.Audience}
	}
	if err := std.ValidateWithLeeway(want, r.cfg.Leeway); err != nil {
		return nil, invalidToken(jwtProblem(err), err)
	}
	c := &Claims{
		Issuer:    std.Issuer,
		Subject:   std.Subject,
		Audience:  slices.Clone([]string(std.Audience)),
		ClientID:  ac.ClientID,
		Scope:     ac.Scope,
		Username:  ac.Username,
		JTI:       std.ID,
		ExpiresAt: std.Expiry.Time(),
	}
	if std.IssuedAt != nil {
		c.IssuedAt = std.IssuedAt.Time()
	}
	if err := r.checkRevokedJWT(ctx, raw, c, ac); err != nil {
		return nil, err
	}
	return c, nil
}

func jwtProblem(err error) string {
	switch {
	case errors.Is(err, jwt.ErrExpired):
		return "the token has expired"
	case errors.Is(err, jwt.ErrNotValidYet), errors.Is(err, jwt.ErrIssuedInTheFuture):
		return "the token is not valid yet"
	case errors.Is(err, jwt.ErrInvalidIssuer):
		return "the token is from another issuer"
	case errors.Is(err, jwt.ErrInvalidAudience):
		return "the token is for another audience"
	default:
		return "the token's claims are invalid"
	}
}

// checkRevokedJWT refuses a revoked JWT. What the feed said is checked
// first, in memory; while the feed is healthy that is all. Otherwise the
// token's status list is consulted (cached for its ttl), or, for a token
// without one, introspection.
func (r *Guard) checkRevokedJWT(ctx context.Context, raw string, c *Claims, ac accessClaims) error {
	hash := sha256.Sum256([]byte(raw))
	if r.revoked.has(c.JTI, hash) {
		return revokedErr()
	}
	if r.FeedHealthy() {
		return nil
	}
	if ac.Status != nil && ac.Status.StatusList != nil && ac.Status.StatusList.Index != nil {
		ref := ac.Status.StatusList
		revoked, err := r.lists.revoked(ctx, ref.URI, *ref.Index)
		var e *Error
		if errors.As(err, &e) {
			return e
		}
		if err != nil {
			return unavailable("the token's status list could not be fetched", err)
		}
		if revoked {
			return revokedErr()
		}
		return nil
	}
	if r.cfg.hasCredentials() {
		active, _, err := r.introspect(ctx, raw, hash)
		if err != nil {
			return err
		}
		if !active {
			return revokedErr()
		}
	}
	// No status list, no introspection: nothing can tell.
	return nil
}

func revokedErr() *Error { return invalidToken("the token has been revoked", nil) }

// now is the checking clock.
func (r *Guard) now() time.Time { return r.cfg.Now() }

// canonicalCompact reports whether every dot-separated segment of s is the
// canonical unpadded base64url encoding of its bytes (RFC 7515 §2; RFC 4648
// §5 and §3.5): characters of the base64url alphabet only, no padding, no
// length of 1 modulo 4, and zero in the bits of the last character that
// encode no byte.
//
// go-jose decodes with base64.RawURLEncoding, which ignores those bits and
// skips CR and LF, and verifies the signature over the re-encoded header
// and payload, so a token spelt differently from the one issued still
// verifies. The authorization server knows a token by the SHA-256 of its
// text: it would not recognise such a spelling, so its owner could not
// revoke or introspect it by that text, and the revocation feed's token
// hashes would not name it. A token is accepted only in the spelling its
// issuer wrote, as tokend's own verifier does. The check reads each
// character once and allocates nothing.
func canonicalCompact(s string) bool {
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			continue
		}
		if !canonicalSegment(s[start:i]) {
			return false
		}
		start = i + 1
	}
	return true
}

// canonicalSegment reports whether seg is canonical unpadded base64url.
// A final group of 2 characters encodes one byte in 12 bits, of 3
// characters two bytes in 18 bits: the last character's low 4 or 2 bits
// are unused and must be zero. A final group of 1 character encodes
// nothing and is malformed.
func canonicalSegment(seg string) bool {
	var last byte
	for i := 0; i < len(seg); i++ {
		v := base64URLValue[seg[i]]
		if v == invalidBase64 {
			return false
		}
		last = v
	}
	switch len(seg) % 4 {
	case 1:
		return false
	case 2:
		return last&0x0f == 0
	case 3:
		return last&0x03 == 0
	}
	return true
}

const invalidBase64 = 0xff

// base64URLValue maps a character to its 6-bit value in the base64url
// alphabet (RFC 4648 §5), or invalidBase64.
var base64URLValue = func() (t [256]byte) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range t {
		t[i] = invalidBase64
	}
	for i := range len(alphabet) {
		t[alphabet[i]] = byte(i)
	}
	return t
}()
