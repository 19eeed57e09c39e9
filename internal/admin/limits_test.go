package admin_test

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/admin"
	"github.com/tokend/tokend/internal/identity"
	"github.com/tokend/tokend/internal/scim"
	ts "github.com/tokend/tokend/internal/testserver"
)

// TestConcurrentAdminPasswordGuessesAreLimited: hundreds of wrong
// passwords of an admin user sent at once with HTTP Basic, to SCIM and to
// the admin API; no more than the limit are checked (401), the rest are
// refused (429) before argon2id runs.
func TestConcurrentAdminPasswordGuessesAreLimited(t *testing.T) {
	// Checks as slow as in production, so that guesses sent at once
	// overlap as they would against a real server.
	defer identity.UseProductionHashCost()()
	s := ts.New(t)
	s.User("root", true)
	const n = 250
	var mu sync.Mutex
	statuses := map[int]int{}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			path := []string{scim.PathUsers, admin.PathRevocations}[i%2]
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL+path, nil)
			if err != nil {
				t.Error(err)
				return
			}
			k, v, _ := strings.Cut(ts.Basic("root", "guess-"+strconv.Itoa(i)), ":")
			req.Header.Set(k, strings.TrimSpace(v))
			<-start
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			mu.Lock()
			statuses[resp.StatusCode]++
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	if got := statuses[http.StatusUnauthorized]; got < 1 || got > ts.FailLimit || got+statuses[http.StatusTooManyRequests] != n {
		t.Errorf("answers to %d guesses at once: %v; want at most %d checked (401), the rest 429", n, statuses, ts.FailLimit)
	}

	s.Clock.Advance(61 * time.Second)
	if r := s.Do(http.MethodGet, scim.PathUsers, "", ts.Basic("root", ts.Password)); r.Status != http.StatusOK {
		t.Errorf("the right password after the window: %d %s; want 200", r.Status, r.Body)
	}
}
