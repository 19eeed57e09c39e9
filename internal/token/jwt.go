package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokend/tokend/rs"
)

// MaxJWTLength bounds a JWT we are willing to parse; ours are well under
// 2 KiB, and parsing is the one cost an attacker controls before any check.
const MaxJWTLength = 8 << 10

// AccessClaims are the claims of a JWT access token (RFC 9068 §2.2), with
// the Token Status List reference (draft-ietf-oauth-status-list §6.1).
type AccessClaims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Audience  Audience `json:"aud"`
	ClientID  string   `json:"client_id"`
	Scope     string   `json:"scope,omitempty"`
	Username  string   `json:"username,omitempty"`
	IssuedAt  int64    `json:"iat"`
	NotBefore int64    `json:"nbf,omitempty"`
	ExpiresAt int64    `json:"exp"`
	JTI       string   `json:"jti"`
	Status    *Status  `json:"status,omitempty"`
	// Confirmation binds the token to a DPoP key (RFC 9449 §6.1); nil
	// for a bearer token.
	Confirmation *Confirmation `json:"cnf,omitempty"`
	// Act is the actor of an exchanged token (RFC 8693 §4.1), the actors
	// before it nested inside; nil when there is none.
	Act json.RawMessage `json:"act,omitempty"`
}

// Confirmation is the "cnf" claim (RFC 7800 §3.1) of a DPoP-bound token:
// the SHA-256 thumbprint of its key (RFC 9449 §6.1).
type Confirmation struct {
	JKT string `json:"jkt"`
}

// Status is the "status" claim of a referenced token.
type Status struct {
	StatusList StatusListRef `json:"status_list"`
}

// StatusListRef points at the token's bit in a status list.
type StatusListRef struct {
	Index int64  `json:"idx"`
	URI   string `json:"uri"`
}

// Audience is the "aud" claim: one string or an array (RFC 7519 §4.1.3).
type Audience []string

// MarshalJSON writes a single audience as a string, as most tokens do.
func (a Audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

// UnmarshalJSON reads a string or an array of strings.
func (a *Audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = Audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("token: aud is neither a string nor an array of strings")
	}
	*a = many
	return nil
}

// Contains reports whether the audience includes s.
func (a Audience) Contains(s string) bool {
	for _, v := range a {
		if v == s {
			return true
		}
	}
	return false
}

// JWTs mints and verifies tokend's JWT access tokens.
type JWTs struct {
	Keys   *Keyring
	Issuer string
}

// NewJTI returns a fresh JWT ID (128 random bits).
func NewJTI() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// Mint signs c with the active key. It sets iss; the caller sets the rest.
// The key's published lifetime is extended to cover c's expiry before the
// token is returned.
//
// Signing is the cost of issuance, so minting does no more than it must:
// the protected header was serialised once per key by go-jose, the claims
// are marshalled, and the key signs the signing input (RFC 7515 §5.1). The
// result is verified by go-jose in the tests, header and all.
func (j *JWTs) Mint(c AccessClaims) (string, error) {
	c.Issuer = j.Issuer
	key := j.Keys.Active()
	if err := j.Keys.NoteExpiry(key, time.Unix(c.ExpiresAt, 0)); err != nil {
		return "", fmt.Errorf("token: record key lifetime: %w", err)
	}
	payload := c.appendJSON(make([]byte, 0, 512))
	enc := base64.RawURLEncoding
	buf := make([]byte, 0, len(key.header)+1+enc.EncodedLen(len(payload))+1+enc.EncodedLen(512))
	buf = append(buf, key.header...)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, payload)
	sig, err := signJWS(key, buf)
	if err != nil {
		return "", err
	}
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	return string(buf), nil
}

// appendJSON appends the claims as JSON, with the same members and
// omissions as their json tags (a test holds the two to the same output).
// It saves encoding/json's reflection on the issuance path.
func (c *AccessClaims) appendJSON(b []byte) []byte {
	str := func(b []byte, name, v string, omitEmpty bool) []byte {
		if omitEmpty && v == "" {
			return b
		}
		b = append(b, ',', '"')
		b = append(b, name...)
		b = append(b, '"', ':')
		return appendJSONString(b, v)
	}
	num := func(b []byte, name string, v int64, omitEmpty bool) []byte {
		if omitEmpty && v == 0 {
			return b
		}
		b = append(b, ',', '"')
		b = append(b, name...)
		b = append(b, '"', ':')
		return strconv.AppendInt(b, v, 10)
	}
	b = append(b, `{"iss":`...)
	b = appendJSONString(b, c.Issuer)
	b = str(b, "sub", c.Subject, false)
	b = append(b, `,"aud":`...)
	switch len(c.Audience) {
	case 0:
		b = append(b, "null"...)
	case 1:
		b = appendJSONString(b, c.Audience[0])
	default:
		b = append(b, '[')
		for i, a := range c.Audience {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, a)
		}
		b = append(b, ']')
	}
	b = str(b, "client_id", c.ClientID, false)
	b = str(b, "scope", c.Scope, true)
	b = str(b, "username", c.Username, true)
	b = num(b, "iat", c.IssuedAt, false)
	b = num(b, "nbf", c.NotBefore, true)
	b = num(b, "exp", c.ExpiresAt, false)
	b = str(b, "jti", c.JTI, false)
	if c.Status != nil {
		b = append(b, `,"status":{"status_list":{"idx":`...)
		b = strconv.AppendInt(b, c.Status.StatusList.Index, 10)
		b = append(b, `,"uri":`...)
		b = appendJSONString(b, c.Status.StatusList.URI)
		b = append(b, "}}"...)
	}
	if c.Confirmation != nil {
		b = append(b, `,"cnf":{"jkt":`...)
		b = appendJSONString(b, c.Confirmation.JKT)
		b = append(b, '}')
	}
	if len(c.Act) > 0 {
		// Rare (exchanged tokens), and JSON already: encoding/json
		// compacts and escapes it as it would in the struct.
		if act, err := json.Marshal(c.Act); err == nil {
			b = append(b, `,"act":`...)
			b = append(b, act...)
		}
	}
	return append(b, '}')
}

// appendJSONString appends s as a JSON string (RFC 8259 §7), escaping as
// encoding/json does, HTML characters included.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' && c < utf8.RuneSelf {
			b = append(b, c)
			i++
			continue
		}
		if c < utf8.RuneSelf {
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// signJWS signs a JWS signing input with key, in the signature format of
// RFC 7518 §3 (ECDSA: the fixed-width R || S, not ASN.1).
func signJWS(key *Key, input []byte) ([]byte, error) {
	switch priv := key.Private.(type) {
	case ed25519.PrivateKey:
		return ed25519.Sign(priv, input), nil
	case *rsa.PrivateKey:
		d := sha256.Sum256(input)
		return rsa.SignPKCS1v15(nil, priv, crypto.SHA256, d[:])
	case *ecdsa.PrivateKey:
		d := sha256.Sum256(input)
		r, s, err := ecdsa.Sign(rand.Reader, priv, d[:])
		if err != nil {
			return nil, err
		}
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		s.FillBytes(out[32:])
		return out, nil
	default:
		return nil, fmt.Errorf("token: cannot sign with a %T", key.Private)
	}
}

// ErrNotOurs: the JWT is malformed, not signed by one of our published
// keys, or not an access token of this issuer. It is not a revocable or
// introspectable token, and callers treat it as unknown.
var ErrNotOurs = errors.New("token: not an access token of this server")

// LooksLikeJWT reports whether s has the shape of a compact JWS, so the
// opaque and JWT paths can be told apart without parsing.
func LooksLikeJWT(s string) bool {
	return len(s) <= MaxJWTLength && strings.Count(s, ".") == 2 && strings.HasPrefix(s, "eyJ")
}

// Verify checks a JWT access token of ours: the compact form, each part in
// canonical base64url (rs.CanonicalCompact: the spelling issued, the one the
// store knows), typ at+jwt, an allowed algorithm that matches the key's, a
// kid among our published keys, the signature, and iss. Expiry is not
// checked here: callers need the claims of an expired token too (its
// revocation is a no-op; its introspection is inactive). Anything else
// wrong is ErrNotOurs.
func (j *JWTs) Verify(raw string) (AccessClaims, error) {
	var c AccessClaims
	if !LooksLikeJWT(raw) || !rs.CanonicalCompact(raw) {
		return c, ErrNotOurs
	}
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA})
	if err != nil || len(jws.Signatures) != 1 {
		return c, ErrNotOurs
	}
	h := jws.Signatures[0].Header
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !strings.EqualFold(typ, "at+jwt") && !strings.EqualFold(typ, "application/at+jwt") {
		return c, ErrNotOurs
	}
	key, ok := j.Keys.Lookup(h.KeyID)
	if !ok || key.Alg != h.Algorithm {
		return c, ErrNotOurs
	}
	payload, err := jws.Verify(key.Private.Public())
	if err != nil {
		return c, ErrNotOurs
	}
	if err := json.Unmarshal(payload, &c); err != nil || c.Issuer != j.Issuer || c.JTI == "" {
		return AccessClaims{}, ErrNotOurs
	}
	return c, nil
}
