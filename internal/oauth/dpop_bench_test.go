package oauth_test

import (
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/tokend/tokend/dpop"
	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/registry"
)

// BenchmarkIssueDPoP issues client_credentials tokens with and without a
// DPoP proof, opaque and JWT, in one run so that the ratio holds on a
// busy machine: run with -count N and the variants interleave. The proofs
// are made before the timer starts (they are the client's cost); what is
// timed is the server's check of each (a fresh jti each time, as in
// service) and the binding.
//
//	go test -run '^$' -bench IssueDPoP -count 5 ./internal/oauth/
func BenchmarkIssueDPoP(b *testing.B) {
	for _, format := range []string{registry.FormatOpaque, registry.FormatJWT} {
		for _, bound := range []bool{false, true} {
			name := format + "/bearer"
			if bound {
				name = format + "/dpop"
			}
			b.Run(name, func(b *testing.B) { benchIssue(b, format, bound) })
		}
	}
}

func benchIssue(b *testing.B, format string, bound bool) {
	h := newHarness(b, withJWT(b, "ES256"))
	id, secret := h.client(registry.Spec{Name: "bench", TokenFormat: format, GrantTypes: []string{oauth.GrantClientCredentials}})
	auth := basic(id, secret)
	proofs := make([]string, b.N)
	if bound {
		key := h.newKey()
		for i := range proofs {
			proofs[i] = h.proof(key, dpop.ProofClaims{})
		}
	}
	var next atomic.Int64
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := h.post(oauth.PathToken, "grant_type=client_credentials", auth, proofs[next.Add(1)-1])
			if r.status != http.StatusOK {
				b.Errorf("token: %d %s", r.status, r.body)
			}
		}
	})
}
