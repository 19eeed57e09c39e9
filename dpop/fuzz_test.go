package dpop_test

import (
	"context"
	"errors"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokend/tokend/dpop"
)

// FuzzVerify: whatever a client sends in the DPoP header, Verify answers
// a *dpop.Error or a proof, never a panic, and a proof only for a header
// that a key signed for this request.
func FuzzVerify(f *testing.F) {
	s := signer(f, ecKey(f), jose.ES256)
	f.Add(proof(f, s, dpop.ProofClaims{Method: "POST", URI: htu}))
	f.Add(proof(f, s, dpop.ProofClaims{Method: "GET", URI: htu, AccessToken: "t", Nonce: "n"}))
	f.Add("eyJ0eXAiOiJkcG9wK2p3dCJ9.e30.")
	f.Add("..")
	f.Fuzz(func(t *testing.T, header string) {
		p, err := verifier().Verify(context.Background(), []string{header}, dpop.Request{Method: "POST", URI: htu})
		var e *dpop.Error
		if err != nil && !errors.As(err, &e) {
			t.Fatalf("Verify(%q): %v, not a *dpop.Error", header, err)
		}
		if err == nil && (p == nil || p.JKT == "" || p.Method != "POST") {
			t.Fatalf("Verify(%q) accepted %+v", header, p)
		}
	})
}
