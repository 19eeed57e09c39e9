package oauth_test

import (
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/token"
)

// The benchmarks go through real HTTP (keep-alive) and a real SQLite file
// with durable commits, so they measure the revoke and issuance paths end
// to end. Run: go test -run '^$' -bench . -benchtime 3s ./internal/oauth/

// benchParallelism × GOMAXPROCS concurrent clients: enough callers at once
// for group commit to show, as under real load.
const benchParallelism = 16

// BenchmarkRevoke revokes distinct, pre-issued tokens, each once.
func BenchmarkRevoke(b *testing.B) {
	h := newHarness(b)
	id, secret := h.client(confidential("bench"))
	auth := basic(id, secret)
	toks := make([]string, b.N)
	for i := range toks {
		toks[i] = h.token(id, secret, "grant_type=client_credentials").Access
	}
	var next atomic.Int64
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			tok := toks[next.Add(1)-1]
			if r := h.post(oauth.PathRevoke, "token="+tok, auth); r.status != http.StatusOK || r.header.Get("RevokedAccessToken") == "" {
				b.Errorf("revoke: %d", r.status)
			}
		}
	})
}

// BenchmarkRevokeUnknown is the no-op path: a token that fails its
// checksum is answered without a store read.
func BenchmarkRevokeUnknown(b *testing.B) {
	h := newHarness(b)
	id, secret := h.client(confidential("bench"))
	auth := basic(id, secret)
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if r := h.post(oauth.PathRevoke, "token=a0d210c7a3de7d548e03f1986e9a5c39", auth); r.status != http.StatusOK {
				b.Errorf("revoke: %d", r.status)
			}
		}
	})
}

// BenchmarkIssueClientCredentials issues opaque access tokens.
func BenchmarkIssueClientCredentials(b *testing.B) {
	h := newHarness(b)
	id, secret := h.client(confidential("bench"))
	auth := basic(id, secret)
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if r := h.post(oauth.PathToken, "grant_type=client_credentials", auth); r.status != http.StatusOK {
				b.Errorf("token: %d", r.status)
			}
		}
	})
}

// BenchmarkIntrospect introspects one active token.
func BenchmarkIntrospect(b *testing.B) {
	h := newHarness(b)
	id, secret := h.client(confidential("bench"))
	auth := basic(id, secret)
	tok := h.token(id, secret, "grant_type=client_credentials").Access
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if r := h.post(oauth.PathIntrospect, "token="+tok, auth); r.status != http.StatusOK {
				b.Errorf("introspect: %d", r.status)
			}
		}
	})
}

// BenchmarkUserinfo reads the claims of one active access token with
// openid and profile: the token's lookup, its client's and its user's.
func BenchmarkUserinfo(b *testing.B) {
	h := newHarness(b)
	id, secret := h.client(confidential("bench"))
	tok := h.userTokens(id, secret, "alice", "openid profile").Access
	auth := "Authorization: Bearer " + tok
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if r := h.get(oauth.PathUserinfo, auth); r.status != http.StatusOK {
				b.Errorf("userinfo: %d", r.status)
			}
		}
	})
}

// BenchmarkIssueJWT issues JWT access tokens (client_credentials) signed
// with each algorithm; compare with token.BenchmarkRawSign.
func BenchmarkIssueJWT(b *testing.B) {
	for _, alg := range token.SupportedAlgs {
		b.Run(alg, func(b *testing.B) {
			h := newHarness(b, withJWT(b, alg))
			id, secret := h.client(jwtClient("bench"))
			auth := basic(id, secret)
			b.SetParallelism(benchParallelism)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if r := h.post(oauth.PathToken, "grant_type=client_credentials", auth); r.status != http.StatusOK {
						b.Errorf("token: %d", r.status)
					}
				}
			})
		})
	}
}

// BenchmarkRevokeJWT revokes distinct, pre-issued JWT access tokens: the
// signature check comes before the store.
func BenchmarkRevokeJWT(b *testing.B) {
	h := newHarness(b, withJWT(b, token.ES256))
	id, secret := h.client(jwtClient("bench"))
	auth := basic(id, secret)
	toks := make([]string, b.N)
	for i := range toks {
		toks[i] = h.token(id, secret, "grant_type=client_credentials").Access
	}
	var next atomic.Int64
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			tok := toks[next.Add(1)-1]
			if r := h.post(oauth.PathRevoke, "token="+tok, auth); r.status != http.StatusOK || r.header.Get("RevokedAccessToken") == "" {
				b.Errorf("revoke: %d", r.status)
			}
		}
	})
}
