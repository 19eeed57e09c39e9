package statuslist

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/token"
)

const issuer = "https://as.example"

func newLists(t testing.TB, alg string) (*Lists, *token.Keyring) {
	t.Helper()
	now := time.Unix(1_800_000_000, 0)
	keys, err := token.OpenKeyring(filepath.Join(t.TempDir(), "keys"), alg, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	return NewLists(ListsConfig{Issuer: issuer, Keys: keys, Now: func() time.Time { return now }}), keys
}

// decoded is a Status List Token verified and inflated.
type decoded struct {
	header jose.Header
	claims struct {
		Sub        string `json:"sub"`
		Iat        int64  `json:"iat"`
		Exp        int64  `json:"exp"`
		TTL        int64  `json:"ttl"`
		StatusList struct {
			Bits int    `json:"bits"`
			Lst  string `json:"lst"`
		} `json:"status_list"`
	}
	bits []byte
}

// decode verifies raw with go-jose against the keyring's JWKS alone, as a
// resource server would, and inflates its list.
func decode(t testing.TB, keys *token.Keyring, raw []byte) decoded {
	t.Helper()
	jws, err := jose.ParseSigned(string(raw), []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	var d decoded
	d.header = jws.Signatures[0].Header
	set := keys.JWKS()
	found := set.Key(d.header.KeyID)
	if len(found) != 1 {
		t.Fatalf("kid %q not in the JWKS", d.header.KeyID)
	}
	payload, err := jws.Verify(found[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(payload, &d.claims); err != nil {
		t.Fatal(err)
	}
	z, err := base64.RawURLEncoding.DecodeString(d.claims.StatusList.Lst)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		t.Fatal(err)
	}
	if d.bits, err = io.ReadAll(zr); err != nil {
		t.Fatal(err)
	}
	return d
}

func bitSet(bits []byte, i int64) bool { return bits[i/8]&(1<<(i%8)) != 0 }

func TestStatusListToken(t *testing.T) {
	for _, alg := range token.SupportedAlgs {
		t.Run(alg, func(t *testing.T) {
			l, keys := newLists(t, alg)
			revoked := []int64{1, 7, 8, ListSize - 1, ListSize + 3}
			l.Apply([]store.Event{{Seq: 1, StatusIndexes: revoked[:3]}, {Seq: 2, StatusIndexes: revoked[3:]}})

			raw, _, err := l.Token(t.Context(), 0)
			if err != nil {
				t.Fatal(err)
			}
			d := decode(t, keys, raw)
			if typ := d.header.ExtraHeaders[jose.HeaderType]; typ != TokenType {
				t.Errorf("typ = %v; want %s", typ, TokenType)
			}
			if d.header.Algorithm != alg {
				t.Errorf("alg = %s; want %s", d.header.Algorithm, alg)
			}
			c := d.claims
			if c.Sub != issuer+"/oauth2/statuslists/0" || c.Iat != 1_800_000_000 || c.Exp != c.Iat+int64(DefaultLifetime/time.Second) || c.TTL != 60 || c.StatusList.Bits != 1 {
				t.Errorf("claims = %+v", c)
			}
			if len(d.bits) != ListSize/8 {
				t.Fatalf("list of %d bytes; want %d", len(d.bits), ListSize/8)
			}
			for _, i := range []int64{0, 2, 6, 9, 100, ListSize - 2} {
				if bitSet(d.bits, i) {
					t.Errorf("bit %d set; only revoked bits should be", i)
				}
			}
			for _, i := range []int64{1, 7, 8, ListSize - 1} {
				if !bitSet(d.bits, i) {
					t.Errorf("bit %d not set", i)
				}
			}
			// Bits are packed from the least significant bit (§4.1):
			// indexes 1 and 7 are 0b10000010 of byte 0, 8 is bit 0 of byte 1.
			if d.bits[0] != 0x82 || d.bits[1] != 0x01 {
				t.Errorf("first bytes %#x %#x; want 0x82 0x01", d.bits[0], d.bits[1])
			}

			raw1, _, _ := l.Token(t.Context(), 1)
			if d := decode(t, keys, raw1); !bitSet(d.bits, 3) || d.claims.Sub != issuer+"/oauth2/statuslists/1" {
				t.Errorf("list 1: bit 3 = %v, sub %q", bitSet(d.bits, 3), d.claims.Sub)
			}
			raw2, _, _ := l.Token(t.Context(), 2)
			if d := decode(t, keys, raw2); !bytes.Equal(d.bits, make([]byte, ListSize/8)) {
				t.Error("a list without revocations has bits set")
			}
		})
	}
}

func TestTokenIsReusedUntilTheListChanges(t *testing.T) {
	l, keys := newLists(t, token.ES256)
	l.Revoke(5)
	a, _, _ := l.Token(t.Context(), 0)
	b, _, _ := l.Token(t.Context(), 0)
	if !bytes.Equal(a, b) {
		t.Error("an unchanged list was signed again (ES256 signatures differ each time)")
	}
	l.Revoke(5) // already set: no change
	if c, _, _ := l.Token(t.Context(), 0); !bytes.Equal(a, c) {
		t.Error("revoking a revoked index re-signed the list")
	}
	l.Revoke(6)
	d, _, _ := l.Token(t.Context(), 0)
	if bytes.Equal(a, d) {
		t.Fatal("the list changed but the old token was served")
	}
	if !bitSet(decode(t, keys, d).bits, 6) {
		t.Error("bit 6 not set after the change")
	}
	if !l.Revoked(6) || l.Revoked(7) {
		t.Error("Revoked disagrees with the bits")
	}
}

func TestNoSuchList(t *testing.T) {
	l, _ := newLists(t, token.EdDSA)
	for _, n := range []int64{-1, MaxList} {
		if _, _, err := l.Token(t.Context(), n); err != ErrNoSuchList {
			t.Errorf("Token(%d) error = %v; want ErrNoSuchList", n, err)
		}
	}
}

// TestDraftExample checks the packing against the draft's example (§4.1):
// statuses 1,0,0,1,1,1,0,1, 1,1,0,0,0,1,0,1 are the bytes 0xb9 0xa3.
func TestDraftExample(t *testing.T) {
	status := []int{1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1}
	l, keys := newLists(t, token.EdDSA)
	for i, s := range status {
		if s == 1 {
			l.Revoke(int64(i))
		}
	}
	raw, _, _ := l.Token(t.Context(), 0)
	if bits := decode(t, keys, raw).bits; bits[0] != 0xb9 || bits[1] != 0xa3 {
		t.Errorf("bytes %#x %#x; want 0xb9 0xa3", bits[0], bits[1])
	}
}

// revokeOnePercent revokes 1% of a full list's indexes, at random.
func revokeOnePercent(l *Lists) {
	r := rand.New(rand.NewPCG(1, 2))
	for range ListSize / 100 {
		l.Revoke(r.Int64N(ListSize))
	}
}

// TestOneMillionSize reports the size of a list of 2^20 tokens (about one
// million) with 1% revoked.
func TestOneMillionSize(t *testing.T) {
	if testing.Short() {
		t.Skip("compresses 128 KiB at the best level")
	}
	l, _ := newLists(t, token.RS256)
	revokeOnePercent(l)
	raw, _, err := l.Token(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	lst := l.lists[0].enc.lst
	best, _ := Encode(l.lists[0].bits)
	t.Logf("2^20 tokens, 1%% revoked: status list token %d bytes (lst %d base64url characters, %d bytes of zlib; %d at the best level; %d bytes raw)",
		len(raw), len(lst), base64.RawURLEncoding.DecodedLen(len(lst)), base64.RawURLEncoding.DecodedLen(len(best)), ListSize/8)
}

// BenchmarkRevokeOneInMillion is one revocation landing in a list of 2^20
// tokens with 1% revoked: the bit set, then the next request's re-encoding
// and signature.
func BenchmarkRevokeOneInMillion(b *testing.B) {
	for _, alg := range token.SupportedAlgs {
		b.Run(alg, func(b *testing.B) {
			l, _ := newLists(b, alg)
			revokeOnePercent(l)
			r := rand.New(rand.NewPCG(3, 4))
			var size int
			for b.Loop() {
				l.Revoke(r.Int64N(ListSize))
				raw, _, err := l.Token(b.Context(), 0)
				if err != nil {
					b.Fatal(err)
				}
				size = len(raw)
			}
			b.ReportMetric(float64(size), "token-bytes")
		})
	}
}

// BenchmarkEncodeOneInMillion is the compression alone, at the level
// used right after a change and at the best level used once the list is
// quiet.
func BenchmarkEncodeOneInMillion(b *testing.B) {
	l, _ := newLists(b, token.EdDSA)
	revokeOnePercent(l)
	bits := l.lists[0].bits
	for _, level := range []int{zlib.DefaultCompression, zlib.BestCompression} {
		b.Run(fmt.Sprintf("level=%d", level), func(b *testing.B) {
			var lst string
			for b.Loop() {
				var err error
				if lst, err = encode(bits, level); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(base64.RawURLEncoding.DecodedLen(len(lst))), "zlib-bytes")
		})
	}
}

// TestQuietListIsRecompressed: a list that has not changed for Reuse is
// signed again with its bits compressed at the best level.
func TestQuietListIsRecompressed(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	keys, err := token.OpenKeyring(filepath.Join(t.TempDir(), "keys"), token.EdDSA, clock)
	if err != nil {
		t.Fatal(err)
	}
	l := NewLists(ListsConfig{Issuer: issuer, Keys: keys, Now: clock})
	for i := range int64(2000) {
		l.Revoke(i * i % ListSize)
	}
	first, _, _ := l.Token(t.Context(), 0)
	if l.lists[0].enc.best {
		t.Error("a list just changed was compressed at the best level")
	}
	now = now.Add(DefaultReuse)
	second, iat, _ := l.Token(t.Context(), 0)
	if !l.lists[0].enc.best || !iat.Equal(now) {
		t.Errorf("quiet list: best = %v, iat %v; want true, %v", l.lists[0].enc.best, iat, now)
	}
	if len(second) >= len(first) {
		t.Errorf("best compression made %d bytes from %d", len(second), len(first))
	}
	if !bytes.Equal(decode(t, keys, first).bits, decode(t, keys, second).bits) {
		t.Error("recompression changed the bits")
	}
	now = now.Add(DefaultReuse)
	enc := l.lists[0].enc
	if _, _, err := l.Token(t.Context(), 0); err != nil || l.lists[0].enc != enc {
		t.Error("a quiet list already at the best level was compressed again")
	}
}

// BenchmarkSetBit is Apply of one event with one index.
func BenchmarkSetBit(b *testing.B) {
	l, _ := newLists(b, token.EdDSA)
	revokeOnePercent(l)
	ev := []store.Event{{StatusIndexes: []int64{0}}}
	i := int64(0)
	for b.Loop() {
		ev[0].StatusIndexes[0] = i % ListSize
		l.Apply(ev)
		i += 7919
	}
}

// TestPrune: a list leaves memory once every revoked token it holds has
// been expired for the leeway, and is served empty afterwards; a list
// holding a token of unknown expiry, or one still alive, stays. A later
// revocation brings a pruned list back with that bit alone.
func TestPrune(t *testing.T) {
	l, _ := newLists(t, token.ES256)
	now := l.cfg.Now()
	l.Apply([]store.Event{
		{Seq: 1, StatusIndexes: []int64{5}, ExpiresAt: now.Add(-time.Hour)},            // list 0: long expired
		{Seq: 2, StatusIndexes: []int64{ListSize + 5}, ExpiresAt: now.Add(-time.Hour)}, // list 1: expired...
		{Seq: 3, StatusIndexes: []int64{ListSize + 6}, ExpiresAt: now.Add(time.Hour)},  // ...but holds a live one
		{Seq: 4, StatusIndexes: []int64{2*ListSize + 5}},                               // list 2: expiry unknown
	})
	// Apply prunes (at most once a minute): list 0 is gone already.
	if n := l.Prune(now); n != 0 {
		t.Fatalf("Prune right after Apply dropped %d lists; want 0, Apply pruned", n)
	}
	if l.Revoked(5) {
		t.Error("the pruned list still reports its bit")
	}
	for _, idx := range []int64{ListSize + 5, ListSize + 6, 2*ListSize + 5} {
		if !l.Revoked(idx) {
			t.Errorf("index %d lost although its list must stay", idx)
		}
	}
	if _, _, err := l.Token(t.Context(), 0); err != nil {
		t.Errorf("the pruned list is not served: %v", err)
	}
	l.Apply([]store.Event{{Seq: 5, StatusIndexes: []int64{7}, ExpiresAt: now.Add(time.Hour)}})
	if !l.Revoked(7) || l.Revoked(5) {
		t.Error("a revocation in a pruned list did not bring it back with that bit alone")
	}
	if n := l.Prune(now.Add(2 * time.Hour)); n != 2 {
		t.Errorf("Prune two hours on dropped %d lists; want 2 (lists 0 and 1; list 2's expiry is unknown)", n)
	}
}
