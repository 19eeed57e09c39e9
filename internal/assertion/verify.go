package assertion

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokend/tokend/internal/store"
)

// MaxLength bounds an assertion; real ones are a few hundred bytes.
const MaxLength = 16 << 10

// Algorithms accepted for assertions: asymmetric only. "none" and the HMAC
// algorithms are refused outright, which also defeats the old trick of
// signing with HS256 and the issuer's public key as the secret.
var Algorithms = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512,
	jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512,
	jose.EdDSA,
}

// Error is a refused assertion; Reason says why, precisely enough for the
// client to fix its request and never more (no key material, no claims).
type Error struct{ Reason string }

func (e *Error) Error() string { return "assertion: " + e.Reason }

func refuse(format string, args ...any) error {
	return &Error{Reason: fmt.Sprintf(format, args...)}
}

// Assertion is a verified assertion.
type Assertion struct {
	Issuer string
	// Subject is the subject as the issuer names it (its sub, or the
	// issuer's configured subject claim): unique within that issuer only.
	Subject   string
	JTI       string
	ExpiresAt time.Time
}

// GrantSubject is the subject of the grants an assertion yields: its
// subject qualified by its issuer, "<sub>@<iss>" (the issuer is the part
// after the last "@" when its identifier holds none). An upstream issuer
// names its own subjects, so the bare sub "alice" is not tokend's user
// alice, nor another issuer's alice. The qualified form never equals a
// local user's ID or a client ID, which hold no "@", so revoking a user's
// or a client's grants never reaches an external subject's, nor the other
// way round, and an admin revokes an external subject's grants by this
// name (POST /admin/revocations {"subject"}, tokend revoke --subject).
func (a Assertion) GrantSubject() string { return a.Subject + "@" + a.Issuer }

// Verifier checks assertions.
type Verifier struct {
	Issuers store.Issuers
	// Keys resolves an issuer's keys; a zero KeySource works.
	Keys *KeySource
	// Audiences are the aud values meant for us: the token endpoint URL
	// and the issuer identifier (RFC 7523 §3 item 3).
	Audiences []string
	// Leeway tolerates clock skew on exp, nbf and iat; 0 means 30 s.
	Leeway time.Duration
	// MaxLifetime refuses an assertion whose exp is further ahead than
	// this (its jti would have to be remembered that long); 0 means 24 h.
	MaxLifetime time.Duration
	Now         func() time.Time
}

// claims are the registered claims an assertion is checked on, plus the
// raw set for a configurable subject claim.
type claims struct {
	Issuer    string          `json:"iss"`
	Subject   string          `json:"sub"`
	Audience  json.RawMessage `json:"aud"`
	ExpiresAt *float64        `json:"exp"`
	NotBefore *float64        `json:"nbf"`
	IssuedAt  *float64        `json:"iat"`
	JTI       string          `json:"jti"`
}

// Verify checks raw and records its jti, so a second use is refused.
func (v *Verifier) Verify(ctx context.Context, raw string) (Assertion, error) {
	if len(raw) > MaxLength {
		return Assertion{}, refuse("assertion is larger than %d bytes", MaxLength)
	}
	if strings.Count(raw, ".") != 2 {
		return Assertion{}, refuse("assertion is not a compact JWS")
	}
	jws, err := jose.ParseSigned(raw, Algorithms)
	if err != nil {
		if alg := headerAlg(raw); alg != "" && !allowed(alg) {
			return Assertion{}, refuse("signature algorithm %q is not accepted", alg)
		}
		return Assertion{}, refuse("assertion is malformed")
	}
	if len(jws.Signatures) != 1 {
		return Assertion{}, refuse("assertion must have exactly one signature")
	}
	var unverified claims
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &unverified); err != nil {
		return Assertion{}, refuse("assertion claims are not a JSON object")
	}
	if unverified.Issuer == "" {
		return Assertion{}, refuse("assertion has no iss")
	}
	iss, err := v.Issuers.GetIssuer(ctx, unverified.Issuer)
	if errors.Is(err, store.ErrNotFound) {
		return Assertion{}, refuse("issuer is not trusted")
	}
	if err != nil {
		return Assertion{}, err
	}

	header := jws.Signatures[0].Header
	keys, err := v.keys().Keys(ctx, iss, header.KeyID)
	if err != nil {
		return Assertion{}, refuse("the issuer's keys could not be loaded")
	}
	payload, err := verifyWith(jws, keys, header)
	if err != nil {
		return Assertion{}, err
	}
	// Parse again from the verified payload: never act on unverified bytes.
	var c claims
	var all map[string]any
	if json.Unmarshal(payload, &c) != nil || json.Unmarshal(payload, &all) != nil {
		return Assertion{}, refuse("assertion claims are not a JSON object")
	}
	return v.check(ctx, iss, c, all)
}

func (v *Verifier) check(ctx context.Context, iss store.Issuer, c claims, all map[string]any) (Assertion, error) {
	now := v.now()
	leeway := v.Leeway
	if leeway == 0 {
		leeway = 30 * time.Second
	}
	maxLife := v.MaxLifetime
	if maxLife == 0 {
		maxLife = 24 * time.Hour
	}
	if !audienceMatches(c.Audience, v.Audiences) {
		return Assertion{}, refuse("assertion audience does not name this server")
	}
	if c.ExpiresAt == nil {
		return Assertion{}, refuse("assertion has no exp")
	}
	exp := unixTime(*c.ExpiresAt)
	switch {
	case !now.Before(exp.Add(leeway)):
		return Assertion{}, refuse("assertion has expired")
	case exp.After(now.Add(maxLife)):
		return Assertion{}, refuse("assertion lifetime exceeds %s", maxLife)
	case c.NotBefore != nil && unixTime(*c.NotBefore).After(now.Add(leeway)):
		return Assertion{}, refuse("assertion is not yet valid (nbf)")
	case c.IssuedAt != nil && unixTime(*c.IssuedAt).After(now.Add(leeway)):
		return Assertion{}, refuse("assertion was issued in the future (iat)")
	case c.JTI == "":
		return Assertion{}, refuse("assertion has no jti")
	case len(c.JTI) > 256:
		return Assertion{}, refuse("assertion jti is longer than 256 characters")
	}
	subjectClaim := iss.SubjectClaim
	if subjectClaim == "" {
		subjectClaim = "sub"
	}
	subject, _ := all[subjectClaim].(string)
	if subject == "" {
		return Assertion{}, refuse("assertion has no %s claim", subjectClaim)
	}
	if err := v.Issuers.UseJTI(ctx, iss.Issuer, c.JTI, exp.Add(leeway), now); errors.Is(err, store.ErrAlreadyExists) {
		return Assertion{}, refuse("assertion has been used already (jti replay)")
	} else if err != nil {
		return Assertion{}, err
	}
	return Assertion{Issuer: iss.Issuer, Subject: subject, JTI: c.JTI, ExpiresAt: exp}, nil
}

// verifyWith checks the signature against the key the header names (or,
// without a kid, every key of a matching algorithm).
func verifyWith(jws *jose.JSONWebSignature, keys []jose.JSONWebKey, h jose.Header) ([]byte, error) {
	tried := false
	for _, k := range keys {
		if h.KeyID != "" && k.KeyID != h.KeyID {
			continue
		}
		if k.Algorithm != "" && k.Algorithm != h.Algorithm {
			continue
		}
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		tried = true
		if payload, err := jws.Verify(k.Key); err == nil {
			return payload, nil
		}
	}
	if !tried {
		return nil, refuse("no key of the issuer matches the assertion's kid and alg")
	}
	return nil, refuse("assertion signature is invalid")
}

func audienceMatches(raw json.RawMessage, want []string) bool {
	var auds []string
	var one string
	if json.Unmarshal(raw, &one) == nil {
		auds = []string{one}
	} else if json.Unmarshal(raw, &auds) != nil {
		return false
	}
	for _, a := range auds {
		for _, w := range want {
			if a == w {
				return true
			}
		}
	}
	return false
}

// headerAlg reads the alg of a compact JWS without trusting anything, for
// a precise error when go-jose refuses the algorithm.
func headerAlg(raw string) string {
	seg, _, _ := strings.Cut(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return ""
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(b, &h) != nil {
		return ""
	}
	return h.Alg
}

func allowed(alg string) bool {
	for _, a := range Algorithms {
		if string(a) == alg {
			return true
		}
	}
	return false
}

func unixTime(f float64) time.Time {
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9))
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) keys() *KeySource {
	if v.Keys != nil {
		return v.Keys
	}
	return defaultKeySource
}
