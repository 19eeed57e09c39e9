package token

import (
	"errors"
	"strings"
	"testing"

	"github.com/tokend/tokend/internal/store"
)

// FuzzParse checks that Parse never panics and agrees with the plainly
// written reference: whatever it accepts has the length, the prefix of its
// kind, a base62 random part and the checksum.
func FuzzParse(f *testing.F) {
	for _, kind := range []store.TokenKind{store.AccessToken, store.RefreshToken} {
		tok, err := New(kind)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(tok)
		f.Add(tok[:tokenLen-1])
		f.Add(tok + "x")
		f.Add(strings.ToUpper(tok))
	}
	for _, junk := range []string{
		"",
		"tka_",
		"tkr_" + strings.Repeat("0", tokenLen-prefixLen),
		"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.sig",
		"9e2f1d3c-4b5a-4c6d-8e7f-0a1b2c3d4e5f",
		strings.Repeat("\xff", tokenLen),
	} {
		f.Add(junk)
	}
	f.Fuzz(func(t *testing.T, s string) {
		kind, ok := Parse(s)
		refKind, refOK := refValid(s)
		if ok != refOK || kind != refKind {
			t.Fatalf("Parse(%q) = %q, %v; reference says %q, %v", s, kind, ok, refKind, refOK)
		}
		if !ok {
			if kind != "" {
				t.Fatalf("Parse(%q) = %q, false; want no kind", s, kind)
			}
			return
		}
		prefix, err := prefixOf(kind)
		if err != nil || len(s) != tokenLen || !strings.HasPrefix(s, prefix) {
			t.Fatalf("Parse(%q) = %q, true; want %d bytes with the prefix of the kind", s, kind, tokenLen)
		}
		if again, ok := Parse(s); !ok || again != kind {
			t.Fatalf("Parse(%q) is not stable: %q, %v", s, again, ok)
		}
	})
}

// FuzzVerifyJWT: the JWT verifier never panics and accepts nothing but our
// own tokens, each in the one spelling it was issued in. Seeds are our
// tokens, mutilations of them and other spellings of them.
func FuzzVerifyJWT(f *testing.F) {
	j, clk := newJWTs(f, ES256)
	good, err := j.Mint(claimsAt(clk.Now()))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)-5])
	for _, other := range respellings(f, good) {
		f.Add(other)
	}
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
	f.Add("eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := j.Verify(raw)
		if err != nil {
			if !errors.Is(err, ErrNotOurs) {
				t.Fatalf("error %v is not ErrNotOurs", err)
			}
			return
		}
		if c.Issuer != j.Issuer || c.JTI == "" {
			t.Fatalf("accepted claims %+v", c)
		}
		if !canonicalRef(raw) {
			t.Fatalf("accepted %q, which is not the canonical spelling of its bytes", raw)
		}
	})
}
