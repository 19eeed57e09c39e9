package oauth_test

import (
	"net/http"
	"testing"

	"github.com/tokend/tokend/internal/cache"
	"github.com/tokend/tokend/internal/oauth"
	"github.com/tokend/tokend/internal/oautherr"
	"github.com/tokend/tokend/internal/store"
)

// TestRefreshFromCachedFacts: with the cache in front of the store, as
// tokend serves, a chain of refreshes reads no token from the store: the
// refresh grant takes the grant's facts of the token from memory, kept at
// the token's issuance. Reuse and revocation stay exact, being
// RotateRefresh's: the revoked grant's current refresh token, whose facts
// are in memory, is refused, and a reused token revokes its grant.
func TestRefreshFromCachedFacts(t *testing.T) {
	counter := &countingStore{}
	h := newHarness(t, func(c *oauth.Config) {
		counter.Store = c.Store
		c.Store = cache.New(counter, cache.Config{Tokens: 100, Refreshes: 100})
	})
	id, secret := h.client(confidential("web"))
	refresh := "grant_type=refresh_token&refresh_token="

	chain := []tokens{h.passwordTokens(id, secret, "rita")}
	for range 3 {
		chain = append(chain, h.token(id, secret, refresh+chain[len(chain)-1].Refresh))
	}
	if n, m := counter.facts.Load(), counter.lookups.Load(); n != 0 || m != 0 {
		t.Errorf("3 refreshes read the store %d times for facts, %d for records; want 0", n, m)
	}
	last := chain[len(chain)-1]
	if got := h.record(last.Access); got.GrantID != h.record(chain[0].Access).GrantID || got.Subject != h.record(chain[0].Access).Subject {
		t.Errorf("the chain's last access token is of grant %s, subject %s; want the first's", got.GrantID, got.Subject)
	}

	// The grant revoked (by its access token): its current refresh token,
	// whose facts are in memory, is refused.
	if r := h.post(oauth.PathRevoke, "token="+last.Access, basic(id, secret)); r.status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	facts := counter.facts.Load()
	r := h.post(oauth.PathToken, refresh+last.Refresh, basic(id, secret))
	checkOAuthError(t, r, http.StatusBadRequest, oautherr.CodeInvalidGrant)
	if n := counter.facts.Load() - facts; n != 0 {
		t.Errorf("the revoked grant's refresh token read the store %d times; want 0 (its facts in memory)", n)
	}

	// Reuse of a rotated token revokes its grant.
	second := []tokens{h.passwordTokens(id, secret, "sam")}
	second = append(second, h.token(id, secret, refresh+second[0].Refresh))
	r = h.post(oauth.PathToken, refresh+second[0].Refresh, basic(id, secret))
	checkOAuthError(t, r, http.StatusBadRequest, oautherr.CodeInvalidGrant)
	for _, tok := range []string{second[1].Access, second[1].Refresh} {
		if h.active(tok) {
			t.Error("a token of the grant is active after its refresh token's reuse")
		}
	}
	evs, err := h.store.Events(t.Context(), 0, 10)
	if err != nil || len(evs) != 2 || evs[1].Reason != store.ReasonRefreshReuse {
		t.Errorf("events %+v (%v); want a revocation, then a refresh_reuse", evs, err)
	}
}
