package token

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// canonicalRef is the plainly written reference for the canonical spelling
// a verified JWT must have (rs.CanonicalCompact): each segment decodes and
// encodes back to itself.
func canonicalRef(s string) bool {
	for seg := range strings.SplitSeq(s, ".") {
		b, err := base64.RawURLEncoding.DecodeString(seg)
		if err != nil || base64.RawURLEncoding.EncodeToString(b) != seg {
			return false
		}
	}
	return true
}

// respellings returns other spellings of the compact JWS tok that
// base64.RawURLEncoding, which go-jose decodes with, reads as the same
// bytes: a segment's last character with an unused bit set, and a CR or
// LF inside a segment.
func respellings(t testing.TB, tok string) map[string]string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	parts := strings.Split(tok, ".")
	names := []string{"header", "payload", "signature"}
	out := map[string]string{}
	for i, seg := range parts {
		respelt := func(name, seg2 string) {
			p := append([]string(nil), parts...)
			p[i] = seg2
			out[name+" of the "+names[i]] = strings.Join(p, ".")
		}
		last := strings.IndexByte(alphabet, seg[len(seg)-1])
		switch len(seg) % 4 {
		case 2:
			respelt("last character's unused bit 3 set", seg[:len(seg)-1]+string(alphabet[last|0x08]))
			respelt("last character's unused bit 0 set", seg[:len(seg)-1]+string(alphabet[last|0x01]))
		case 3:
			respelt("last character's unused bit 1 set", seg[:len(seg)-1]+string(alphabet[last|0x02]))
		}
		respelt("LF inside", seg[:4]+"\n"+seg[4:])
		respelt("CR at the end", seg+"\r")
	}
	if len(out) < 7 {
		t.Fatalf("only %d respellings of %q; want unused bits in the signature at least", len(out), tok)
	}
	// Each is the same token to a lenient decoder: a refusal below is for
	// the spelling alone.
	for name, v := range out {
		vp := strings.Split(v, ".")
		for i := range parts {
			a, errA := base64.RawURLEncoding.DecodeString(parts[i])
			b, errB := base64.RawURLEncoding.DecodeString(vp[i])
			if errA != nil || errB != nil || string(a) != string(b) {
				t.Fatalf("%s: segment %d decodes to %q (%v); the token's to %q (%v)", name, i, b, errB, a, errA)
			}
		}
	}
	return out
}

// TestVerifyRefusesOtherSpellings: a token of ours spelt otherwise than
// issued is not ours, though its bytes and signature are: the store knows
// a token by the hash of its text, so that spelling could be neither
// revoked nor introspected.
func TestVerifyRefusesOtherSpellings(t *testing.T) {
	for _, alg := range SupportedAlgs {
		t.Run(alg, func(t *testing.T) {
			j, clk := newJWTs(t, alg)
			tok, err := j.Mint(claimsAt(clk.Now()))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := j.Verify(tok); err != nil {
				t.Fatalf("the token as issued: %v", err)
			}
			parts := strings.Split(tok, ".")
			malformed := map[string]string{
				"padded signature":          parts[0] + "." + parts[1] + "." + parts[2] + strings.Repeat("=", (4-len(parts[2])%4)%4),
				"standard alphabet payload": parts[0] + "." + strings.NewReplacer("-", "+", "_", "/").Replace(parts[1]) + "+/." + parts[2],
				"one character too many":    parts[0] + "." + parts[1] + "." + parts[2] + "AAA",
			}
			for name, raw := range respellings(t, tok) {
				malformed[name] = raw
			}
			for name, raw := range malformed {
				t.Run(name, func(t *testing.T) {
					if c, err := j.Verify(raw); !errors.Is(err, ErrNotOurs) {
						t.Errorf("Verify = %+v, %v; want ErrNotOurs", c, err)
					}
				})
			}
		})
	}
}
