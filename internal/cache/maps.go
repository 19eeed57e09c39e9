package cache

import (
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

// tokens is the access-token cache: records by hash, and the hashes of
// each grant, so that a grant's revocation finds its tokens.
type tokens struct {
	mu      sync.Mutex
	max     int
	gen     uint64
	byHash  map[store.Hash]store.TokenRecord
	byGrant map[string][]store.Hash
}

func newTokens(max int) *tokens {
	return &tokens{
		max:     max,
		byHash:  make(map[store.Hash]store.TokenRecord),
		byGrant: make(map[string][]store.Hash),
	}
}

func (c *tokens) get(h store.Hash) (store.TokenRecord, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.byHash[h]
	return r, ok
}

func (c *tokens) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put caches r, an access token read or written at generation gen. When
// full, an arbitrary entry makes room: Go's map iteration starts at a
// random place, so this evicts at random, which needs no bookkeeping on
// the read path.
func (c *tokens) put(r store.TokenRecord, gen uint64) {
	if c.max <= 0 || r.Kind != store.AccessToken {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if _, ok := c.byHash[r.Hash]; !ok {
		if len(c.byHash) >= c.max {
			for h, old := range c.byHash {
				c.remove(h, old.GrantID)
				break
			}
		}
		c.byGrant[r.GrantID] = append(c.byGrant[r.GrantID], r.Hash)
	}
	c.byHash[r.Hash] = r
}

func (c *tokens) remove(h store.Hash, grantID string) {
	delete(c.byHash, h)
	hs := slices.DeleteFunc(c.byGrant[grantID], func(x store.Hash) bool { return x == h })
	if len(hs) == 0 {
		delete(c.byGrant, grantID)
	} else {
		c.byGrant[grantID] = hs
	}
}

// revoked marks the cached tokens of the grant revoked at.
func (c *tokens) revoked(grantID string, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, h := range c.byGrant[grantID] {
		if r := c.byHash[h]; !r.Revoked {
			r.Revoked, r.RevokedAt = true, at
			c.byHash[h] = r
		}
	}
}

// forgetGrant drops the cached tokens of the grant.
func (c *tokens) forgetGrant(grantID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, h := range c.byGrant[grantID] {
		delete(c.byHash, h)
	}
	delete(c.byGrant, grantID)
}

// forgetExpired drops the cached tokens expired at now.
func (c *tokens) forgetExpired(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for h, r := range c.byHash {
		if !now.Before(r.ExpiresAt) {
			c.remove(h, r.GrantID)
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
