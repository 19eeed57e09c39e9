package dpop_test

import (
	"context"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/tokend/tokend/dpop"
)

// BenchmarkVerify is the check on the token endpoint's path: a fresh ES256
// proof each time (so the replay cache grows as it does in service).
func BenchmarkVerify(b *testing.B) {
	s := signer(b, ecKey(b), jose.ES256)
	proofs := make([]string, b.N)
	for i := range proofs {
		proofs[i] = proof(b, s, dpop.ProofClaims{Method: "POST", URI: htu})
	}
	v := verifier()
	req := dpop.Request{Method: "POST", URI: htu}
	b.ResetTimer()
	for i := range b.N {
		if _, err := v.Verify(context.Background(), proofs[i:i+1], req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSign is the client's cost of one proof, for comparison.
func BenchmarkSign(b *testing.B) {
	s := signer(b, ecKey(b), jose.ES256)
	for range b.N {
		proof(b, s, dpop.ProofClaims{Method: "POST", URI: htu})
	}
}
