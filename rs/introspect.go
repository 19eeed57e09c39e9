package rs

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// introspection is the part of an RFC 7662 §2.2 answer the middleware uses.
type introspection struct {
	Active    bool            `json:"active"`
	Scope     string          `json:"scope"`
	ClientID  string          `json:"client_id"`
	Username  string          `json:"username"`
	TokenType string          `json:"token_type"`
	ExpiresAt int64           `json:"exp"`
	IssuedAt  int64           `json:"iat"`
	NotBefore int64           `json:"nbf"`
	Subject   string          `json:"sub"`
	Audience  json.RawMessage `json:"aud"`
	Issuer    string          `json:"iss"`
	JTI       string          `json:"jti"`
	Cnf       *confirmation   `json:"cnf"`
}

// introCache remembers introspection answers by token hash for a short
// while; the feed deletes the answer of a revoked token.
type introCache struct {
	mu      sync.Mutex
	entries map[[sha256.Size]byte]introEntry
}

type introEntry struct {
	claims *Claims // nil: inactive
	until  time.Time
}

// maxIntroEntries bounds the cache; past it, expired entries go, and if
// that is not enough, all of them.
const maxIntroEntries = 100_000

func (c *introCache) get(h [sha256.Size]byte, now time.Time) (introEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[h]
	if ok && !now.Before(e.until) {
		delete(c.entries, h)
		ok = false
	}
	return e, ok
}

func (c *introCache) put(h [sha256.Size]byte, e introEntry, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxIntroEntries {
		for k, v := range c.entries {
			if !now.Before(v.until) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= maxIntroEntries {
			clear(c.entries)
		}
	}
	c.entries[h] = e
}

func (c *introCache) drop(hs [][sha256.Size]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, h := range hs {
		delete(c.entries, h)
	}
}

// checkOpaque checks a token that is not a JWT by introspection.
func (r *Guard) checkOpaque(ctx context.Context, raw string) (*Claims, error) {
	if !r.cfg.hasCredentials() {
		return nil, invalidToken("the token is not a JWT, and this resource server cannot introspect", nil)
	}
	hash := sha256.Sum256([]byte(raw))
	if r.revoked.has("", hash) {
		return nil, revokedErr()
	}
	active, c, err := r.introspect(ctx, raw, hash)
	if err != nil {
		return nil, err
	}
	if !active {
		return nil, invalidToken("the token is not active", nil)
	}
	return c, nil
}

// introspect asks the introspection endpoint about raw (RFC 7662 §2.1),
// through the cache.
func (r *Guard) introspect(ctx context.Context, raw string, hash [sha256.Size]byte) (bool, *Claims, error) {
	ttl := r.cfg.IntrospectionCacheTTL
	// A cached answer is trusted because the feed drops it when the token
	// is revoked. While the feed is down, nothing would: ask every time.
	trustCache := r.feed == nil || r.feed.healthy()
	if ttl > 0 && trustCache {
		if e, ok := r.intro.get(hash, r.now()); ok {
			return e.claims != nil, e.claims, nil
		}
	}
	u, err := r.endpoint(ctx, r.cfg.IntrospectionURL, func(m *metadata) string { return m.IntrospectionEndpoint }, "introspection_endpoint")
	if err != nil {
		return false, nil, unavailable("the token could not be introspected", err)
	}
	body, err := r.fetch(ctx, "POST", u, "application/json", url.Values{"token": {raw}, "token_type_hint": {"access_token"}}, true, maxJSON)
	if err != nil {
		return false, nil, unavailable("the token could not be introspected", err)
	}
	var in introspection
	if err := json.Unmarshal(body, &in); err != nil {
		return false, nil, unavailable("the introspection answer is not JSON", err)
	}
	now := r.now()
	c := r.introspected(in, now)
	if ttl > 0 {
		until := now.Add(ttl)
		if c != nil && c.ExpiresAt.Before(until) {
			until = c.ExpiresAt
		}
		r.intro.put(hash, introEntry{claims: c, until: until}, now)
		// The feed may have revoked the token while we asked.
		if r.revoked.has("", hash) {
			r.intro.drop([][sha256.Size]byte{hash})
			return false, nil, nil
		}
	}
	return c != nil, c, nil
}

// introspected turns an answer into claims; nil when the token may not be
// accepted: inactive, a refresh token, another issuer's, another
// audience's, or expired.
func (r *Guard) introspected(in introspection, now time.Time) *Claims {
	if !in.Active || strings.EqualFold(in.TokenType, "refresh_token") {
		return nil
	}
	if in.Issuer != "" && strings.TrimSuffix(in.Issuer, "/") != r.cfg.Issuer {
		return nil
	}
	var aud []string
	if len(in.Audience) > 0 {
		var one string
		if json.Unmarshal(in.Audience, &one) == nil {
			aud = []string{one}
		} else {
			_ = json.Unmarshal(in.Audience, &aud)
		}
		if r.cfg.Audience != "" && !slices.Contains(aud, r.cfg.Audience) {
			return nil
		}
	}
	c := &Claims{
		Issuer: r.cfg.Issuer, Subject: in.Subject, Audience: aud, ClientID: in.ClientID,
		Scope: in.Scope, Username: in.Username, JTI: in.JTI, Introspected: true,
		JKT: in.Cnf.jkt(),
	}
	if in.ExpiresAt != 0 {
		c.ExpiresAt = time.Unix(in.ExpiresAt, 0)
		if !now.Before(c.ExpiresAt.Add(r.cfg.Leeway)) {
			return nil
		}
	}
	if in.IssuedAt != 0 {
		c.IssuedAt = time.Unix(in.IssuedAt, 0)
	}
	return c
}
