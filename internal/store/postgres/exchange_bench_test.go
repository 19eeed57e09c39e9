package postgres

import (
	"testing"

	"github.com/tokend/tokend/internal/store/storetest"
)

// BenchmarkRevokeExchangeChain: storetest.BenchRevokeExchangeChain on
// PostgreSQL, one round trip per revocation.
func BenchmarkRevokeExchangeChain(b *testing.B) {
	storetest.BenchRevokeExchangeChain(b, openTest(b, "", Options{MaxConns: defaultMaxConns}))
}
