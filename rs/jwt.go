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
	// Cnf binds the token to a DPoP key (RFC 9449 §6.1).
	Cnf    *confirmation `json:"cnf"`
	Status *struct {
		StatusList *struct {
			Index *int64 `json:"idx"`
			URI   string `json:"uri"`
		} `json:"status_list"`
	} `json:"status"`
}

// confirmation is the cnf claim (RFC 7800 §3.1) of a DPoP-bound token,
// in a JWT or an introspection answer (RFC 9449 §6).
type confirmation struct {
	JKT string `json:"jkt"`
}

// jkt is the DPoP key thumbprint of c; "" when c is nil.
func (c *confirmation) jkt() string {
	if c == nil {
		return ""
	}
	return c.JKT
}

// checkJWT verifies a JWT access token (RFC 9068 §4): the spelling
// (CanonicalCompact), typ at+jwt, a published key, the signature, iss, aud,
// exp and nbf; then whether it was revoked.
func (r *Guard) checkJWT(ctx context.Context, raw string) (*Claims, error) {
	if len(raw) > maxJWT {
		return nil, invalidToken("the token is too large", nil)
	}
	if !CanonicalCompact(raw) {
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
		JKT:       ac.Cnf.jkt(),
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
