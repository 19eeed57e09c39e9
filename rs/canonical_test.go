package rs

import (
	"encoding/base64"
	"strings"
	"testing"
)

// canonicalRef is the plainly written reference for CanonicalCompact:
// each segment decodes and encodes back to itself.
func canonicalRef(s string) bool {
	for seg := range strings.SplitSeq(s, ".") {
		b, err := base64.RawURLEncoding.DecodeString(seg)
		if err != nil || base64.RawURLEncoding.EncodeToString(b) != seg {
			return false
		}
	}
	return true
}

// respell returns tok with the last character of segment i changed so
// that base64.RawURLEncoding, which go-jose decodes with, reads the same
// bytes: one of the bits that encode no byte is set. ok is false when the
// segment has no such bits.
func respell(t *testing.T, tok string, i int) (string, bool) {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	parts := strings.Split(tok, ".")
	seg := parts[i]
	last := strings.IndexByte(alphabet, seg[len(seg)-1])
	switch len(seg) % 4 {
	case 2:
		last |= 0x08
	case 3:
		last |= 0x02
	default:
		return "", false
	}
	parts[i] = seg[:len(seg)-1] + string(alphabet[last])
	a, errA := base64.RawURLEncoding.DecodeString(seg)
	b, errB := base64.RawURLEncoding.DecodeString(parts[i])
	if errA != nil || errB != nil || string(a) != string(b) || parts[i] == seg {
		t.Fatalf("respelling %q as %q does not keep its bytes", seg, parts[i])
	}
	return strings.Join(parts, "."), true
}

// TestOtherSpellingsRefused: a token spelt otherwise than its issuer
// wrote it is refused, though its bytes and signature are the issuer's;
// the authorization server would not recognise that spelling, so it
// could not be revoked by its text.
func TestOtherSpellingsRefused(t *testing.T) {
	a := newFakeAS(t)
	r := newGuard(t, a, nil)
	waitFeed(t, r)
	h := r.Middleware(echo)
	tok := a.jwt(1, nil)
	if got := call(t, h, "Bearer "+tok); got.status != 200 {
		t.Fatalf("the token as issued: %+v", got)
	}
	parts := strings.Split(tok, ".")
	cases := map[string]string{
		"LF in the signature": parts[0] + "." + parts[1] + "." + parts[2][:8] + "\n" + parts[2][8:],
		"padded signature":    tok + strings.Repeat("=", (4-len(parts[2])%4)%4),
	}
	for i, name := range []string{"header", "payload", "signature"} {
		if other, ok := respell(t, tok, i); ok {
			cases["unused bit set in the "+name] = other
		}
	}
	if len(cases) < 3 {
		t.Fatalf("no respelling of the signature of %q", tok)
	}
	want := result{401, `Bearer error="invalid_token", error_description="the token is not a valid JWT"`, `{"error":"invalid_token","error_description":"the token is not a valid JWT"}`}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			if got := call(t, h, "Bearer "+raw); got != want {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestCanonicalCompact(t *testing.T) {
	cases := []struct {
		s    string
		want bool
	}{
		{"", true},
		{"AA.AAA.AAAA", true},
		{"QQ", true},
		{"QR", false},
		{"QUI", true},
		{"QUJ", false},
		{"QUJD", true},
		{"Q", false},
		{"QQ==", false},
		{"Q+/A", false},
		{"QU\nJD", false},
		{"QUJD\r", false},
		{"-_-_", true},
		{"QQ.QR", false},
		{"\xff\xff", false},
	}
	for _, c := range cases {
		if got := CanonicalCompact(c.s); got != c.want {
			t.Errorf("CanonicalCompact(%q) = %v; want %v", c.s, got, c.want)
		}
		if ref := canonicalRef(c.s); ref != c.want {
			t.Errorf("reference(%q) = %v; the table says %v", c.s, ref, c.want)
		}
	}
}

// FuzzCanonicalCompact holds CanonicalCompact to the decode-and-encode
// reference.
func FuzzCanonicalCompact(f *testing.F) {
	for _, s := range []string{"", ".", "QQ", "QR", "QUI", "QUJ", "Q", "QQ==", "QU\nJD", "eyJhbGciOiJFUzI1NiJ9.e30.c2ln"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := CanonicalCompact(s), canonicalRef(s); got != want {
			t.Fatalf("CanonicalCompact(%q) = %v; the reference says %v", s, got, want)
		}
	})
}
