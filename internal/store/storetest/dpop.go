package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tokend/tokend/internal/store"
)

// jkt is a DPoP key thumbprint (RFC 9449 §6) as the token endpoint stores it.
const jkt = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"

// testDPoPBinding: the key a grant is bound to is stored with it and read
// back with every token of the grant, those a rotation or a code exchange
// added included; an unbound grant reads back "".
func testDPoPBinding(t *testing.T, open opener) {
	t.Run("create, lookup and rotate", func(t *testing.T) {
		s := open(t)
		f := newFamily("g1", "c1", "u1")
		f.grant.JKT = jkt
		createFamily(t, s, f)
		plain := newFamily("g2", "c1", "u1")
		createFamily(t, s, plain)
		for _, tok := range []store.Token{f.access, f.refresh} {
			if got := lookup(t, s, tok.Hash); got.JKT != jkt {
				t.Errorf("LookupToken(%s).JKT = %q; want %q", tok.Kind, got.JKT, jkt)
			}
		}
		if got := lookup(t, s, plain.access.Hash); got.JKT != "" {
			t.Errorf("an unbound grant's token has JKT %q", got.JKT)
		}
		a2, r2 := f.next(2, at(time.Hour))
		if _, err := rotate(t, s, f.refresh.Hash, at(time.Hour), a2, r2); err != nil {
			t.Fatalf("RotateRefresh: %v", err)
		}
		for _, tok := range []store.Token{a2, r2} {
			if diff := cmp.Diff(lookup(t, s, tok.Hash), f.record(tok)); diff != "" {
				t.Errorf("LookupToken(rotated %s) (-got +want):\n%s", tok.Kind, diff)
			}
		}
	})
	t.Run("code exchange", func(t *testing.T) {
		s := open(t)
		c := sampleCode("code-1")
		createCode(t, s, c)
		f := codeGrant("g1")
		f.grant.JKT = jkt
		if _, err := exchange(s, t, c, time.Second, f); err != nil {
			t.Fatalf("ExchangeAuthCode: %v", err)
		}
		if got := lookup(t, s, f.access.Hash); got.JKT != jkt {
			t.Errorf("the exchanged grant's JKT = %q; want %q", got.JKT, jkt)
		}
	})
}
