package dpop

import (
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Signer makes proofs with one key: a client's side of DPoP. Tokens
// issued with its proofs are bound to JKT.
type Signer struct {
	signer jose.Signer
	// JKT is the thumbprint of the key (RFC 7638).
	JKT string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// NewSigner returns a Signer for the private key (an *ecdsa.PrivateKey,
// *rsa.PrivateKey or ed25519.PrivateKey) with alg.
func NewSigner(key crypto.Signer, alg jose.SignatureAlgorithm) (*Signer, error) {
	pub := jose.JSONWebKey{Key: key.Public()}
	jkt, err := Thumbprint(pub)
	if err != nil {
		return nil, fmt.Errorf("dpop: thumbprint: %w", err)
	}
	opts := (&jose.SignerOptions{EmbedJWK: true}).WithType(Type)
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		return nil, fmt.Errorf("dpop: signer: %w", err)
	}
	return &Signer{signer: s, JKT: jkt}, nil
}

// ProofClaims are the claims of one proof beyond jti and iat, which Proof
// fills in.
type ProofClaims struct {
	Method string `json:"htm"`
	URI    string `json:"htu"`
	// AccessToken, when set, puts its hash in ath (a resource request).
	AccessToken string `json:"-"`
	Nonce       string `json:"nonce,omitempty"`
}

// Proof returns a new proof for one request: a fresh jti, iat now.
func (s *Signer) Proof(c ProofClaims) (string, error) {
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", err
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	body := struct {
		JTI string `json:"jti"`
		ProofClaims
		IAT int64  `json:"iat"`
		ATH string `json:"ath,omitempty"`
	}{JTI: base64.RawURLEncoding.EncodeToString(jti[:]), ProofClaims: c, IAT: now().Unix()}
	if c.AccessToken != "" {
		body.ATH = TokenHash(c.AccessToken)
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return "", err
	}
	jws, err := s.signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}
