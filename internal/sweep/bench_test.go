package sweep_test

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/store/sqlite"
	"github.com/tokend/tokend/internal/sweep"
)

// BenchmarkSweep1MExpiredTokens: one full sweep (batches of
// DefaultBatchSize grants, no pause) over 500,000 expired grants of two
// tokens each, 1,000,000 tokens, in SQLite. Run it with -benchtime=1x:
// seeding takes a while.
func BenchmarkSweep1MExpiredTokens(b *testing.B) {
	const grants = 500_000
	for b.Loop() {
		b.StopTimer()
		st, err := sqlite.Open(filepath.Join(b.TempDir(), "tokend.db"), sqlite.Options{MaxBatch: 1024})
		if err != nil {
			b.Fatal(err)
		}
		var wg sync.WaitGroup
		for w := range 128 {
			wg.Go(func() {
				for i := w; i < grants; i += 128 {
					id := fmt.Sprintf("g%d", i)
					tks := []store.Token{
						{Hash: store.HashToken(id + "a"), Kind: store.AccessToken, IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)},
						{Hash: store.HashToken(id + "r"), Kind: store.RefreshToken, IssuedAt: t0, ExpiresAt: t0.Add(2 * time.Hour)},
					}
					if err := st.CreateGrant(b.Context(), store.Grant{ID: id, ClientID: "c", Subject: "s", CreatedAt: t0}, tks); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		s := sweep.New(sweep.Config{Store: st, Pause: -1, Now: func() time.Time { return t0.Add(3 * time.Hour) }})
		b.StartTimer()
		res, err := s.Once(b.Context())
		b.StopTimer()
		if err != nil || res.Grants != grants || res.Tokens != 2*grants {
			b.Fatalf("Once = %+v, %v; want %d grants and %d tokens", res, err, grants, 2*grants)
		}
		st.Close()
		b.StartTimer()
	}
}
