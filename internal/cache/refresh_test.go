package cache_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/cache"
	"github.com/tokend/tokend/internal/store"
)

// settable is a clock a test moves.
type settable struct {
	mu  sync.Mutex
	now time.Time
}

func (c *settable) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *settable) set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// facts calls LookupTokenFacts and checks the facts of a refresh token
// of grant grantID of client "app".
func facts(t *testing.T, s store.Store, h store.Hash, grantID string) store.TokenRecord {
	t.Helper()
	r, err := s.LookupTokenFacts(t.Context(), h)
	if err != nil {
		t.Fatalf("LookupTokenFacts: %v", err)
	}
	if r.Hash != h || r.Kind != store.RefreshToken || r.GrantID != grantID || r.ClientID != "app" ||
		r.Subject != "sub-"+grantID || r.Scope != "read" {
		t.Fatalf("LookupTokenFacts = %+v; want refresh token of grant %s", r, grantID)
	}
	return r
}

// TestRefreshFactsFromMemory: the facts of a refresh token issued or
// rotated through the cache are answered from memory, without a read of
// the store, for as long as it may be exchanged: the rotated token's and
// a refused one's are read again (and so are not kept), so is an expired
// one's. The grant's revocation is RotateRefresh's to see, not the
// cache's: the revoked grant's token is still answered from memory, and
// RotateRefresh refuses it.
func TestRefreshFactsFromMemory(t *testing.T) {
	db := &counting{Store: openSQLite(t)}
	clk := &settable{now: now}
	c := cache.New(db, cache.Config{Refreshes: 100, Now: clk.Now})
	_, r1 := grant(t, c, "g1")
	reads := func(want int64, when string) {
		t.Helper()
		if got := db.facts.Load(); got != want {
			t.Fatalf("%s: store reads = %d; want %d", when, got, want)
		}
	}
	for range 3 {
		facts(t, c, r1, "g1")
	}
	reads(0, "a refresh token issued through the cache")

	a2, r2 := store.HashToken("g1/a2"), store.HashToken("g1/r2")
	rot := now.Add(time.Minute)
	if _, err := c.RotateRefresh(t.Context(), r1, rot, []store.Token{
		{Hash: a2, Kind: store.AccessToken, IssuedAt: rot, ExpiresAt: rot.Add(time.Hour)},
		{Hash: r2, Kind: store.RefreshToken, IssuedAt: rot, ExpiresAt: rot.Add(time.Hour)},
	}, store.Revocation{Time: rot, Reason: store.ReasonRefreshReuse, Actor: "app"}); err != nil {
		t.Fatal(err)
	}
	if got := facts(t, c, r2, "g1"); !got.ExpiresAt.Equal(rot.Add(time.Hour)) || !got.IssuedAt.Equal(rot) {
		t.Errorf("the new refresh token's facts: issued %v, expires %v; want %v, %v", got.IssuedAt, got.ExpiresAt, rot, rot.Add(time.Hour))
	}
	reads(0, "the refresh token a rotation through the cache issued")
	if got := facts(t, c, r1, "g1"); !got.Rotated {
		t.Errorf("the rotated token, read from the store: Rotated false")
	}
	facts(t, c, r1, "g1")
	reads(2, "the rotated token (not kept)")

	if _, err := c.RevokeGrant(t.Context(), "g1", store.Revocation{Time: rot, Reason: store.ReasonAdmin, Actor: "admin"}); err != nil {
		t.Fatal(err)
	}
	facts(t, c, r2, "g1")
	reads(2, "the revoked grant's refresh token")
	if _, err := c.RotateRefresh(t.Context(), r2, rot, nil, store.Revocation{Time: rot, Reason: store.ReasonRefreshReuse, Actor: "app"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("RotateRefresh(refresh token of a revoked grant) = %v; want ErrNotFound", err)
	}
	if got := facts(t, c, r2, "g1"); !got.Revoked {
		t.Errorf("the refused token, read from the store: Revoked false")
	}
	reads(3, "the refused token (not kept)")

	_, r3 := grant(t, c, "g3") // expires in 24h
	clk.set(now.Add(24 * time.Hour))
	facts(t, c, r3, "g3")
	reads(4, "an expired refresh token")
}

// TestRefreshFactsAreBounded: no more than Refreshes tokens' facts are
// kept; a token whose facts made room for others' is read again.
func TestRefreshFactsAreBounded(t *testing.T) {
	db := &counting{Store: openSQLite(t)}
	c := cache.New(db, cache.Config{Refreshes: 2})
	var rs []store.Hash
	for _, id := range []string{"g1", "g2", "g3", "g4"} {
		_, r := grant(t, c, id)
		rs = append(rs, r)
	}
	for i, r := range rs {
		facts(t, c, r, []string{"g1", "g2", "g3", "g4"}[i])
	}
	if got := db.facts.Load(); got < 2 {
		t.Errorf("store reads = %d of 4 tokens; want at least 2, with room for 2", got)
	}
}

// TestRefreshFactsOff: with Refreshes 0 every lookup reads the store.
func TestRefreshFactsOff(t *testing.T) {
	db := &counting{Store: openSQLite(t)}
	c := cache.New(db, cache.Config{})
	_, r := grant(t, c, "g1")
	facts(t, c, r, "g1")
	facts(t, c, r, "g1")
	if got := db.facts.Load(); got != 2 {
		t.Errorf("store reads = %d; want 2", got)
	}
}
