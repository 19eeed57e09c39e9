package assertion

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokend/tokend/internal/store"
)

// fakeIssuers is an in-memory store.Issuers.
type fakeIssuers struct {
	mu      sync.Mutex
	issuers map[string]store.Issuer
	jtis    map[string]time.Time
}

func newFakeIssuers(iss ...store.Issuer) *fakeIssuers {
	f := &fakeIssuers{issuers: map[string]store.Issuer{}, jtis: map[string]time.Time{}}
	for _, i := range iss {
		f.issuers[i.Issuer] = i
	}
	return f
}

func (f *fakeIssuers) CreateIssuer(_ context.Context, iss store.Issuer) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.issuers[iss.Issuer] = iss
	return nil
}

func (f *fakeIssuers) GetIssuer(_ context.Context, iss string) (store.Issuer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i, ok := f.issuers[iss]
	if !ok {
		return store.Issuer{}, store.ErrNotFound
	}
	return i, nil
}

func (f *fakeIssuers) ListIssuers(context.Context) ([]store.Issuer, error) { return nil, nil }
func (f *fakeIssuers) DeleteIssuer(context.Context, string) error          { return nil }

func (f *fakeIssuers) UseJTI(_ context.Context, issuer, jti string, exp, now time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := issuer + "\x00" + jti
	if until, ok := f.jtis[k]; ok && now.Before(until) {
		return store.ErrAlreadyExists
	}
	f.jtis[k] = exp
	return nil
}

const (
	testIssuer = "https://idp.example"
	tokenURL   = "https://localhost:9443/oauth2/token"
)

type issuerKey struct {
	priv any
	kid  string
	alg  jose.SignatureAlgorithm
}

func newECKey(t *testing.T, kid string) issuerKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return issuerKey{priv: k, kid: kid, alg: jose.ES256}
}

func (k issuerKey) jwks(t *testing.T) []byte {
	pub := jose.JSONWebKey{Key: k.priv.(crypto.Signer).Public(), KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"}
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{pub}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (k issuerKey) sign(t *testing.T, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.kid}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(claims)
	jws, err := s.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

func validClaims(now time.Time, jti string) map[string]any {
	return map[string]any{
		"iss": testIssuer, "sub": "alice", "aud": tokenURL,
		"exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(), "nbf": now.Unix(), "jti": jti,
	}
}

func seg(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestVerify(t *testing.T) {
	now := time.Now()
	key := newECKey(t, "k1")
	iss := store.Issuer{Issuer: testIssuer, JWKS: key.jwks(t)}
	v := &Verifier{Issuers: newFakeIssuers(iss), Audiences: []string{tokenURL, "https://localhost:9443"}, Now: func() time.Time { return now }}

	good := key.sign(t, validClaims(now, "j-ok"))
	a, err := v.Verify(t.Context(), good)
	if err != nil {
		t.Fatalf("valid assertion refused: %v", err)
	}
	if a.Subject != "alice" || a.Issuer != testIssuer || a.JTI != "j-ok" {
		t.Errorf("assertion %+v", a)
	}
	if got, want := a.GrantSubject(), "alice@"+testIssuer; got != want {
		t.Errorf("GrantSubject() = %q; want %q", got, want)
	}

	with := func(jti string, change func(map[string]any)) string {
		c := validClaims(now, jti)
		change(c)
		return key.sign(t, c)
	}
	parts := strings.Split(key.sign(t, validClaims(now, "j-parts")), ".")
	pubDER, _ := x509.MarshalPKIXPublicKey(&key.priv.(*ecdsa.PrivateKey).PublicKey)
	hsHeader := seg(map[string]any{"alg": "HS256", "kid": "k1"})
	mac := hmac.New(sha256.New, pubDER)
	mac.Write([]byte(hsHeader + "." + parts[1]))
	other := newECKey(t, "k1") // same kid, other key: a forgery

	cases := []struct {
		name, raw, reason string
	}{
		{"replayed jti", good, "used already"},
		{"expired", with("j1", func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() }), "expired"},
		{"no exp", with("j2", func(c map[string]any) { delete(c, "exp") }), "no exp"},
		{"other audience", with("j3", func(c map[string]any) { c["aud"] = "https://other.example/token" }), "audience"},
		{"audience array without us", with("j4", func(c map[string]any) { c["aud"] = []string{"a", "b"} }), "audience"},
		{"not yet valid", with("j5", func(c map[string]any) { c["nbf"] = now.Add(time.Hour).Unix() }), "not yet valid"},
		{"issued in the future", with("j6", func(c map[string]any) { c["iat"] = now.Add(time.Hour).Unix() }), "future"},
		{"no jti", with("", func(c map[string]any) { delete(c, "jti") }), "no jti"},
		{"no subject", with("j7", func(c map[string]any) { delete(c, "sub") }), "no sub"},
		{"lifetime too long", with("j8", func(c map[string]any) { c["exp"] = now.Add(48 * time.Hour).Unix() }), "lifetime"},
		{"untrusted issuer", with("j9", func(c map[string]any) { c["iss"] = "https://evil.example" }), "not trusted"},
		{"no issuer", with("j10", func(c map[string]any) { delete(c, "iss") }), "no iss"},
		{"forged signature", other.sign(t, validClaims(now, "j11")), "signature is invalid"},
		{"unknown kid", issuerKey{priv: other.priv, kid: "k9", alg: jose.ES256}.sign(t, validClaims(now, "j12")), "no key"},
		{"alg none", seg(map[string]any{"alg": "none"}) + "." + parts[1] + ".", "not accepted"},
		{"HS256 with the public key", hsHeader + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil)), "not accepted"},
		{"truncated", good[:len(good)-20], "invalid"},
		{"bad base64 header", "e!!!." + parts[1] + "." + parts[2], "malformed"},
		{"bad base64 payload", parts[0] + ".%%%." + parts[2], "malformed"},
		{"bad base64 signature", parts[0] + "." + parts[1] + ".***", "malformed"},
		{"two parts", parts[0] + "." + parts[1], "not a compact JWS"},
		{"1 MiB", strings.Repeat("a", 1<<20), "larger than"},
		{"payload not an object", key.signRaw(t, []byte(`[1,2]`)), "not a JSON object"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := v.Verify(t.Context(), c.raw)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err %v; want an *Error", err)
			}
			if !strings.Contains(e.Reason, c.reason) {
				t.Errorf("reason %q; want it to mention %q", e.Reason, c.reason)
			}
		})
	}
}

func (k issuerKey) signRaw(t *testing.T, payload []byte) string {
	s, _ := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.kid}}, nil)
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

func TestSubjectClaimAndRSA(t *testing.T) {
	now := time.Now()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	key := issuerKey{priv: rk, kid: "r1", alg: jose.RS256}
	iss := store.Issuer{Issuer: testIssuer, JWKS: key.jwks(t), SubjectClaim: "email"}
	v := &Verifier{Issuers: newFakeIssuers(iss), Audiences: []string{tokenURL}, Now: func() time.Time { return now }}
	c := validClaims(now, "r-1")
	c["email"] = "alice@example.com"
	a, err := v.Verify(t.Context(), key.sign(t, c))
	if err != nil || a.Subject != "alice@example.com" {
		t.Fatalf("got %+v, %v; want subject from the email claim", a, err)
	}
}

func TestJWKSURIRefetchOnUnknownKid(t *testing.T) {
	now := time.Now()
	k1, k2 := newECKey(t, "k1"), newECKey(t, "k2")
	var current atomic.Value
	current.Store(k1.jwks(t))
	var fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		w.Write(current.Load().([]byte))
	}))
	defer srv.Close()
	iss := store.Issuer{Issuer: testIssuer, JWKSURI: srv.URL}
	v := &Verifier{Issuers: newFakeIssuers(iss), Audiences: []string{tokenURL}, Now: func() time.Time { return now },
		Keys: &KeySource{MinRefresh: time.Nanosecond}}
	if _, err := v.Verify(t.Context(), k1.sign(t, validClaims(now, "u1"))); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(t.Context(), k1.sign(t, validClaims(now, "u2"))); err != nil {
		t.Fatal(err)
	}
	if n := fetches.Load(); n != 1 {
		t.Errorf("%d fetches for a known kid; want 1 (cached)", n)
	}
	current.Store(k2.jwks(t)) // the issuer rolls its key
	if _, err := v.Verify(t.Context(), k2.sign(t, validClaims(now, "u3"))); err != nil {
		t.Fatalf("assertion under the issuer's new key: %v", err)
	}
	if n := fetches.Load(); n != 2 {
		t.Errorf("%d fetches; want a refetch on the unknown kid", n)
	}
}

func TestParseJWKSRefusesSecrets(t *testing.T) {
	for name, doc := range map[string]string{
		"symmetric": `{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"h"}]}`,
		"empty":     `{"keys":[]}`,
		"not json":  `{`,
	} {
		if _, err := ParseJWKS([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	priv := newECKey(t, "p")
	b, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: priv.priv, KeyID: "p"}}})
	if _, err := ParseJWKS(b); err == nil {
		t.Error("a JWK Set with a private key was accepted")
	}
}
