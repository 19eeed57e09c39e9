package cache

import (
	"math"
	"slices"
	"sync"
	"time"

	"github.com/tokend/tokend/internal/store"
)

// A fill races with invalidation: a reader reads a record, a revocation
// commits and drops it, then the reader caches what it read, now stale.
// So every invalidation advances a generation, a reader notes the
// generation before it reads the store, and its fill is dropped if the
// generation moved meanwhile.

// tokens is the access-token cache. A grant's fields are kept once, shared
// by its tokens, and times as integers: an entry costs about half what a
// store.TokenRecord per token would, which matters because the heap grows
// to several times what is live (GOGC=400).
type tokens struct {
	mu      sync.Mutex
	max     int
	gen     uint64
	byHash  map[store.Hash]cachedToken
	byGrant map[string]*cachedGrant
	// soonest is at most the earliest expiry of a cached token, so that
	// the sweep's many calls find nothing to scan for most of the time.
	soonest int64
}

type cachedToken struct {
	grant       *cachedGrant
	jti         string
	statusIndex int64
	issuedAt    int64 // unix nanoseconds
	expiresAt   int64
	// read is set when the token is answered from the cache, and cleared
	// when eviction finds no unread token among those it looked at (evict).
	read bool
}

type cachedGrant struct {
	id, clientID, subject, username, scope string
	sessionID, jkt                         string
	revoked                                bool
	revokedAt                              int64 // unix nanoseconds
	hashes                                 []store.Hash
}

func newTokens(max int) *tokens {
	return &tokens{
		max:     max,
		byHash:  make(map[store.Hash]cachedToken),
		byGrant: make(map[string]*cachedGrant),
		soonest: math.MaxInt64,
	}
}

func (c *tokens) get(h store.Hash) (store.TokenRecord, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.byHash[h]
	if !ok {
		return store.TokenRecord{}, false
	}
	if !t.read {
		t.read = true
		c.byHash[h] = t
	}
	g := t.grant
	r := store.TokenRecord{
		Token: store.Token{
			Hash: h, Kind: store.AccessToken, GrantID: g.id, JTI: t.jti, StatusIndex: t.statusIndex,
			IssuedAt: time.Unix(0, t.issuedAt), ExpiresAt: time.Unix(0, t.expiresAt),
		},
		ClientID: g.clientID, Subject: g.subject, Username: g.username, Scope: g.scope,
		SessionID: g.sessionID, JKT: g.jkt, Revoked: g.revoked,
	}
	if g.revoked {
		r.RevokedAt = time.Unix(0, g.revokedAt)
	}
	return r, true
}

func (c *tokens) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put caches r, an access token read or written at generation gen. When
// full, a token not read from the cache makes room (evict): a token
// introspected again and again stays, one issued and never asked about
// goes first. Evicting at random would lose a working set near the
// cache's size a little at every fill.
func (c *tokens) put(r store.TokenRecord, gen uint64) {
	// An exchanged grant's tokens are not cached: a revocation cascades
	// to them (store.Grant.ParentID) from grants the revoking call does
	// not name, which the cache could not follow exactly.
	if c.max <= 0 || r.Kind != store.AccessToken || r.Rotated || r.ParentID != "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if _, ok := c.byHash[r.Hash]; ok {
		return // the same record: a cached token changes only by revocation, which drops or marks it
	}
	if len(c.byHash) >= c.max {
		c.evict()
	}
	g := c.byGrant[r.GrantID]
	if g == nil {
		g = &cachedGrant{id: r.GrantID, clientID: r.ClientID, subject: r.Subject, username: r.Username, scope: r.Scope, sessionID: r.SessionID, jkt: r.JKT}
		c.byGrant[r.GrantID] = g
	}
	if r.Revoked && !g.revoked {
		g.revoked, g.revokedAt = true, r.RevokedAt.UnixNano()
	}
	g.hashes = append(g.hashes, r.Hash)
	c.soonest = min(c.soonest, r.ExpiresAt.UnixNano())
	c.byHash[r.Hash] = cachedToken{
		grant: g, jti: r.JTI, statusIndex: r.StatusIndex,
		issuedAt: r.IssuedAt.UnixNano(), expiresAt: r.ExpiresAt.UnixNano(),
	}
}

// evictScan bounds the entries evict looks at for one not read.
const evictScan = 64

// evict removes one token: the first of up to evictScan, from a random
// place, not read since it was cached or since eviction last cleared its
// mark. When all of them were read, their marks are cleared and the first
// goes: the tokens read once long ago lose their place in time.
func (c *tokens) evict() {
	var seen [evictScan]store.Hash
	n := 0
	for h, t := range c.byHash {
		if !t.read {
			c.remove(h, t.grant)
			return
		}
		seen[n] = h
		if n++; n == len(seen) {
			break
		}
	}
	if n == 0 {
		return
	}
	for _, h := range seen[1:n] {
		t := c.byHash[h]
		t.read = false
		c.byHash[h] = t
	}
	c.remove(seen[0], c.byHash[seen[0]].grant)
}

func (c *tokens) remove(h store.Hash, g *cachedGrant) {
	delete(c.byHash, h)
	g.hashes = slices.DeleteFunc(g.hashes, func(x store.Hash) bool { return x == h })
	if len(g.hashes) == 0 {
		delete(c.byGrant, g.id)
	}
}

// revoked marks the cached tokens of the grant revoked at.
func (c *tokens) revoked(grantID string, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if g := c.byGrant[grantID]; g != nil && !g.revoked {
		g.revoked, g.revokedAt = true, at.UnixNano()
	}
}

// forgetGrant drops the cached tokens of the grant.
func (c *tokens) forgetGrant(grantID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if g := c.byGrant[grantID]; g != nil {
		for _, h := range g.hashes {
			delete(c.byHash, h)
		}
		delete(c.byGrant, grantID)
	}
}

// forgetMatching drops the cached tokens of the grants match selects. It
// looks at every cached grant: for revocations that select grants by
// what they are (a session, a user and client), which are not by ID.
func (c *tokens) forgetMatching(match func(*cachedGrant) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for id, g := range c.byGrant {
		if match(g) {
			for _, h := range g.hashes {
				delete(c.byHash, h)
			}
			delete(c.byGrant, id)
		}
	}
}

// forgetExpired drops the cached tokens expired at now.
func (c *tokens) forgetExpired(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	at := now.UnixNano()
	if at < c.soonest {
		return
	}
	c.soonest = math.MaxInt64
	for h, t := range c.byHash {
		if at >= t.expiresAt {
			c.remove(h, t.grant)
		} else {
			c.soonest = min(c.soonest, t.expiresAt)
		}
	}
}

// clear drops every cached token.
func (c *tokens) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.byHash)
	clear(c.byGrant)
	c.soonest = math.MaxInt64
}

// clients is the client cache: each record with the time it was read.
type clients struct {
	mu  sync.Mutex
	max int
	ttl time.Duration
	gen uint64
	m   map[string]clientEntry
}

type clientEntry struct {
	client store.Client
	readAt time.Time
}

func newClients(max int, ttl time.Duration) *clients {
	return &clients{max: max, ttl: ttl, m: make(map[string]clientEntry)}
}

func (c *clients) get(id string, now time.Time) (store.Client, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[id]
	if !ok || now.Sub(e.readAt) >= c.ttl || now.Before(e.readAt) {
		return store.Client{}, false
	}
	return e.client, true
}

func (c *clients) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put caches cl, read at now and at generation gen.
func (c *clients) put(cl store.Client, gen uint64, now time.Time) {
	if c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if _, ok := c.m[cl.ID]; !ok && len(c.m) >= c.max {
		for id := range c.m {
			delete(c.m, id)
			break
		}
	}
	c.m[cl.ID] = clientEntry{client: cl, readAt: now}
}

func (c *clients) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.m, id)
}
