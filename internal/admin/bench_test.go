package admin_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/admin"
	"github.com/tokend/tokend/internal/store"
	ts "github.com/tokend/tokend/internal/testserver"
)

// seed stores n grants of subject, each with an access and a refresh
// token, from many goroutines so the store's group commit batches them.
func seed(b *testing.B, s *ts.Server, subject string, n int) {
	b.Helper()
	now := s.Clock.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	const workers = 64
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				id := fmt.Sprintf("%s-%d", subject, i)
				g := store.Grant{ID: id, ClientID: "web", Subject: subject, CreatedAt: now}
				tks := []store.Token{
					{Hash: store.HashToken(id + "a"), Kind: store.AccessToken, IssuedAt: now, ExpiresAt: now.Add(time.Hour)},
					{Hash: store.HashToken(id + "r"), Kind: store.RefreshToken, IssuedAt: now, ExpiresAt: now.Add(24 * time.Hour)},
				}
				if err := s.Store.CreateGrant(b.Context(), g, tks); err != nil {
					select {
					case errs <- err:
					default:
					}
					return
				}
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
}

// BenchmarkBulkRevokeSubject10k: POST /admin/revocations of a subject with
// 10,000 live grants (20,000 tokens), over HTTP into SQLite: one
// transaction, one event per grant.
func BenchmarkBulkRevokeSubject10k(b *testing.B) {
	const grants = 10_000
	s := ts.New(b)
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		subject := fmt.Sprintf("user%d", i)
		seed(b, s, subject, grants)
		b.StartTimer()
		r := s.Do(http.MethodPost, admin.PathRevocations, `{"subject":"`+subject+`"}`, ts.AdminBearer)
		if want := fmt.Sprintf(`{"grants":%d,"tokens":%d,`, grants, 2*grants); r.Status != http.StatusOK || r.Body[:len(want)] != want {
			b.Fatalf("revoke: %d %s; want 200 %s...", r.Status, r.Body, want)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/grants, "µs/grant")
}
