package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/tokend/tokend/internal/store/storetest"
)

// BenchmarkRevokeExchangeChain: storetest.BenchRevokeExchangeChain on a
// SQLite file.
func BenchmarkRevokeExchangeChain(b *testing.B) {
	storetest.BenchRevokeExchangeChain(b, openTest(b, filepath.Join(b.TempDir(), "tokend.db"), Options{}))
}
