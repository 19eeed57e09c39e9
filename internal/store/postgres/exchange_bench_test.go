package postgres

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/store/storetest"
)

// BenchmarkRevokeExchangeChain revokes the first grant of a chain of 1,000
// grants exchanged one from the other (RFC 8693): one RevokeGrant, one
// round trip, which revokes the 1,001 grants and appends their events in
// one transaction. The chain is built before each revocation, off the
// clock.
func BenchmarkRevokeExchangeChain(b *testing.B) {
	const depth = 1000
	s := openTest(b, "", Options{MaxConns: defaultMaxConns})
	rev := storetest.RevocationAt(time.Minute)
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		root := storetest.ExchangeChain(b, s, fmt.Sprint("chain", i), depth)
		b.StartTimer()
		res, err := s.RevokeGrant(context.Background(), root, rev)
		if err != nil || res.Grants != depth+1 {
			b.Fatalf("RevokeGrant = %+v, %v; want %d grants", res, err, depth+1)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(depth+1), "ns/grant")
}
