package backchannel_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/backchannel"
	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/store/sqlite"
	"github.com/tokend/tokend/internal/testserver"
	"github.com/tokend/tokend/internal/token"
)

// BenchmarkDeliverBacklog: a backlog of 1,000 Logout Tokens, to as many
// clients of one relying party that answers 200 at once, delivered by one
// follower on SQLite: the time from its start until the last is recorded
// delivered, and the deliveries per second. Each op is a new backlog.
func BenchmarkDeliverBacklog(b *testing.B) {
	const n = 1000
	rp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	b.Cleanup(rp.Close)
	keys, err := token.OpenKeyring(b.TempDir(), "ES256", nil)
	if err == nil {
		err = keys.EnsureActive("ES256")
	}
	if err != nil {
		b.Fatal(err)
	}
	jwts := &token.JWTs{Keys: keys, Issuer: issuer}
	var total time.Duration
	for b.Loop() {
		b.StopTimer()
		st := backlog(b, rp.URL, n)
		b.StartTimer()
		began := time.Now()
		ctx, cancel := context.WithCancel(context.Background())
		f := backchannel.New(backchannel.Config{Store: st, Tokens: jwts, Poll: 5 * time.Millisecond})
		f.Start(ctx)
		for {
			got, err := st.CountLogouts(ctx, store.LogoutDelivered)
			if err != nil {
				b.Fatal(err)
			}
			if got == n {
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
		total += time.Since(began)
		cancel()
		f.Wait()
		b.StopTimer()
		st.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "deliveries/s")
}

// backlog is a SQLite store with n clients of the relying party at uri and
// a pending delivery for each.
func backlog(b *testing.B, uri string, n int) *sqlite.Store {
	path := filepath.Join(b.TempDir(), "tokend.db")
	testserver.MigratedDatabase(b, path)
	st, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	ds := make([]store.LogoutDelivery, n)
	for i := range ds {
		id := fmt.Sprintf("rp%04d", i)
		if err := st.CreateClient(b.Context(), store.Client{ID: id, Name: id, AuthMethod: "none", TokenFormat: "opaque",
			BackchannelLogoutURI: uri, CreatedAt: now, UpdatedAt: now}); err != nil {
			b.Fatal(err)
		}
		ds[i] = store.LogoutDelivery{ClientID: id, SessionID: "s1", Subject: "u1", EventSeq: 1, RevokedAt: now,
			Reason: store.ReasonSessionEnded, NextAttempt: now, CreatedAt: now}
	}
	if err := st.QueueLogouts(b.Context(), "bench", 0, 1, ds); err != nil {
		b.Fatal(err)
	}
	return st
}
