package token

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// IDClaims are the claims of an OpenID Connect ID Token (OpenID Connect
// Core 1.0 §2), with the sid of Front- and Back-Channel Logout.
type IDClaims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Audience  Audience `json:"aud"`
	ExpiresAt int64    `json:"exp"`
	IssuedAt  int64    `json:"iat"`
	// AuthTime is when the user authenticated (§2, auth_time).
	AuthTime int64  `json:"auth_time,omitempty"`
	Nonce    string `json:"nonce,omitempty"`
	// SessionID is the session the token was issued in (OpenID Connect
	// Back-Channel Logout 1.0 §2.1, sid).
	SessionID string `json:"sid,omitempty"`
	// AccessTokenHash is at_hash (§3.1.3.6): see AccessTokenHash.
	AccessTokenHash string   `json:"at_hash,omitempty"`
	ACR             string   `json:"acr,omitempty"`
	AMR             []string `json:"amr,omitempty"`
}

// MintIDToken signs an ID Token with the active key (typ JWT). It sets iss;
// the caller sets the rest.
func (j *JWTs) MintIDToken(c IDClaims) (string, error) {
	c.Issuer = j.Issuer
	return j.sign("JWT", c, time.Unix(c.ExpiresAt, 0))
}

// sign signs claims as a compact JWS with the active key, whose header
// carries typ and the key's kid. The key's published lifetime is extended
// to cover expiresAt first, so the JWKS still holds the key while the
// token may be presented.
func (j *JWTs) sign(typ string, claims any, expiresAt time.Time) (string, error) {
	key := j.Keys.Active()
	if err := j.Keys.NoteExpiry(key, expiresAt); err != nil {
		return "", fmt.Errorf("token: record key lifetime: %w", err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("token: marshal claims: %w", err)
	}
	opts := (&jose.SignerOptions{}).WithType(jose.ContentType(typ)).WithHeader("kid", key.ID)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(key.Alg), Key: key.Private}, opts)
	if err != nil {
		return "", fmt.Errorf("token: signer: %w", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("token: sign: %w", err)
	}
	return jws.CompactSerialize()
}

// AccessTokenHash is the at_hash of an access token for an ID Token signed
// with alg (OpenID Connect Core 1.0 §3.1.3.6): the base64url encoding of
// the left-most half of the hash of the token's ASCII octets, with the hash
// of alg's own signature (SHA-256 for RS256 and ES256; SHA-512 for EdDSA
// with Ed25519, whose signature hashes with SHA-512).
func AccessTokenHash(alg, accessToken string) string {
	if alg == string(jose.EdDSA) {
		h := sha512.Sum512([]byte(accessToken))
		return base64.RawURLEncoding.EncodeToString(h[:len(h)/2])
	}
	h := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(h[:len(h)/2])
}

// Alg is the algorithm the active key signs with: the alg of the ID Tokens
// minted now, which their at_hash follows.
func (j *JWTs) Alg() string { return j.Keys.Active().Alg }

// backChannelLogoutEvent is the member of a Logout Token's events claim
// (OpenID Connect Back-Channel Logout 1.0 §2.4).
const backChannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// LogoutClaims are the claims of a Logout Token (OpenID Connect
// Back-Channel Logout 1.0 §2.4): iss, aud, iat, exp, jti, the logout event,
// and sid and/or sub; never a nonce.
type LogoutClaims struct {
	Issuer    string                    `json:"iss"`
	Subject   string                    `json:"sub,omitempty"`
	Audience  Audience                  `json:"aud"`
	IssuedAt  int64                     `json:"iat"`
	ExpiresAt int64                     `json:"exp"`
	JTI       string                    `json:"jti"`
	Events    map[string]map[string]any `json:"events"`
	SessionID string                    `json:"sid,omitempty"`
}

// MintLogoutToken signs a Logout Token with the active key, typ logout+jwt
// (§2.4). It sets iss and the events claim; the caller sets the rest.
func (j *JWTs) MintLogoutToken(c LogoutClaims) (string, error) {
	c.Issuer = j.Issuer
	c.Events = map[string]map[string]any{backChannelLogoutEvent: {}}
	return j.sign("logout+jwt", c, time.Unix(c.ExpiresAt, 0))
}

// SETKeyWindow is how long after a Security Event Token is signed its key
// stays in the JWKS at least: a SET has no exp (SSF 1.0 §4.1.6), and a
// receiver verifies it when it arrives.
const SETKeyWindow = 24 * time.Hour

// MintSET signs the claims of a Security Event Token (RFC 8417) with the
// active key, typ secevent+jwt (SSF 1.0 §4.1.1). claims is the JSON object
// the caller built, iss included: a SET queued and signed again at each
// attempt keeps its claims.
func (j *JWTs) MintSET(claims json.RawMessage) (string, error) {
	return j.sign("secevent+jwt", claims, time.Now().Add(SETKeyWindow))
}
