package token

import (
	"bytes"
	"crypto/rand"
	"hash/crc32"
	"math/big"
	"strings"
	"testing"

	"github.com/tokend/tokend/internal/store"
)

// The reference implementation below is written independently of
// opaque.go (math/big, hash/crc32), so the tests check the format rather
// than the code against itself.

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// refBase62 writes n in base62 (alphabet 0-9A-Za-z), left-padded to width.
func refBase62(n *big.Int, width int) string {
	// big.Int.Text(62) uses 0-9a-zA-Z; swap the cases of letters.
	s := strings.Map(func(r rune) rune {
		switch {
		case 'a' <= r && r <= 'z':
			return r - 'a' + 'A'
		case 'A' <= r && r <= 'Z':
			return r - 'A' + 'a'
		}
		return r
	}, n.Text(62))
	return strings.Repeat("0", width-len(s)) + s
}

// refSeal appends the checksum of body.
func refSeal(body string) string {
	c := crc32.Checksum([]byte(body), castagnoli)
	return body + refBase62(new(big.Int).SetUint64(uint64(c)), 6)
}

// refToken builds the token of prefix and random bytes.
func refToken(prefix string, random []byte) string {
	return refSeal(prefix + refBase62(new(big.Int).SetBytes(random), 43))
}

// refValid is Parse written plainly.
func refValid(s string) (store.TokenKind, bool) {
	if len(s) != 53 {
		return "", false
	}
	var kind store.TokenKind
	switch {
	case strings.HasPrefix(s, "tka_"):
		kind = store.AccessToken
	case strings.HasPrefix(s, "tkr_"):
		kind = store.RefreshToken
	default:
		return "", false
	}
	for _, c := range []byte(s[4:47]) {
		if !strings.ContainsRune(alphabet, rune(c)) {
			return "", false
		}
	}
	if refSeal(s[:47]) != s {
		return "", false
	}
	return kind, true
}

func TestEncodeRandomMatchesBigInt(t *testing.T) {
	inputs := [][]byte{
		make([]byte, 32),
		bytes.Repeat([]byte{0xff}, 32),
		append(make([]byte, 31), 1),
		append([]byte{0x80}, make([]byte, 31)...),
	}
	for range 1000 {
		inputs = append(inputs, randomBytesForTest(t))
	}
	for _, in := range inputs {
		var dst [randomLen]byte
		encodeRandom(&dst, (*[randomBytes]byte)(in))
		want := refBase62(new(big.Int).SetBytes(in), 43)
		if got := string(dst[:]); got != want {
			t.Fatalf("encodeRandom(%x) = %q; want %q", in, got, want)
		}
	}
}

func TestChecksumMatchesHashCRC32(t *testing.T) {
	buf := randomBytesForTest(t)
	buf = append(buf, randomBytesForTest(t)...)
	for n := range len(buf) + 1 {
		want := crc32.Checksum(buf[:n], castagnoli)
		if got := checksum(buf[:n]); got != want {
			t.Fatalf("checksum of %d bytes = %#x; want %#x", n, got, want)
		}
		if got := checksum(string(buf[:n])); got != want {
			t.Fatalf("checksum of %d-byte string = %#x; want %#x", n, got, want)
		}
	}
}

func TestNewParseRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		kind   store.TokenKind
		prefix string
	}{
		{store.AccessToken, AccessPrefix},
		{store.RefreshToken, RefreshPrefix},
	} {
		t.Run(string(tc.kind), func(t *testing.T) {
			for range 100 {
				tok, err := New(tc.kind)
				if err != nil {
					t.Fatalf("New(%q): %v", tc.kind, err)
				}
				if len(tok) != tokenLen || !strings.HasPrefix(tok, tc.prefix) {
					t.Fatalf("New(%q) = %q; want %d bytes starting %q", tc.kind, tok, tokenLen, tc.prefix)
				}
				kind, ok := Parse(tok)
				if !ok || kind != tc.kind {
					t.Fatalf("Parse(%q) = %q, %v; want %q, true", tok, kind, ok, tc.kind)
				}
				if kind, ok := refValid(tok); !ok || kind != tc.kind {
					t.Fatalf("reference rejects %q (%q, %v)", tok, kind, ok)
				}
			}
		})
	}
}

func TestNewUnknownKind(t *testing.T) {
	for _, kind := range []store.TokenKind{"", "id_token", "ACCESS_TOKEN"} {
		if tok, err := New(kind); err == nil {
			t.Errorf("New(%q) = %q, nil; want an error", kind, tok)
		}
	}
}

func TestNewUnique(t *testing.T) {
	const n = 100_000
	seen := make(map[string]bool, n)
	for range n {
		tok, err := New(store.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		if seen[tok] {
			t.Fatalf("New returned %q twice", tok)
		}
		seen[tok] = true
	}
}

// Every token that differs from a valid one in one byte, whatever the byte,
// is refused: a CRC catches every error within 32 consecutive bits, and the
// prefix is covered too, so even tka_ → tkr_ fails.
func TestParseRejectsEverySingleByteChange(t *testing.T) {
	for _, kind := range []store.TokenKind{store.AccessToken, store.RefreshToken} {
		for range 5 {
			tok, err := New(kind)
			if err != nil {
				t.Fatal(err)
			}
			b := []byte(tok)
			for i := range b {
				orig := b[i]
				for c := range 256 {
					if byte(c) == orig {
						continue
					}
					b[i] = byte(c)
					if kind, ok := Parse(string(b)); ok {
						t.Fatalf("Parse(%q) = %q, true; changed byte %d of %q", b, kind, i, tok)
					}
				}
				b[i] = orig
			}
		}
	}
}

func TestParseRejects(t *testing.T) {
	access := refToken(AccessPrefix, bytes.Repeat([]byte{0xa5}, 32))
	refresh := refToken(RefreshPrefix, bytes.Repeat([]byte{0x5a}, 32))
	if _, ok := Parse(access); !ok {
		t.Fatalf("Parse(%q) = false; the reference token should be valid", access)
	}
	if _, ok := Parse(refresh); !ok {
		t.Fatalf("Parse(%q) = false; the reference token should be valid", refresh)
	}
	for _, tc := range []struct {
		name, token string
	}{
		{"empty", ""},
		{"prefix only", AccessPrefix},
		{"truncated by one", access[:tokenLen-1]},
		{"truncated checksum", access[:bodyLen]},
		{"extended by one", access + "0"},
		{"extended by newline", access + "\n"},
		{"leading space", " " + access[:tokenLen-1]},
		{"upper-case prefix", "TKA_" + access[prefixLen:]},
		{"unknown prefix", "tkx_" + access[prefixLen:]},
		{"access prefix on refresh body", AccessPrefix + refresh[prefixLen:]},
		{"refresh prefix on access body", RefreshPrefix + access[prefixLen:]},
		{"access body resealed with refresh checksum", access[:bodyLen] + refresh[bodyLen:]},
		// Checksum right, but the random part leaves the alphabet.
		{"hyphen in random part", refSeal(AccessPrefix + "-" + access[prefixLen+1:bodyLen])},
		{"underscore in random part", refSeal(AccessPrefix + strings.Repeat("_", randomLen))},
		{"NUL in random part", refSeal(AccessPrefix + "\x00" + access[prefixLen+1:bodyLen])},
		{"non-ASCII in random part", refSeal(AccessPrefix + "é" + access[prefixLen+2:bodyLen])},
		{"checksum not canonical", access[:bodyLen] + "zzzzzz"},
		{"JWT", "eyJhbGciOiJSUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"},
		{"WSO2 uuid", "9e2f1d3c-4b5a-4c6d-8e7f-0a1b2c3d4e5f"},
		{"hex", "5f4dcc3b5aa765d61d8327deb882cf995f4dcc3b5aa765d61d8327deb882cf99"},
		{"53 bytes of junk", strings.Repeat("a", tokenLen)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if kind, ok := Parse(tc.token); ok || kind != "" {
				t.Errorf("Parse(%q) = %q, %v; want \"\", false", tc.token, kind, ok)
			}
		})
	}
}

func TestParseDoesNotAllocate(t *testing.T) {
	tok, err := New(store.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	bad := tok[:bodyLen] + "000000"
	if n := testing.AllocsPerRun(100, func() {
		Parse(tok)
		Parse(bad)
		Parse("")
	}); n != 0 {
		t.Errorf("Parse allocates %v times per run; want 0", n)
	}
}

func randomBytesForTest(t *testing.T) []byte {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func BenchmarkNew(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New(store.AccessToken); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNewParallel(b *testing.B) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := New(store.AccessToken); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkParse(b *testing.B) {
	tok, err := New(store.AccessToken)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := Parse(tok); !ok {
			b.Fatal("valid token rejected")
		}
	}
}
