package dpop

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// HeaderName is the request header a proof travels in (RFC 9449 §4.1), and
// NonceHeader the one a server sends its nonce in (§8, §9).
const (
	HeaderName  = "DPoP"
	NonceHeader = "DPoP-Nonce"
	// Type is the typ of a proof's JOSE header (§4.2).
	Type = "dpop+jwt"
	// Scheme is the authorization scheme of a bound token (§7.1).
	Scheme = "DPoP"
)

// DefaultAlgs are the signature algorithms a Verifier accepts when its Algs
// is empty: asymmetric ones only (RFC 9449 §4.2: never none nor a MAC),
// as discovery's dpop_signing_alg_values_supported publishes them.
var DefaultAlgs = []jose.SignatureAlgorithm{
	jose.ES256, jose.ES384, jose.ES512,
	jose.PS256, jose.PS384, jose.PS512,
	jose.RS256, jose.RS384, jose.RS512,
	jose.EdDSA,
}

// Defaults of a Verifier.
const (
	// DefaultMaxAge is how old a proof's iat may be: long enough for a
	// request to cross a slow network, short enough that the replay cache
	// holds few proofs.
	DefaultMaxAge = time.Minute
	// DefaultSkew is how far in the future an iat may be: clocks differ.
	DefaultSkew = 10 * time.Second
	// maxProof bounds what is parsed at all: the one cost a caller controls
	// before any check. A proof with an RSA 4096 key is under 2 KiB.
	maxProof = 8 << 10
	// maxJTI bounds a jti, which the replay cache keeps.
	maxJTI = 256
	// minRSABits is the smallest RSA key accepted (RFC 7518 §3.3).
	minRSABits = 2048
)

// Proof is a proof that passed every check.
type Proof struct {
	// JKT is the base64url SHA-256 thumbprint of the proof's key (RFC
	// 7638): the cnf.jkt of the tokens bound to it.
	JKT string
	// Key is the proof's public key.
	Key       jose.JSONWebKey
	Algorithm string
	JTI       string
	Method    string
	URI       string
	IssuedAt  time.Time
	Nonce     string
}

// Request is what a proof must match.
type Request struct {
	// Method is the request's HTTP method (htm).
	Method string
	// URI is the request's target URI as the client addressed it (htu):
	// its query and fragment are ignored.
	URI string
	// AccessToken, when set, is the token presented with the proof at a
	// resource: the proof's ath must be its hash (§4.2, §7).
	AccessToken string
}

// ReplayCache remembers the proofs used. Use reports ErrReplayed when
// key was used before; it may forget key after until. Any other error is
// returned by Verify as it is (a store outage, say).
type ReplayCache interface {
	Use(ctx context.Context, key string, until, now time.Time) error
}

// Verifier checks DPoP proofs. Its zero value with a ReplayCache is ready;
// it is safe for concurrent use when its ReplayCache and Nonces are.
type Verifier struct {
	// Algs are the accepted algorithms; DefaultAlgs when empty. Only
	// asymmetric ones are ever accepted.
	Algs []jose.SignatureAlgorithm
	// MaxAge and Skew bound iat: now-MaxAge ≤ iat ≤ now+Skew.
	MaxAge, Skew time.Duration
	// Replay refuses a jti used before; nil checks none (for tests and
	// benchmarks of the rest: a server always sets it).
	Replay ReplayCache
	// Nonces, when set, requires the server's nonce in every proof (§8):
	// a proof without a valid one is refused with use_dpop_nonce.
	Nonces *Nonces
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Algorithms returns the algorithms v accepts, as strings for metadata.
func (v *Verifier) Algorithms() []string {
	out := make([]string, 0, len(v.algs()))
	for _, a := range v.algs() {
		out = append(out, string(a))
	}
	return out
}

func (v *Verifier) algs() []jose.SignatureAlgorithm {
	if len(v.Algs) == 0 {
		return DefaultAlgs
	}
	return v.Algs
}

func (v *Verifier) now() time.Time {
	if v.Now == nil {
		return time.Now()
	}
	return v.Now()
}

// Verify checks the DPoP header values of a request (all of them: more
// than one is refused) against req. Its errors are *Error.
func (v *Verifier) Verify(ctx context.Context, header []string, req Request) (*Proof, error) {
	switch {
	case len(header) == 0:
		return nil, refuse(ReasonMissing, "a DPoP proof is required")
	case len(header) > 1:
		return nil, refuse(ReasonMultiple, "more than one DPoP header")
	}
	p, c, err := v.parse(header[0])
	if err != nil {
		return nil, err
	}
	now := v.now()
	if err := v.checkClaims(p, c, req, now); err != nil {
		return nil, err
	}
	if v.Nonces != nil && !v.Nonces.Valid(p.Nonce) {
		return nil, &Error{Code: CodeUseNonce, Reason: ReasonNonce, Description: "the server requires its nonce in the DPoP proof", Nonce: v.Nonces.Current()}
	}
	if v.Replay != nil {
		until := p.IssuedAt.Add(v.maxAge())
		err := v.Replay.Use(ctx, replayKey(p), until, now)
		if errors.Is(err, ErrReplayed) {
			return nil, replayed()
		}
		if err != nil {
			return nil, err // the cache could not tell: not the proof's fault
		}
	}
	return p, nil
}

func (v *Verifier) maxAge() time.Duration {
	if v.MaxAge > 0 {
		return v.MaxAge
	}
	return DefaultMaxAge
}

func (v *Verifier) skew() time.Duration {
	if v.Skew > 0 {
		return v.Skew
	}
	return DefaultSkew
}

// replayKey is what the replay cache keeps of a proof: its key and jti,
// hashed so that every entry has the same small size whatever the jti.
func replayKey(p *Proof) string {
	h := sha256.Sum256([]byte(p.JKT + "\x00" + p.JTI))
	return base64.RawURLEncoding.EncodeToString(h[:18])
}

// header is the JOSE header of a proof as sent, read before go-jose parses
// it so that each refusal says what is wrong.
type header struct {
	Typ string          `json:"typ"`
	Alg string          `json:"alg"`
	JWK json.RawMessage `json:"jwk"`
}

// claims are a proof's claims (§4.2).
type claims struct {
	JTI   string       `json:"jti"`
	HTM   string       `json:"htm"`
	HTU   string       `json:"htu"`
	IAT   *json.Number `json:"iat"`
	ATH   string       `json:"ath"`
	Nonce string       `json:"nonce"`
}

// parse checks the proof's form, header, key and signature, and returns
// it with its claims unchecked.
func (v *Verifier) parse(raw string) (*Proof, *claims, error) {
	if len(raw) > maxProof {
		return nil, nil, refuse(ReasonMalformed, "the DPoP proof is too large")
	}
	if strings.Count(raw, ".") != 2 {
		return nil, nil, refuse(ReasonMalformed, "the DPoP proof is not a compact JWS")
	}
	var h header
	hb, err := base64.RawURLEncoding.DecodeString(raw[:strings.IndexByte(raw, '.')])
	if err != nil || json.Unmarshal(hb, &h) != nil {
		return nil, nil, refuse(ReasonMalformed, "the DPoP proof's header is not valid JSON")
	}
	if h.Typ != Type {
		return nil, nil, refuse(ReasonType, "the DPoP proof's typ is not dpop+jwt")
	}
	if !slices.Contains(v.algs(), jose.SignatureAlgorithm(h.Alg)) {
		return nil, nil, refuse(ReasonAlg, fmt.Sprintf("the DPoP proof's alg %q is not one of %s", h.Alg, strings.Join(v.Algorithms(), " ")))
	}
	if err := noPrivateMembers(h.JWK); err != nil {
		return nil, nil, err
	}
	jws, err := jose.ParseSignedCompact(raw, v.algs())
	if err != nil || len(jws.Signatures) != 1 {
		return nil, nil, refuse(ReasonMalformed, "the DPoP proof is not a valid JWS")
	}
	key := jws.Signatures[0].Header.JSONWebKey
	if err := publicKey(key); err != nil {
		return nil, nil, err
	}
	payload, err := jws.Verify(key.Key)
	if err != nil {
		return nil, nil, refuse(ReasonSignature, "the DPoP proof's signature does not verify with its jwk")
	}
	var c claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, nil, refuse(ReasonMalformed, "the DPoP proof's claims are not valid JSON")
	}
	tp, err := key.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, nil, refuse(ReasonKey, "the DPoP proof's jwk has no thumbprint")
	}
	p := &Proof{JKT: base64.RawURLEncoding.EncodeToString(tp), Key: *key, Algorithm: h.Alg,
		JTI: c.JTI, Method: c.HTM, URI: c.HTU, Nonce: c.Nonce}
	return p, &c, nil
}

// privateMembers are the members of a JWK that only a private or secret
// key has (RFC 7518 §6.2.2, §6.3.2, §6.4.1; RFC 8037 §2).
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// noPrivateMembers checks that the jwk header is present and names no
// private member: go-jose would refuse one too, but without saying why.
func noPrivateMembers(raw json.RawMessage) error {
	var m map[string]json.RawMessage
	if len(raw) == 0 || json.Unmarshal(raw, &m) != nil {
		return refuse(ReasonKey, "the DPoP proof has no jwk header")
	}
	for _, k := range privateMembers {
		if _, ok := m[k]; ok {
			return refuse(ReasonPrivateKey, "the DPoP proof's jwk holds a private key")
		}
	}
	return nil
}

// publicKey checks the jwk header: a valid public key, no private member
// (§4.3: a proof must not carry the private key), no small RSA key.
func publicKey(key *jose.JSONWebKey) error {
	switch {
	case key == nil || !key.Valid():
		return refuse(ReasonKey, "the DPoP proof's jwk is not a valid key")
	case !key.IsPublic():
		return refuse(ReasonPrivateKey, "the DPoP proof's jwk holds a private key")
	}
	if k, ok := key.Key.(*rsa.PublicKey); ok && k.N.BitLen() < minRSABits {
		return refuse(ReasonKey, "the DPoP proof's RSA key is shorter than 2048 bits")
	}
	return nil
}

// checkClaims checks the claims of a proof signed by its key against req
// at now.
func (v *Verifier) checkClaims(p *Proof, c *claims, req Request, now time.Time) error {
	if c.JTI == "" || c.HTM == "" || c.HTU == "" || c.IAT == nil {
		return refuse(ReasonClaims, "the DPoP proof lacks jti, htm, htu or iat")
	}
	if len(c.JTI) > maxJTI {
		return refuse(ReasonClaims, "the DPoP proof's jti is too long")
	}
	if c.HTM != req.Method {
		return refuse(ReasonMethod, "the DPoP proof's htm is not the request's method")
	}
	if !SameURI(c.HTU, req.URI) {
		return refuse(ReasonURI, "the DPoP proof's htu is not the request's URI")
	}
	iat, err := c.IAT.Float64()
	if err != nil || math.IsNaN(iat) || math.IsInf(iat, 0) || math.Abs(iat) > 1e11 {
		return refuse(ReasonClaims, "the DPoP proof's iat is not a time")
	}
	p.IssuedAt = time.Unix(int64(iat), 0)
	if p.IssuedAt.Before(now.Add(-v.maxAge())) || p.IssuedAt.After(now.Add(v.skew())) {
		return refuse(ReasonIssuedAt, "the DPoP proof's iat is outside the accepted window")
	}
	if req.AccessToken != "" {
		want := TokenHash(req.AccessToken)
		if subtle.ConstantTimeCompare([]byte(c.ATH), []byte(want)) != 1 {
			return refuse(ReasonTokenHash, "the DPoP proof's ath is not the access token's hash")
		}
	}
	return nil
}

// TokenHash is the ath of a proof sent with an access token (§4.2): the
// base64url SHA-256 of the token's ASCII.
func TokenHash(accessToken string) string {
	h := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// Thumbprint returns the JWK SHA-256 thumbprint of key (RFC 7638),
// base64url-encoded: the jkt of a token bound to it.
func Thumbprint(key jose.JSONWebKey) (string, error) {
	tp, err := key.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}
