package dpop_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokend/tokend/dpop"
)

const htu = "https://as.example.com/oauth2/token"

var t0 = time.Unix(1_800_000_000, 0)

func clock() time.Time { return t0 }

func ecKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func signer(t testing.TB, key crypto.Signer, alg jose.SignatureAlgorithm) *dpop.Signer {
	t.Helper()
	s, err := dpop.NewSigner(key, alg)
	if err != nil {
		t.Fatal(err)
	}
	s.Now = clock
	return s
}

func proof(t testing.TB, s *dpop.Signer, c dpop.ProofClaims) string {
	t.Helper()
	p, err := s.Proof(c)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func verifier() *dpop.Verifier {
	return &dpop.Verifier{Replay: dpop.NewMemory(0), Now: clock}
}

// forge signs header and claims as given with key, for proofs a Signer
// would never make.
func forge(t *testing.T, alg jose.SignatureAlgorithm, key any, hdr map[string]any, claims map[string]any) string {
	t.Helper()
	hb, _ := json.Marshal(hdr)
	cb, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(cb)
	var sig []byte
	switch k := key.(type) {
	case []byte:
		m := hmac.New(sha256.New, k)
		m.Write([]byte(input))
		sig = m.Sum(nil)
	case *ecdsa.PrivateKey:
		d := sha256.Sum256([]byte(input))
		r, s, err := ecdsa.Sign(rand.Reader, k, d[:])
		if err != nil {
			t.Fatal(err)
		}
		sig = append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	default:
		t.Fatalf("forge: key %T", key)
	}
	_ = alg
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func publicJWK(t *testing.T, k *ecdsa.PrivateKey) map[string]any {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKey{Key: k.Public()})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

func goodClaims() map[string]any {
	return map[string]any{"jti": "j1", "htm": "POST", "htu": htu, "iat": t0.Unix()}
}

func TestAcceptsAProofOfEachKeyType(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	for _, c := range []struct {
		key crypto.Signer
		alg jose.SignatureAlgorithm
	}{{ecKey(t), jose.ES256}, {rsaKey, jose.RS256}, {rsaKey, jose.PS256}, {edKey, jose.EdDSA}} {
		s := signer(t, c.key, c.alg)
		p, err := verifier().Verify(context.Background(), []string{proof(t, s, dpop.ProofClaims{Method: "POST", URI: htu})}, dpop.Request{Method: "POST", URI: htu})
		if err != nil {
			t.Fatalf("%s: %v", c.alg, err)
		}
		if p.JKT != s.JKT || p.JKT == "" {
			t.Errorf("%s: jkt %q, want %q", c.alg, p.JKT, s.JKT)
		}
	}
}

// TestThumbprintOfRFC7638 checks the jkt against RFC 7638 §3.1's example.
func TestThumbprintOfRFC7638(t *testing.T) {
	const k = `{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}`
	var key jose.JSONWebKey
	if err := key.UnmarshalJSON([]byte(k)); err != nil {
		t.Fatal(err)
	}
	got, err := dpop.Thumbprint(key)
	if err != nil || got != "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs" {
		t.Fatalf("thumbprint %q, %v", got, err)
	}
}

func TestRefusals(t *testing.T) {
	key := ecKey(t)
	s := signer(t, key, jose.ES256)
	good := func(c dpop.ProofClaims) []string { return []string{proof(t, s, c)} }
	req := dpop.Request{Method: "POST", URI: htu}
	hdr := func(mod func(map[string]any)) map[string]any {
		h := map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": publicJWK(t, key)}
		mod(h)
		return h
	}
	private := publicJWK(t, key)
	private["d"] = base64.RawURLEncoding.EncodeToString(key.D.FillBytes(make([]byte, 32)))
	old := signer(t, key, jose.ES256)
	old.Now = func() time.Time { return t0.Add(-dpop.DefaultMaxAge - time.Second) }
	future := signer(t, key, jose.ES256)
	future.Now = func() time.Time { return t0.Add(dpop.DefaultSkew + time.Second) }
	cases := []struct {
		name   string
		header []string
		req    dpop.Request
		want   dpop.Reason
	}{
		{"no header", nil, req, dpop.ReasonMissing},
		{"two headers", append(good(dpop.ProofClaims{Method: "POST", URI: htu}), "x"), req, dpop.ReasonMultiple},
		{"not a JWS", []string{"abc"}, req, dpop.ReasonMalformed},
		{"JWS JSON", []string{`{"payload":"e30","signatures":[]}`}, req, dpop.ReasonMalformed},
		{"typ JWT", []string{forge(t, jose.ES256, key, hdr(func(h map[string]any) { h["typ"] = "JWT" }), goodClaims())}, req, dpop.ReasonType},
		{"alg none", []string{forge(t, jose.ES256, key, hdr(func(h map[string]any) { h["alg"] = "none" }), goodClaims())}, req, dpop.ReasonAlg},
		{"alg HS256", []string{forge(t, jose.HS256, []byte("0123456789abcdef0123456789abcdef"), hdr(func(h map[string]any) {
			h["alg"] = "HS256"
			h["jwk"] = map[string]any{"kty": "oct", "k": base64.RawURLEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))}
		}), goodClaims())}, req, dpop.ReasonAlg},
		{"no jwk", []string{forge(t, jose.ES256, key, hdr(func(h map[string]any) { delete(h, "jwk") }), goodClaims())}, req, dpop.ReasonKey},
		{"private jwk", []string{forge(t, jose.ES256, key, hdr(func(h map[string]any) { h["jwk"] = private }), goodClaims())}, req, dpop.ReasonPrivateKey},
		{"another key's signature", []string{forge(t, jose.ES256, ecKey(t), hdr(func(map[string]any) {}), goodClaims())}, req, dpop.ReasonSignature},
		{"no jti", []string{forge(t, jose.ES256, key, hdr(func(map[string]any) {}), map[string]any{"htm": "POST", "htu": htu, "iat": t0.Unix()})}, req, dpop.ReasonClaims},
		{"iat a string", []string{forge(t, jose.ES256, key, hdr(func(map[string]any) {}), map[string]any{"jti": "j", "htm": "POST", "htu": htu, "iat": "now"})}, req, dpop.ReasonMalformed},
		{"wrong htm", good(dpop.ProofClaims{Method: "GET", URI: htu}), req, dpop.ReasonMethod},
		{"wrong htu", good(dpop.ProofClaims{Method: "POST", URI: "https://as.example.com/oauth2/revoke"}), req, dpop.ReasonURI},
		{"htu of another host", good(dpop.ProofClaims{Method: "POST", URI: "https://evil.example.com/oauth2/token"}), req, dpop.ReasonURI},
		{"old iat", []string{proof(t, old, dpop.ProofClaims{Method: "POST", URI: htu})}, req, dpop.ReasonIssuedAt},
		{"future iat", []string{proof(t, future, dpop.ProofClaims{Method: "POST", URI: htu})}, req, dpop.ReasonIssuedAt},
		{"no ath", good(dpop.ProofClaims{Method: "GET", URI: htu}), dpop.Request{Method: "GET", URI: htu, AccessToken: "tok"}, dpop.ReasonTokenHash},
		{"ath of another token", good(dpop.ProofClaims{Method: "GET", URI: htu, AccessToken: "other"}), dpop.Request{Method: "GET", URI: htu, AccessToken: "tok"}, dpop.ReasonTokenHash},
	}
	for _, c := range cases {
		_, err := verifier().Verify(context.Background(), c.header, c.req)
		var e *dpop.Error
		if !errors.As(err, &e) {
			t.Errorf("%s: %v, want a refusal", c.name, err)
			continue
		}
		if e.Reason != c.want || e.Code != dpop.CodeInvalidProof {
			t.Errorf("%s: %s %s (%s), want %s", c.name, e.Code, e.Reason, e.Description, c.want)
		}
	}
}

func TestSmallRSAKeyRefused(t *testing.T) {
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	s := signer(t, k, jose.RS256)
	_, err = verifier().Verify(context.Background(), []string{proof(t, s, dpop.ProofClaims{Method: "POST", URI: htu})}, dpop.Request{Method: "POST", URI: htu})
	var e *dpop.Error
	if !errors.As(err, &e) || e.Reason != dpop.ReasonKey {
		t.Fatalf("a 1024-bit RSA key: %v", err)
	}
}

func TestReplayRefused(t *testing.T) {
	s := signer(t, ecKey(t), jose.ES256)
	v := verifier()
	p := []string{proof(t, s, dpop.ProofClaims{Method: "POST", URI: htu})}
	req := dpop.Request{Method: "POST", URI: htu}
	if _, err := v.Verify(context.Background(), p, req); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), p, req); !errors.Is(err, dpop.ErrReplayed) {
		t.Fatalf("the same proof again: %v, want replayed", err)
	}
	// A refused proof does not use up its jti: the right request with a
	// fresh proof passes after a wrong one.
	q := []string{proof(t, s, dpop.ProofClaims{Method: "POST", URI: htu})}
	if _, err := v.Verify(context.Background(), q, dpop.Request{Method: "GET", URI: htu}); err == nil {
		t.Fatal("wrong method accepted")
	}
	if _, err := v.Verify(context.Background(), q, req); err != nil {
		t.Fatalf("after a refusal: %v", err)
	}
}

func TestNonces(t *testing.T) {
	now := t0
	n := dpop.NewNonces([]byte("k"), time.Minute, func() time.Time { return now })
	v := verifier()
	v.Nonces = n
	v.Now = func() time.Time { return now }
	s := signer(t, ecKey(t), jose.ES256)
	s.Now = func() time.Time { return now }
	req := dpop.Request{Method: "POST", URI: htu}
	_, err := v.Verify(context.Background(), []string{proof(t, s, dpop.ProofClaims{Method: "POST", URI: htu})}, req)
	var e *dpop.Error
	if !errors.As(err, &e) || e.Code != dpop.CodeUseNonce || e.Nonce == "" {
		t.Fatalf("without a nonce: %v, want use_dpop_nonce with one", err)
	}
	nonce := e.Nonce
	if _, err := v.Verify(context.Background(), []string{proof(t, s, dpop.ProofClaims{Method: "POST", URI: htu, Nonce: nonce})}, req); err != nil {
		t.Fatalf("with the nonce: %v", err)
	}
	now = now.Add(time.Minute) // the next period: still accepted
	if _, err := v.Verify(context.Background(), []string{proof(t, s, dpop.ProofClaims{Method: "POST", URI: htu, Nonce: nonce})}, req); err != nil {
		t.Fatalf("a period later: %v", err)
	}
	now = now.Add(time.Minute)
	_, err = v.Verify(context.Background(), []string{proof(t, s, dpop.ProofClaims{Method: "POST", URI: htu, Nonce: nonce})}, req)
	if !errors.As(err, &e) || e.Code != dpop.CodeUseNonce || e.Nonce == nonce {
		t.Fatalf("two periods later: %v, want use_dpop_nonce with a new nonce", err)
	}
	other := dpop.NewNonces([]byte("another key"), time.Minute, func() time.Time { return now })
	if other.Valid(n.Current()) || !n.Valid(n.Current()) {
		t.Fatal("a nonce is valid only under its key")
	}
}

func TestSameURI(t *testing.T) {
	same := [][2]string{
		{"https://as.example.com/oauth2/token", "https://as.example.com/oauth2/token?x=1#f"},
		{"HTTPS://AS.Example.COM/oauth2/token", "https://as.example.com/oauth2/token"},
		{"https://as.example.com:443/oauth2/token", "https://as.example.com/oauth2/token"},
		{"http://as.example.com:80/t", "http://as.example.com/t"},
		{"https://as.example.com", "https://as.example.com/"},
		{"https://as.example.com/%7Euser", "https://as.example.com/~user"},
		{"https://[::1]:443/t", "https://[::1]/t"},
	}
	for _, c := range same {
		if !dpop.SameURI(c[0], c[1]) {
			t.Errorf("%s and %s differ", c[0], c[1])
		}
	}
	differ := [][2]string{
		{"https://as.example.com/oauth2/token", "http://as.example.com/oauth2/token"},
		{"https://as.example.com:8443/oauth2/token", "https://as.example.com/oauth2/token"},
		{"https://as.example.com/oauth2/Token", "https://as.example.com/oauth2/token"},
		{"/oauth2/token", "/oauth2/token"},
		{"urn:x:y", "urn:x:y"},
	}
	for _, c := range differ {
		if dpop.SameURI(c[0], c[1]) {
			t.Errorf("%s and %s match", c[0], c[1])
		}
	}
}

func TestMemoryIsBoundedAndNeverLetsAReplayThrough(t *testing.T) {
	m := dpop.NewMemory(3)
	ctx := context.Background()
	use := func(key string, end time.Duration) error { return m.Use(ctx, key, t0.Add(end), t0) }
	for i, k := range []string{"a", "b", "c"} {
		if err := use(k, time.Duration(i+1)*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if err := use("d", 4*time.Second); err != nil { // evicts a, the first to end
		t.Fatal(err)
	}
	if m.Len() != 3 {
		t.Fatalf("%d held, want 3", m.Len())
	}
	if err := use("a", time.Second); !errors.Is(err, dpop.ErrReplayed) {
		t.Fatalf("a, evicted, presented again: %v", err)
	}
	if err := use("e", time.Second+time.Millisecond); !errors.Is(err, dpop.ErrReplayed) {
		t.Fatalf("a proof ending before all held, with the cache full: %v", err)
	}
	if err := use("b", 2*time.Second); !errors.Is(err, dpop.ErrReplayed) {
		t.Fatalf("b again: %v", err)
	}
	// Once their windows end, proofs are dropped and room is made.
	if err := m.Use(ctx, "f", t0.Add(time.Minute), t0.Add(5*time.Second)); err != nil || m.Len() != 1 {
		t.Fatalf("after the windows ended: %v, %d held", err, m.Len())
	}
}

func TestAlgorithmsAreAsymmetric(t *testing.T) {
	for _, a := range (&dpop.Verifier{}).Algorithms() {
		if strings.HasPrefix(a, "HS") || a == "none" {
			t.Errorf("%s published", a)
		}
	}
}
