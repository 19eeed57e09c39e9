package token

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newJWTs(t testing.TB, alg string) (*JWTs, *testClock) {
	t.Helper()
	clk := &testClock{now: time.Now().Truncate(time.Second)}
	ring, err := OpenKeyring(filepath.Join(t.TempDir(), "keys"), alg, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	return &JWTs{Keys: ring, Issuer: "https://localhost:9443"}, clk
}

func claimsAt(now time.Time) AccessClaims {
	return AccessClaims{
		Subject: "user-1", Audience: Audience{"client-1"}, ClientID: "client-1", Scope: "read",
		IssuedAt: now.Unix(), ExpiresAt: now.Add(time.Hour).Unix(), JTI: "jti-1",
		Status: &Status{StatusList: StatusListRef{Index: 7, URI: "https://localhost:9443/oauth2/statuslists/0"}},
	}
}

func TestMintVerifyEachAlg(t *testing.T) {
	for _, alg := range SupportedAlgs {
		t.Run(alg, func(t *testing.T) {
			j, clk := newJWTs(t, alg)
			want := claimsAt(clk.Now())
			raw, err := j.Mint(want)
			if err != nil {
				t.Fatal(err)
			}
			want.Issuer = j.Issuer
			got, err := j.Verify(raw)
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if gb, wb := mustJSON(t, got), mustJSON(t, want); gb != wb {
				t.Errorf("claims %s; want %s", gb, wb)
			}
			// The header is RFC 9068's, with real thumbprints.
			jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
			if err != nil {
				t.Fatal(err)
			}
			h := jws.Signatures[0].Header
			key := j.Keys.Active()
			s1, s256 := sha1Of(key.Cert.Raw), sha256.Sum256(key.Cert.Raw)
			if h.ExtraHeaders["typ"] != "at+jwt" || h.KeyID != key.ID || h.Algorithm != alg ||
				h.ExtraHeaders["x5t"] != base64.RawURLEncoding.EncodeToString(s1) ||
				h.ExtraHeaders["x5t#S256"] != base64.RawURLEncoding.EncodeToString(s256[:]) {
				t.Errorf("header %+v", h)
			}
		})
	}
}

func sha1Of(b []byte) []byte {
	h := crypto.SHA1.New()
	h.Write(b)
	return h.Sum(nil)
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// segment base64url-encodes v as a JWS segment.
func segment(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestVerifyRefusesBadTokens(t *testing.T) {
	j, clk := newJWTs(t, RS256)
	good, err := j.Mint(claimsAt(clk.Now()))
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	key := j.Keys.Active()
	pubDER, _ := x509.MarshalPKIXPublicKey(key.Private.Public())
	claims := claimsAt(clk.Now())
	claims.Issuer = j.Issuer

	// alg switched to HS256 with the public key as the HMAC secret.
	hsHeader := segment(map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": key.ID})
	mac := hmac.New(sha256.New, pubDER)
	mac.Write([]byte(hsHeader + "." + parts[1]))
	hs256 := hsHeader + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))

	// Signed by a key of the same kind that is not ours.
	other, _ := newJWTs(t, RS256)
	other.Issuer = j.Issuer
	foreign, _ := other.Mint(claimsAt(clk.Now()))

	// Ours in every respect but the issuer.
	wrongIss := &JWTs{Keys: j.Keys, Issuer: "https://evil.example"}
	notOurIssuer, _ := wrongIss.Mint(claimsAt(clk.Now()))

	// Right key, wrong typ (an ID token or an assertion, say).
	plain, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key.Private}, (&jose.SignerOptions{}).WithHeader("kid", key.ID).WithType("JWT"))
	sig, _ := plain.Sign([]byte(mustJSON(t, claims)))
	wrongTyp, _ := sig.CompactSerialize()

	unknownKid := segment(map[string]any{"alg": "RS256", "typ": "at+jwt", "kid": "nope"}) + "." + parts[1] + "." + parts[2]

	cases := map[string]string{
		"truncated":          good[:len(good)/2],
		"two parts":          parts[0] + "." + parts[1],
		"bad base64 header":  "eyJ!!!" + "." + parts[1] + "." + parts[2],
		"bad base64 payload": parts[0] + ".%%%." + parts[2],
		"bad base64 sig":     parts[0] + "." + parts[1] + ".***",
		"payload swapped":    parts[0] + "." + segment(map[string]any{"sub": "admin", "iss": j.Issuer, "jti": "x"}) + "." + parts[2],
		"alg none":           segment(map[string]any{"alg": "none", "typ": "at+jwt", "kid": key.ID}) + "." + parts[1] + ".",
		"HS256 public key":   hs256,
		"unknown kid":        unknownKid,
		"foreign key":        foreign,
		"other issuer":       notOurIssuer,
		"wrong typ":          wrongTyp,
		"1 MiB":              "eyJ" + strings.Repeat("A", 1<<20) + ".a.b",
		"empty":              "",
		"opaque":             "tka_abc",
		"bogus JWT":          "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln",
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := j.Verify(raw); !errors.Is(err, ErrNotOurs) {
				t.Errorf("Verify = %v; want ErrNotOurs", err)
			}
		})
	}
}

func TestKeyringFilesAndReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	ring, err := OpenKeyring(dir, ES256, nil)
	if err != nil {
		t.Fatal(err)
	}
	kid := ring.Active().ID
	fi, err := os.Stat(filepath.Join(dir, kid+".key.pem"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("private key file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	again, err := OpenKeyring(dir, ES256, nil)
	if err != nil || again.Active().ID != kid {
		t.Fatalf("reopen: %v, active %s; want the same key %s", err, again.Active().ID, kid)
	}
	// Opening with another algorithm changes nothing (the CLI's `keys
	// list` must not rotate); EnsureActive rotates to that algorithm.
	rsa, err := OpenKeyring(dir, RS256, nil)
	if err != nil || rsa.Active().ID != kid {
		t.Fatalf("open with another alg: %v; active %+v; want %s untouched", err, rsa.Active(), kid)
	}
	if err := rsa.EnsureActive(ES256); err != nil || rsa.Active().ID != kid {
		t.Fatalf("EnsureActive of the same alg rotated: %v", err)
	}
	if err := rsa.EnsureActive(RS256); err != nil || rsa.Active().Alg != RS256 || rsa.Active().ID == kid {
		t.Fatalf("alg change: %v; active %+v", err, rsa.Active())
	}
	if len(rsa.Keys()) != 2 || rsa.Keys()[1].RetiredAt.IsZero() {
		t.Errorf("old key not kept as retired: %+v", rsa.Keys())
	}
}

func TestRotationKeepsOldKeyUntilItsTokensExpire(t *testing.T) {
	j, clk := newJWTs(t, ES256)
	before, err := j.Mint(claimsAt(clk.Now()))
	if err != nil {
		t.Fatal(err)
	}
	oldKid := j.Keys.Active().ID
	if _, err := j.Keys.Rotate(EdDSA); err != nil {
		t.Fatal(err)
	}
	after, err := j.Mint(claimsAt(clk.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Verify(before); err != nil {
		t.Errorf("token signed before the rotation no longer verifies: %v", err)
	}
	if _, err := j.Verify(after); err != nil {
		t.Errorf("token signed after the rotation: %v", err)
	}
	if n := len(j.Keys.JWKS().Keys); n != 2 {
		t.Errorf("JWKS has %d keys; want 2 while old tokens live", n)
	}
	// Past the old tokens' expiry (plus the recording margin), the old key
	// drops out of the JWKS.
	clk.Advance(time.Hour + expiryMargin + time.Second)
	set := j.Keys.JWKS()
	for _, k := range set.Keys {
		if k.KeyID == oldKid {
			t.Errorf("retired key still published after its last token expired")
		}
	}
	if len(set.Keys) != 1 {
		t.Errorf("JWKS has %d keys; want 1", len(set.Keys))
	}
}

func TestRotationSeenByAnotherProcess(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	clk := &testClock{now: time.Now()}
	server, err := OpenKeyring(dir, RS256, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := OpenKeyring(dir, RS256, nil) // as `tokend keys rotate` would
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := cli.Rotate(ES256)
	if err != nil {
		t.Fatal(err)
	}
	// Make sure the modification time differs even on coarse clocks.
	future := time.Now().Add(2 * time.Second)
	_ = os.Chtimes(filepath.Join(dir, "keys.json"), future, future)
	clk.Advance(reloadEvery)
	if got := server.Active().ID; got != rotated.ID {
		t.Errorf("server's active key %s; want the rotated %s", got, rotated.ID)
	}
}

// BenchmarkRawSign is the ceiling: the bare key signing the same input a
// real token's signature covers (header.payload of a minted token).
func BenchmarkRawSign(b *testing.B) {
	for _, alg := range SupportedAlgs {
		b.Run(alg, func(b *testing.B) {
			j, clk := newJWTs(b, alg)
			key := j.Keys.Active().Private
			minted, err := j.Mint(claimsAt(clk.Now()))
			if err != nil {
				b.Fatal(err)
			}
			msg := []byte(minted[:strings.LastIndexByte(minted, '.')])
			for b.Loop() {
				var err error
				if alg == EdDSA {
					_, err = key.Sign(rand.Reader, msg, crypto.Hash(0))
				} else {
					d := sha256.Sum256(msg)
					_, err = key.Sign(rand.Reader, d[:], crypto.SHA256)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMint is JWT access token minting: claims, header, signature.
func BenchmarkMint(b *testing.B) {
	for _, alg := range SupportedAlgs {
		b.Run(alg, func(b *testing.B) {
			j, clk := newJWTs(b, alg)
			c := claimsAt(clk.Now())
			for b.Loop() {
				if _, err := j.Mint(c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerify is what revocation and introspection of a JWT pay
// before any store access.
func BenchmarkVerify(b *testing.B) {
	for _, alg := range SupportedAlgs {
		b.Run(alg, func(b *testing.B) {
			j, clk := newJWTs(b, alg)
			raw, _ := j.Mint(claimsAt(clk.Now()))
			for b.Loop() {
				if _, err := j.Verify(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestAppendJSONMatchesEncodingJSON holds the hand-written claims encoder
// to encoding/json's output, for awkward strings too.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	strs := []string{"", "plain", `q"uote\back`, "ctl\x00\x01\x1f\n\r\t", "<html>&", "ünï€😀", "bad\xffutf8", "line\u2028sep\u2029"}
	for _, s := range strs {
		for _, status := range []*Status{nil, {StatusList: StatusListRef{Index: 42, URI: s}}} {
			c := AccessClaims{Issuer: s, Subject: s, Audience: Audience{s}, ClientID: s, Scope: s, Username: s,
				IssuedAt: 1, NotBefore: 0, ExpiresAt: 1 << 40, JTI: s, Status: status}
			if status != nil {
				c.Confirmation = &Confirmation{JKT: s} // a DPoP-bound token's cnf
			}
			want, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.appendJSON(nil); string(got) != string(want) {
				t.Errorf("appendJSON(%q)\n got %s\nwant %s", s, got, want)
			}
		}
	}
	multi := AccessClaims{Audience: Audience{"a", "b"}, NotBefore: 5, Act: json.RawMessage(`{"sub": "svc", "act": {"sub": "<gw>"}}`)}
	want, _ := json.Marshal(multi)
	if got := multi.appendJSON(nil); string(got) != string(want) {
		t.Errorf("got %s; want %s", got, want)
	}
}
