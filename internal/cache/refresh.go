package cache

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/tokend/tokend/internal/store"
)

// LookupTokenFacts answers a refresh token's facts from memory (see the
// package documentation), and otherwise reads the store and keeps those
// of a refresh token that may still be exchanged. The record's Rotated
// and Revoked are false when answered from memory: not to be trusted, as
// store.Store.LookupTokenFacts says.
func (s *Store) LookupTokenFacts(ctx context.Context, h store.Hash) (store.TokenRecord, error) {
	now := s.now()
	if r, ok := s.refreshes.get(h, now); ok {
		return r, nil
	}
	r, err := s.Store.LookupTokenFacts(ctx, h)
	if err == nil && !r.Rotated && !r.Revoked {
		s.refreshes.put(r, nil, now)
	}
	return r, err
}

// refreshes holds what never changes of refresh tokens (the facts of
// store.Store.LookupTokenFacts), for the refresh grant: the token's grant,
// issue and expiry, and the grant's client, subject and the rest. Nothing
// invalidates an entry: a rotation or a revocation changes the token's
// state, which is not kept here, and RotateRefresh checks in its own
// transaction. An entry goes when its token is rotated or refused by
// RotateRefresh (it will not be exchanged again), when it expires, or to
// make room. A rotation's new refresh token shares its grant's facts with
// the token it replaces.
type refreshes struct {
	mu      sync.Mutex
	max     int
	byHash  map[store.Hash]refreshEntry
	soonest int64 // at most the earliest expiry of an entry
}

type refreshEntry struct {
	grant               *grantFacts
	issuedAt, expiresAt int64 // unix nanoseconds
}

// grantFacts are the fields of a token's record that come from its grant
// and never change.
type grantFacts struct {
	id, clientID, subject, username, scope string
	sessionID, jkt, parentID, act          string
	audience                               []string
}

func factsOf(r store.TokenRecord) *grantFacts {
	return &grantFacts{
		id: r.GrantID, clientID: r.ClientID, subject: r.Subject, username: r.Username, scope: r.Scope,
		sessionID: r.SessionID, jkt: r.JKT, parentID: r.ParentID, act: r.Act, audience: r.Audience,
	}
}

func newRefreshes(max int) *refreshes {
	return &refreshes{max: max, byHash: make(map[store.Hash]refreshEntry), soonest: math.MaxInt64}
}

// get returns the facts of refresh token h, unless it is unknown here or
// expired at now.
func (c *refreshes) get(h store.Hash, now time.Time) (store.TokenRecord, bool) {
	c.mu.Lock()
	e, ok := c.byHash[h]
	c.mu.Unlock()
	if !ok || now.UnixNano() >= e.expiresAt {
		return store.TokenRecord{}, false
	}
	g := e.grant
	return store.TokenRecord{
		Token: store.Token{
			Hash: h, Kind: store.RefreshToken, GrantID: g.id,
			IssuedAt: time.Unix(0, e.issuedAt), ExpiresAt: time.Unix(0, e.expiresAt),
		},
		ClientID: g.clientID, Subject: g.subject, Username: g.username, Scope: g.scope,
		SessionID: g.sessionID, JKT: g.jkt, ParentID: g.parentID, Act: g.act, Audience: g.audience,
	}, true
}

// put keeps the facts of r, a refresh token of the grant whose facts are
// g (nil: r's own), unless it has expired at now. A token with a jti or a
// status index, which refresh tokens are not given, is not kept: its
// entry would not answer them.
func (c *refreshes) put(r store.TokenRecord, g *grantFacts, now time.Time) {
	if c.max <= 0 || r.Kind != store.RefreshToken || r.JTI != "" || r.StatusIndex != 0 ||
		!now.Before(r.ExpiresAt) {
		return
	}
	if g == nil {
		g = factsOf(r)
	}
	e := refreshEntry{grant: g, issuedAt: r.IssuedAt.UnixNano(), expiresAt: r.ExpiresAt.UnixNano()}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byHash[r.Hash]; !ok && len(c.byHash) >= c.max {
		for h := range c.byHash { // any: a token not refreshed soon is read again when it is
			delete(c.byHash, h)
			break
		}
	}
	c.byHash[r.Hash] = e
	c.soonest = min(c.soonest, e.expiresAt)
}

// rotated replaces refresh token old, rotated with its record rec, by
// the refresh tokens among toks.
func (c *refreshes) rotated(old store.Hash, rec store.TokenRecord, toks []store.Token, now time.Time) {
	c.mu.Lock()
	e, ok := c.byHash[old]
	delete(c.byHash, old)
	c.mu.Unlock()
	g := e.grant
	if !ok || g.id != rec.GrantID {
		g = factsOf(rec)
	}
	for _, t := range toks {
		t.GrantID = rec.GrantID
		t.IssuedAt, t.ExpiresAt = millis(t.IssuedAt), millis(t.ExpiresAt)
		c.put(store.TokenRecord{Token: t}, g, now)
	}
}

// forget drops refresh token h.
func (c *refreshes) forget(h store.Hash) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.byHash, h)
}

// forgetExpired drops the entries expired at now.
func (c *refreshes) forgetExpired(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	at := now.UnixNano()
	if at < c.soonest {
		return
	}
	c.soonest = math.MaxInt64
	for h, e := range c.byHash {
		if at >= e.expiresAt {
			delete(c.byHash, h)
		} else {
			c.soonest = min(c.soonest, e.expiresAt)
		}
	}
}
