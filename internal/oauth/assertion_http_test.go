package oauth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/oautherr"
	"github.com/tokend/tokend/internal/registry"
	"github.com/tokend/tokend/internal/token"
)

// TestJWTBearerBadAssertions sends the token endpoint malformed and forged
// assertions of every kind (bad encoding, alg none, HS256 keyed with the
// public key, an unpublished key, not a JWT, oversized): each is
// invalid_grant with a description, never a 500, and none gets a token.
func TestJWTBearerBadAssertions(t *testing.T) {
	h := newHarness(t, withJWT(t, token.ES256))
	key := h.trustIssuer("https://idp.example")
	pub, _ := h.client(registry.Spec{Name: "mobile", AuthMethod: registry.AuthNone, TokenFormat: registry.FormatJWT,
		GrantTypes: []string{oauth.GrantJWTBearer}})
	now := h.clock.Now()
	claims, _ := json.Marshal(map[string]any{"iss": "https://idp.example", "sub": "mike", "aud": h.srv.URL + oauth.PathToken,
		"exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(), "jti": "bad-1"})
	good := signAssertion(t, key, map[string]any{"iss": "https://idp.example", "sub": "mike", "aud": h.srv.URL + oauth.PathToken,
		"exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(), "jti": "bad-2"})
	parts := strings.Split(good, ".")
	b64 := base64.RawURLEncoding.EncodeToString

	// alg switched to HS256, keyed with the issuer's public key.
	pubDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	hsInput := b64([]byte(`{"alg":"HS256","kid":"idp-1","typ":"JWT"}`)) + "." + b64(claims)
	mac := hmac.New(sha256.New, pubDER)
	mac.Write([]byte(hsInput))
	hs256 := hsInput + "." + b64(mac.Sum(nil))

	// Signed by a key the issuer never published.
	stranger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: stranger, KeyID: "idp-unknown"}}, nil)
	jws, _ := signer.Sign(claims)
	unknownKid, _ := jws.CompactSerialize()

	cases := map[string]string{
		"truncated":             good[:len(good)/2],
		"bad base64 header":     "!!" + parts[0] + "." + parts[1] + "." + parts[2],
		"bad base64 payload":    parts[0] + ".%%%." + parts[2],
		"bad base64 signature":  parts[0] + "." + parts[1] + ".***",
		"alg none":              b64([]byte(`{"alg":"none"}`)) + "." + b64(claims) + ".",
		"HS256 with public key": hs256,
		"unknown kid":           unknownKid,
		"not a JWT":             "a0d210c7a3de7d548e03f1986e9a5c39",
		"20 KiB assertion":      parts[0] + "." + b64([]byte(strings.Repeat("x", 20<<10))) + "." + parts[2],
	}
	grant := "grant_type=" + url.QueryEscape(oauth.GrantJWTBearer) + "&client_id=" + pub + "&assertion="
	for name, a := range cases {
		t.Run(name, func(t *testing.T) {
			r := h.post(oauth.PathToken, grant+url.QueryEscape(a))
			checkOAuthError(t, r, http.StatusBadRequest, oautherr.CodeInvalidGrant)
			if d, _ := r.json(t)["error_description"].(string); d == "" {
				t.Error("no error_description")
			}
		})
	}
	// The untouched assertion works: the refusals above were for cause.
	if r := h.post(oauth.PathToken, grant+good); r.status != http.StatusOK {
		t.Fatalf("the well-formed assertion: %d %s", r.status, r.body)
	}
}
