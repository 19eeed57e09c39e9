package metrics_test

import (
	"context"
	"io"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/metrics"
	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/store/sqlite"
)

// scrape returns the exposition text of m.
func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func TestRevocationsCountedByReason(t *testing.T) {
	m := metrics.New()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "t.db"), sqlite.Options{OnCommit: m.Committed})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := metrics.Store{Store: db, M: m}
	now := time.Now()
	for _, id := range []string{"g1", "g2"} {
		g := store.Grant{ID: id, ClientID: "c", Subject: "s", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		tok := store.Token{Hash: store.HashToken(id), Kind: store.AccessToken, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := st.CreateGrant(t.Context(), g, []store.Token{tok}); err != nil {
			t.Fatal(err)
		}
	}
	rev := store.Revocation{Time: now, Reason: store.ReasonClientRequest, Actor: "c"}
	for _, id := range []string{"g1", "g1"} { // the second is a no-op
		if _, err := st.RevokeGrant(t.Context(), id, rev); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.RevokeMatching(t.Context(), store.Filter{Subject: "s"}, store.Revocation{Time: now, Reason: store.ReasonAdmin, Actor: "admin"}); err != nil {
		t.Fatal(err)
	}
	m.ObserveRequest("POST /oauth2/revoke", 200, 3*time.Millisecond)
	// Each route and status counted apart, again after the first time.
	for range 2 {
		m.ObserveRequest("POST /oauth2/introspect", 200, time.Millisecond)
		m.ObserveRequest("POST /oauth2/introspect", 401, time.Millisecond)
	}
	m.ObserveRequest("POST /oauth2/introspect", 200, time.Millisecond)
	m.AuthFailed()

	text := scrape(t, m)
	for _, want := range []string{
		`tokend_revocations_total{reason="client_request"} 1`,
		`tokend_revocations_total{reason="admin"} 1`,
		`tokend_revoked_tokens_total{reason="client_request"} 1`,
		`tokend_http_requests_total{code="200",endpoint="POST /oauth2/revoke"} 1`,
		`tokend_http_requests_total{code="200",endpoint="POST /oauth2/introspect"} 3`,
		`tokend_http_requests_total{code="401",endpoint="POST /oauth2/introspect"} 2`,
		`tokend_http_request_duration_seconds_count{endpoint="POST /oauth2/introspect"} 5`,
		`tokend_client_auth_failures_total 1`,
		`tokend_group_commit_batch_size_count`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// slowStats is a StatsSource whose every count takes a while.
type slowStats struct {
	took  time.Duration
	calls atomic.Int64
}

func (s *slowStats) Stats(ctx context.Context, now time.Time) (store.Stats, error) {
	s.calls.Add(1)
	time.Sleep(s.took)
	return store.Stats{LiveGrants: 3, LiveTokens: 5, LiveSessions: 2}, nil
}

// A count that takes 10 ms is not repeated for a second, whatever the
// interval asked: the gauges may not cost more than 1% of a core.
func TestRefreshLiveWaitsAHundredTimesWhatACountTook(t *testing.T) {
	m := metrics.New()
	src := &slowStats{took: 10 * time.Millisecond}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	m.RefreshLive(ctx, src, time.Millisecond, nil)
	if got := src.calls.Load(); got != 1 {
		t.Errorf("%d counts in 300 ms; want 1 (the next is due 1 s after the first)", got)
	}
	text := scrape(t, m)
	for _, want := range []string{"tokend_live_tokens 5", "tokend_live_grants 3", "tokend_live_sessions 2"} {
		if !strings.Contains(text, want) {
			t.Errorf("live gauge not set: no %q in\n%s", want, text)
		}
	}
}
