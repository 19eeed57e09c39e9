package cache_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokend/tokend/internal/cache"
	"github.com/tokend/tokend/internal/store"
	"github.com/tokend/tokend/internal/store/sqlite"
	"github.com/tokend/tokend/internal/store/storetest"
	"github.com/tokend/tokend/internal/testserver"
)

// The decorator must keep every promise of a store: the conformance suite
// runs through it, with caches large enough to hold everything it writes.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return cache.New(openSQLite(t), cache.Config{Tokens: 1 << 16, Refreshes: 1 << 16, Clients: 1 << 10, ClientTTL: time.Hour})
	})
}

func openSQLite(t *testing.T) *sqlite.Store {
	t.Helper()
	// A copy of a database migrated once: the migrations are most of
	// what opening a new store costs, and the suite opens one per case.
	path := filepath.Join(t.TempDir(), "tokend.db")
	testserver.MigratedDatabase(t, path)
	s, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var now = time.Now().Truncate(time.Millisecond)

// grant stores a grant of client "app" with an access and a refresh token
// through s, and returns their hashes.
func grant(t *testing.T, s store.Store, id string) (access, refresh store.Hash) {
	t.Helper()
	access, refresh = store.HashToken(id+"/a"), store.HashToken(id+"/r")
	err := s.CreateGrant(t.Context(), store.Grant{
		ID: id, ClientID: "app", Subject: "sub-" + id, Scope: "read", CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour),
	}, []store.Token{
		{Hash: access, Kind: store.AccessToken, IssuedAt: now, ExpiresAt: now.Add(time.Hour)},
		{Hash: refresh, Kind: store.RefreshToken, IssuedAt: now, ExpiresAt: now.Add(24 * time.Hour)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return access, refresh
}

func createApp(t *testing.T, s store.Store) {
	t.Helper()
	if err := s.CreateClient(t.Context(), store.Client{ID: "app", SecretHash: "sha256$x", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
}

func lookup(t *testing.T, s store.Store, h store.Hash) store.TokenRecord {
	t.Helper()
	r, err := s.LookupToken(t.Context(), h)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// counting counts the token lookups that reach the store.
type counting struct {
	store.Store
	lookups, facts atomic.Int64
}

func (c *counting) LookupToken(ctx context.Context, h store.Hash) (store.TokenRecord, error) {
	c.lookups.Add(1)
	return c.Store.LookupToken(ctx, h)
}

func (c *counting) LookupTokenFacts(ctx context.Context, h store.Hash) (store.TokenRecord, error) {
	c.facts.Add(1)
	return c.Store.LookupTokenFacts(ctx, h)
}

func TestAccessTokensAreServedFromMemoryRefreshTokensNot(t *testing.T) {
	db := &counting{Store: openSQLite(t)}
	c := cache.New(db, cache.Config{Tokens: 100})
	createApp(t, c)
	a, r := grant(t, c, "g1")
	for range 3 {
		if rec := lookup(t, c, a); !rec.Active(now) || rec.ClientID != "app" || rec.Scope != "read" || rec.GrantID != "g1" {
			t.Fatalf("cached access token: %+v", rec)
		}
		lookup(t, c, r)
	}
	if got := db.lookups.Load(); got != 3 {
		t.Errorf("store lookups = %d; want 3 (the refresh token's only: the access token was cached at its issuance)", got)
	}
}

func TestOwnRevocationIsSeenAtOnce(t *testing.T) {
	c := cache.New(openSQLite(t), cache.Config{Tokens: 100})
	createApp(t, c)
	a, _ := grant(t, c, "g1")
	lookup(t, c, a)
	if _, err := c.RevokeGrant(t.Context(), "g1", store.Revocation{Time: now, Reason: store.ReasonClientRequest, Actor: "app"}); err != nil {
		t.Fatal(err)
	}
	if rec := lookup(t, c, a); !rec.Revoked || rec.Active(now) {
		t.Errorf("after RevokeGrant: %+v; want revoked", rec)
	}
}

// revokeCounting counts the RevokeToken calls that reach the store.
type revokeCounting struct {
	store.Store
	calls atomic.Int64
}

func (c *revokeCounting) RevokeToken(ctx context.Context, h store.Hash, kind store.TokenKind, clientID string, rev store.Revocation) (store.TokenRecord, store.RevokeResult, error) {
	c.calls.Add(1)
	return c.Store.RevokeToken(ctx, h, kind, clientID, rev)
}

// Revoking by the refresh token revokes the cached access token of its
// grant at once; after that, and for another client, the cache answers
// without a write.
func TestRevokeTokenThroughTheCache(t *testing.T) {
	db := &revokeCounting{Store: openSQLite(t)}
	c := cache.New(db, cache.Config{Tokens: 100})
	createApp(t, c)
	a, r := grant(t, c, "g1")
	rev := store.Revocation{Time: now, Reason: store.ReasonClientRequest, Actor: "app"}

	rec, res, err := c.RevokeToken(t.Context(), a, store.AccessToken, "other", rev)
	if err != nil || rec.ClientID != "app" || res.Grants != 0 {
		t.Fatalf("RevokeToken as another client = %+v, %+v, %v; want app's record, nothing revoked", rec, res, err)
	}
	if got := db.calls.Load(); got != 0 {
		t.Errorf("another client's cached token reached the store %d times; want 0", got)
	}
	if rec := lookup(t, c, a); rec.Revoked {
		t.Fatalf("revoked by another client: %+v", rec)
	}

	if _, res, err := c.RevokeToken(t.Context(), r, store.RefreshToken, "app", rev); err != nil || res.Grants != 1 {
		t.Fatalf("RevokeToken(refresh) = %+v, %v; want the grant revoked", res, err)
	}
	if rec := lookup(t, c, a); !rec.Revoked || rec.Active(now) {
		t.Errorf("access token after its refresh token's revocation: %+v; want revoked", rec)
	}

	calls := db.calls.Load()
	rec, res, err = c.RevokeToken(t.Context(), a, store.AccessToken, "app", rev)
	if err != nil || !rec.Revoked || res.Grants != 0 {
		t.Errorf("RevokeToken of a revoked token = %+v, %+v, %v; want it revoked already", rec, res, err)
	}
	if got := db.calls.Load() - calls; got != 0 {
		t.Errorf("a cached revoked token reached the store %d times; want 0", got)
	}
}

// A token revoked through the cache is kept there, revoked, though it was
// not cached before: its resource servers ask about it next.
func TestRevokedTokenIsCached(t *testing.T) {
	db := &counting{Store: openSQLite(t)}
	createApp(t, db)
	a, _ := grant(t, db, "g1") // stored behind the cache's back: not cached
	c := cache.New(db, cache.Config{Tokens: 100})
	rev := store.Revocation{Time: now, Reason: store.ReasonClientRequest, Actor: "app"}
	if _, res, err := c.RevokeToken(t.Context(), a, store.AccessToken, "app", rev); err != nil || res.Grants != 1 {
		t.Fatalf("RevokeToken = %+v, %v", res, err)
	}
	lookups := db.lookups.Load()
	if rec := lookup(t, c, a); !rec.Revoked || !rec.RevokedAt.Equal(now) {
		t.Errorf("after RevokeToken: %+v; want revoked at %v", rec, now)
	}
	if got := db.lookups.Load() - lookups; got != 0 {
		t.Errorf("the revoked token was read from the store %d times; want 0", got)
	}
}

// Another process revokes in the database: the cache answers the old record
// until the log's events are applied, and reads the store whenever the log
// is not current.
func TestOtherProcessRevocation(t *testing.T) {
	db := openSQLite(t)
	var current atomic.Bool
	current.Store(true)
	c := cache.New(db, cache.Config{Tokens: 100, Current: current.Load})
	createApp(t, c)
	a1, _ := grant(t, c, "g1")
	a2, _ := grant(t, c, "g2")
	for _, g := range []string{"g1", "g2"} {
		if _, err := db.RevokeGrant(t.Context(), g, store.Revocation{Time: now, Reason: store.ReasonAdmin, Actor: "admin"}); err != nil {
			t.Fatal(err)
		}
	}
	if lookup(t, c, a1).Revoked || lookup(t, c, a2).Revoked {
		t.Fatal("the cache read the store although the log is current; this test needs it to answer from memory")
	}
	current.Store(false)
	if rec := lookup(t, c, a2); !rec.Revoked {
		t.Error("log not current: the cache answered from memory, not the store")
	}
	current.Store(true)
	evs, err := db.Events(t.Context(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	c.Apply(evs)
	if rec := lookup(t, c, a1); !rec.Revoked {
		t.Error("after Apply: the token is still active")
	}
}

// racing lets a test revoke between the store's answer to a lookup and the
// moment the cache keeps it.
type racing struct {
	store.Store
	after func()
}

func (r *racing) LookupToken(ctx context.Context, h store.Hash) (store.TokenRecord, error) {
	rec, err := r.Store.LookupToken(ctx, h)
	if r.after != nil {
		f := r.after
		r.after = nil
		f()
	}
	return rec, err
}

func TestFillRacingARevocationIsDropped(t *testing.T) {
	db := &racing{Store: openSQLite(t)}
	c := cache.New(db, cache.Config{Tokens: 100})
	createApp(t, c)
	// Issued by another process: not in the cache.
	a, _ := grant(t, db.Store, "g1")
	db.after = func() {
		if _, err := c.RevokeGrant(t.Context(), "g1", store.Revocation{Time: now, Reason: store.ReasonClientRequest, Actor: "app"}); err != nil {
			t.Error(err)
		}
	}
	if rec := lookup(t, c, a); rec.Revoked {
		t.Fatal("the racing lookup should return what it read before the revocation")
	}
	if rec := lookup(t, c, a); !rec.Revoked {
		t.Error("a lookup that raced a revocation left its stale record in the cache")
	}
}

func TestRefreshReuseDropsTheGrantsAccessTokens(t *testing.T) {
	c := cache.New(openSQLite(t), cache.Config{Tokens: 100})
	createApp(t, c)
	a, r := grant(t, c, "g1")
	next := []store.Token{
		{Hash: store.HashToken("g1/a2"), Kind: store.AccessToken, IssuedAt: now, ExpiresAt: now.Add(time.Hour)},
		{Hash: store.HashToken("g1/r2"), Kind: store.RefreshToken, IssuedAt: now, ExpiresAt: now.Add(24 * time.Hour)},
	}
	reuse := store.Revocation{Time: now, Reason: store.ReasonRefreshReuse, Actor: "app"}
	if _, err := c.RotateRefresh(t.Context(), r, now, next, reuse); err != nil {
		t.Fatal(err)
	}
	lookup(t, c, a)
	if _, err := c.RotateRefresh(t.Context(), r, now, nil, reuse); !errors.Is(err, store.ErrRefreshReused) {
		t.Fatalf("replay: %v; want ErrRefreshReused", err)
	}
	if rec := lookup(t, c, a); !rec.Revoked {
		t.Error("after a refresh token's reuse, the grant's access token is still active in the cache")
	}
}

func TestTheTokenCacheIsBounded(t *testing.T) {
	db := &counting{Store: openSQLite(t)}
	c := cache.New(db, cache.Config{Tokens: 10})
	createApp(t, c)
	var hashes []store.Hash
	for i := range 50 {
		a, _ := grant(t, c, fmt.Sprint("g", i))
		hashes = append(hashes, a)
	}
	for i, h := range hashes {
		if rec := lookup(t, c, h); rec.GrantID != fmt.Sprint("g", i) || !rec.Active(now) {
			t.Fatalf("token %d: %+v", i, rec)
		}
	}
	// At most 10 of the 50 can have been answered from memory.
	if got := db.lookups.Load(); got < 40 {
		t.Errorf("store lookups = %d; want at least 40 with room for 10 tokens", got)
	}
}

// A full cache makes room with the tokens nobody asked about, not with
// those being introspected: after 200 new tokens push into a cache of 400
// whose first 200 are being read, most of those 200 are still answered from
// memory. Evicting at random, about e^-½ (61 %) would be.
func TestEvictionKeepsTheTokensBeingRead(t *testing.T) {
	db := &counting{Store: openSQLite(t)}
	const size = 400
	c := cache.New(db, cache.Config{Tokens: size})
	createApp(t, c)
	var hot []store.Hash
	for i := range size {
		a, _ := grant(t, c, fmt.Sprint("g", i))
		if i < size/2 {
			hot = append(hot, a)
		}
	}
	for _, h := range hot {
		lookup(t, c, h)
	}
	if got := db.lookups.Load(); got != 0 {
		t.Fatalf("store lookups = %d before any eviction; want 0", got)
	}
	for i := range size / 2 {
		grant(t, c, fmt.Sprint("new", i))
	}
	for _, h := range hot {
		lookup(t, c, h)
	}
	if got := db.lookups.Load(); got > size/2/10 {
		t.Errorf("%d of the %d tokens being read were evicted; want at most a tenth", got, size/2)
	}
}

func TestClientsAreTrustedForTheirTTL(t *testing.T) {
	db := openSQLite(t)
	clock := now
	c := cache.New(db, cache.Config{Clients: 10, ClientTTL: time.Second, Now: func() time.Time { return clock }})
	createApp(t, c)
	get := func() store.Client {
		t.Helper()
		cl, err := c.GetClient(t.Context(), "app")
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	disable := func(s store.Store, on bool) {
		t.Helper()
		_, err := s.UpdateClient(t.Context(), "app", func(cl store.Client) (store.Client, error) { cl.Disabled = on; return cl, nil }, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	get()
	disable(db, true) // another process
	if get().Disabled {
		t.Fatal("the client was read again within its TTL; this test needs it cached")
	}
	clock = clock.Add(time.Second)
	if !get().Disabled {
		t.Error("past its TTL the client was not read again")
	}
	disable(c, false) // this process
	if get().Disabled {
		t.Error("this process's own change to the client was not seen at once")
	}
}
